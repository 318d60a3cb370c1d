import { describe, expect, it } from "vitest";
import type { Span } from "../src/api/telemetry";
import {
  allCollapsed,
  barExtent,
  buildTree,
  collapsedBelow,
  criticalPath,
  findSpans,
  firstMatchFrom,
  noneCollapsed,
  reveal,
  selfTime,
  stepMatch,
  tickStep,
  ticks,
  visibleRows,
} from "../src/waterfall";

function span(id: string, parent: string, start: number, end: number, extra: Partial<Span> = {}): Span {
  return {
    span_id: id,
    parent_span_id: parent,
    name: `op ${id}`,
    kind: "internal",
    service: "svc",
    start_unix_nano: start,
    end_unix_nano: end,
    status: { code: "unset", message: "" },
    attributes: {},
    events: [],
    links: [],
    scope: { name: "test" },
    flags: 0,
    ...extra,
  };
}

/** Span ids in the order of the given span indices. */
const ids = (tree: { spans: Span[] }, indices: ArrayLike<number>) => Array.from(indices, (i) => tree.spans[i].span_id);

//   a (0-100)
//   ├─ b (10-40)
//   │  └─ d (15-30)
//   └─ c (50-90, error, service pay)
//   x (orphan: parent "gone")
const sample = () => [
  span("a", "", 0, 100),
  span("b", "a", 10, 40),
  span("d", "b", 15, 30, { attributes: { "http.route": "/cart", code: 500 } }),
  span("c", "a", 50, 90, { status: { code: "error", message: "card declined" }, service: "pay" }),
  span("x", "gone", 60, 70),
];

describe("buildTree", () => {
  it("orders depth-first with children by start, and counts", () => {
    const t = buildTree(sample());
    expect(ids(t, t.order)).toEqual(["a", "b", "d", "c", "x"]);
    expect(Array.from(t.depth)).toEqual([0, 1, 2, 1, 0]);
    expect(Array.from(t.descendants)).toEqual([3, 1, 0, 0, 0]);
    expect(Array.from(t.childCount)).toEqual([2, 1, 0, 0, 0]);
    expect(t.errorCount).toBe(1);
    expect(t.error[3]).toBe(1);
    expect(t.services).toEqual(["svc", "pay"]);
    expect(t.start).toBe(0);
    expect(t.end).toBe(100);
    expect(t.maxDepth).toBe(2);
  });

  it("makes a span whose parent is not in the trace a root, marked orphan", () => {
    const t = buildTree(sample());
    expect(ids(t, t.roots)).toEqual(["a", "x"]);
    expect(t.orphan[4]).toBe(1);
    expect(t.orphan[0]).toBe(0);
    expect(t.parent[4]).toBe(-1);
  });

  it("lists children by start time even when the spans come unsorted", () => {
    const t = buildTree([span("c2", "r", 30, 40), span("r", "", 0, 50), span("c1", "r", 5, 10)]);
    expect(ids(t, t.order)).toEqual(["r", "c1", "c2"]);
  });

  it("breaks a parent cycle instead of losing its spans", () => {
    const t = buildTree([span("root", "", 0, 10), span("p", "q", 1, 5), span("q", "p", 2, 4)]);
    expect(t.order.length).toBe(3);
    expect(new Set(ids(t, t.order))).toEqual(new Set(["root", "p", "q"]));
    expect(ids(t, t.roots)).toEqual(["root", "p"]);
    expect(t.depth[2]).toBe(1);
  });

  it("handles a 100,000-span chain without recursion", () => {
    const n = 100_000;
    const spans = Array.from({ length: n }, (_, i) => span(`s${i}`, i ? `s${i - 1}` : "", i, 2 * n - i));
    const t = buildTree(spans);
    expect(t.depth[n - 1]).toBe(n - 1);
    expect(t.descendants[0]).toBe(n - 1);
    expect(visibleRows(t, noneCollapsed(t)).length).toBe(n);
    const c = noneCollapsed(t);
    c[10] = 1;
    expect(visibleRows(t, c).length).toBe(11);
    expect(criticalPath(t).reduce((a, b) => a + b, 0)).toBe(n);
    expect(selfTime(t, 0)).toBe(2);
  });

  it("reads an empty trace", () => {
    const t = buildTree([]);
    expect(t.order.length).toBe(0);
    expect(t.end - t.start).toBe(0);
    expect(visibleRows(t, noneCollapsed(t)).length).toBe(0);
  });
});

describe("visibleRows and collapsing", () => {
  it("skips the subtrees of collapsed spans", () => {
    const t = buildTree(sample());
    const c = noneCollapsed(t);
    c[1] = 1; // b
    expect(ids(t, visibleRows(t, c))).toEqual(["a", "b", "c", "x"]);
    c[0] = 1; // a
    expect(ids(t, visibleRows(t, c))).toEqual(["a", "x"]);
  });

  it("collapses everything with children, or below a depth", () => {
    const t = buildTree(sample());
    expect(ids(t, visibleRows(t, allCollapsed(t)))).toEqual(["a", "x"]);
    expect(ids(t, visibleRows(t, collapsedBelow(t, 1)))).toEqual(["a", "b", "c", "x"]);
  });

  it("reuses the buffer it is given", () => {
    const t = buildTree(sample());
    const buffer = new Int32Array(5);
    const rows = visibleRows(t, noneCollapsed(t), buffer);
    expect(rows.buffer).toBe(buffer.buffer);
  });

  it("reveals a span by expanding its collapsed ancestors", () => {
    const t = buildTree(sample());
    const c = allCollapsed(t);
    expect(reveal(t, c, [2])).toBe(true); // d
    expect(ids(t, visibleRows(t, c))).toEqual(["a", "b", "d", "c", "x"]);
    expect(reveal(t, c, [2])).toBe(false);
  });
});

describe("search in a trace", () => {
  it("matches names, services, attributes and status, in depth-first order", () => {
    const t = buildTree(sample());
    expect(ids(t, findSpans(t, "op"))).toEqual(["a", "b", "d", "c", "x"]);
    expect(ids(t, findSpans(t, "PAY"))).toEqual(["c"]);
    expect(ids(t, findSpans(t, "/cart"))).toEqual(["d"]);
    expect(ids(t, findSpans(t, "code=500"))).toEqual(["d"]);
    expect(ids(t, findSpans(t, "declined"))).toEqual(["c"]);
    expect(ids(t, findSpans(t, "error"))).toEqual(["c"]);
  });

  it("needs every word to match, and finds nothing for an empty query", () => {
    const t = buildTree(sample());
    expect(ids(t, findSpans(t, "op pay"))).toEqual(["c"]);
    expect(ids(t, findSpans(t, "pay cart"))).toEqual([]);
    expect(findSpans(t, "   ").length).toBe(0);
  });

  it("steps through matches with wrap-around", () => {
    expect(stepMatch(3, -1, true)).toBe(0);
    expect(stepMatch(3, -1, false)).toBe(2);
    expect(stepMatch(3, 2, true)).toBe(0);
    expect(stepMatch(3, 0, false)).toBe(2);
    expect(stepMatch(0, 0, true)).toBe(-1);
  });

  it("starts from the first match at or after the cursor", () => {
    const t = buildTree(sample());
    const matches = findSpans(t, "op"); // a b d c x
    expect(firstMatchFrom(t, matches, 3)).toBe(3); // c
    expect(firstMatchFrom(t, matches, -1)).toBe(0);
    const onlyB = findSpans(t, "op b");
    expect(firstMatchFrom(t, onlyB, 3)).toBe(0); // wraps to the start
  });
});

describe("time", () => {
  it("places bars as fractions of the trace", () => {
    const t = buildTree(sample());
    expect(barExtent(t, t.spans[1])).toEqual({ left: 0.1, width: 0.3 });
    expect(barExtent(t, t.spans[0])).toEqual({ left: 0, width: 1 });
  });

  it("picks round tick steps", () => {
    expect(tickStep(10_000_000_000, 5)).toBe(2_000_000_000);
    expect(tickStep(7_300_000, 5)).toBe(2_000_000);
    expect(tickStep(1_000, 5)).toBe(200);
    expect(ticks(1_000, 5)).toEqual([0, 200, 400, 600, 800, 1000]);
    expect(ticks(0)).toEqual([0]);
  });

  it("computes self time with overlapping and overhanging children", () => {
    const t = buildTree([span("p", "", 0, 100), span("c1", "p", 10, 50), span("c2", "p", 40, 60), span("c3", "p", 90, 150)]);
    // Covered: 10-60 and 90-100 → 60 of 100.
    expect(selfTime(t, 0)).toBe(40);
    expect(selfTime(t, 1)).toBe(40);
  });

  it("follows the critical path back from the end", () => {
    // root 0-100: fast 0-20, slow 10-80 (with inner 30-75), tail 85-100
    const t = buildTree([
      span("root", "", 0, 100),
      span("fast", "root", 0, 20),
      span("slow", "root", 10, 80),
      span("inner", "slow", 30, 75),
      span("tail", "root", 85, 100),
    ]);
    const on = criticalPath(t);
    const path = t.spans.filter((_, i) => on[i]).map((s) => s.span_id);
    // tail ends last; before it started (85), slow; before slow started (10), fast.
    expect(path.sort()).toEqual(["fast", "inner", "root", "slow", "tail"].sort());
    const t2 = buildTree([span("root", "", 0, 100), span("a", "root", 0, 90), span("b", "root", 10, 50)]);
    const on2 = criticalPath(t2);
    expect(on2[2]).toBe(0); // b is hidden behind a
  });
});
