// A trace as a waterfall, without the DOM: the span tree in flat typed arrays, the rows
// that show given the collapsed subtrees, the search inside a trace, the time axis,
// self time and the critical path. Everything is iterative and linear (bar one sort
// per parent for the critical path), so a 100,000-span chain neither overflows the
// stack nor stalls the window.

import type { Span } from "./api/telemetry";

export interface SpanTree {
  spans: Span[];
  /** Span index → index of its parent, -1 for a root (and for an orphan). */
  parent: Int32Array;
  /** Depth-first order (children by start time): position → span index. */
  order: Int32Array;
  /** Span index → its position in `order`. */
  position: Int32Array;
  /** Span index → depth (roots 0). */
  depth: Int32Array;
  /** Span index → number of descendants. */
  descendants: Int32Array;
  /** Span index → number of direct children. */
  childCount: Int32Array;
  /** Span index → 1 when its status is ERROR. */
  error: Uint8Array;
  /** Span index → 1 when its parent id names a span that is not in the trace. */
  orphan: Uint8Array;
  /** Span index → index into `services`. */
  serviceIndex: Int32Array;
  services: string[];
  /** Span ids → span index. */
  index: Map<string, number>;
  roots: number[];
  /** Start and end of the whole trace, Unix ns. */
  start: number;
  end: number;
  errorCount: number;
  maxDepth: number;
}

/** Builds the tree: O(n), plus a sort only when the spans are not in start order. */
export function buildTree(spans: Span[]): SpanTree {
  const n = spans.length;
  const index = new Map<string, number>();
  for (let i = 0; i < n; i++) if (!index.has(spans[i].span_id)) index.set(spans[i].span_id, i);

  // Children are listed in start order: walk the spans sorted by start.
  let byStart: ArrayLike<number> | null = null;
  for (let i = 1; i < n; i++)
    if (spans[i].start_unix_nano < spans[i - 1].start_unix_nano) {
      const sorted = Array.from({ length: n }, (_, k) => k);
      sorted.sort((a, b) => spans[a].start_unix_nano - spans[b].start_unix_nano || a - b);
      byStart = sorted;
      break;
    }

  const parent = new Int32Array(n).fill(-1);
  const orphan = new Uint8Array(n);
  const firstChild = new Int32Array(n).fill(-1);
  const lastChild = new Int32Array(n).fill(-1);
  const nextSibling = new Int32Array(n).fill(-1);
  const childCount = new Int32Array(n);
  const error = new Uint8Array(n);
  const serviceIndex = new Int32Array(n);
  const services: string[] = [];
  const serviceIds = new Map<string, number>();
  const roots: number[] = [];
  let start = Infinity;
  let end = -Infinity;
  let errorCount = 0;

  for (let k = 0; k < n; k++) {
    const i = byStart ? byStart[k] : k;
    const span = spans[i];
    if (span.start_unix_nano < start) start = span.start_unix_nano;
    if (span.end_unix_nano > end) end = span.end_unix_nano;
    if (span.status?.code === "error") {
      error[i] = 1;
      errorCount++;
    }
    let s = serviceIds.get(span.service);
    if (s === undefined) {
      s = services.length;
      services.push(span.service);
      serviceIds.set(span.service, s);
    }
    serviceIndex[i] = s;
    const p = span.parent_span_id ? index.get(span.parent_span_id) : undefined;
    if (p === undefined || p === i) {
      if (span.parent_span_id && p === undefined) orphan[i] = 1;
      roots.push(i);
      continue;
    }
    parent[i] = p;
    childCount[p]++;
    if (lastChild[p] < 0) firstChild[p] = i;
    else nextSibling[lastChild[p]] = i;
    lastChild[p] = i;
  }
  if (n === 0) start = end = 0;

  // Depth-first order with an explicit stack. Spans caught in a parent cycle are never
  // reached from a root: each such cycle is broken at its earliest span, made a root.
  const order = new Int32Array(n);
  const position = new Int32Array(n).fill(-1);
  const depth = new Int32Array(n);
  const descendants = new Int32Array(n);
  const stack = new Int32Array(n);
  let placed = 0;
  let maxDepth = 0;
  const walk = (root: number) => {
    let top = 0;
    stack[top++] = root;
    depth[root] = 0;
    while (top > 0) {
      const i = stack[--top];
      position[i] = placed;
      order[placed++] = i;
      if (depth[i] > maxDepth) maxDepth = depth[i];
      // Push children in reverse so the earliest is visited first.
      let count = 0;
      for (let c = firstChild[i]; c >= 0; c = nextSibling[c]) count++;
      let at = top + count;
      top = at;
      for (let c = firstChild[i]; c >= 0; c = nextSibling[c]) {
        stack[--at] = c;
        depth[c] = depth[i] + 1;
      }
    }
  };
  for (const r of roots) walk(r);
  if (placed < n) {
    for (let k = 0; k < n && placed < n; k++) {
      const i = byStart ? byStart[k] : k;
      if (position[i] >= 0) continue;
      // Detach from the cycle and walk it as a root.
      const p = parent[i];
      if (p >= 0) {
        childCount[p]--;
        if (firstChild[p] === i) firstChild[p] = nextSibling[i];
        else for (let c = firstChild[p]; c >= 0; c = nextSibling[c]) if (nextSibling[c] === i) nextSibling[c] = nextSibling[i];
        nextSibling[i] = -1;
      }
      parent[i] = -1;
      orphan[i] = 1;
      roots.push(i);
      walk(i);
    }
  }
  // Subtree sizes: children come after their parent in `order`, so walk it backwards.
  for (let pos = n - 1; pos >= 0; pos--) {
    const i = order[pos];
    const p = parent[i];
    if (p >= 0) descendants[p] += descendants[i] + 1;
  }

  return { spans, parent, order, position, depth, descendants, childCount, error, orphan, serviceIndex, services, index, roots, start, end, errorCount, maxDepth };
}

/** Span index → collapsed flag. */
export type Collapsed = Uint8Array;

export function noneCollapsed(tree: SpanTree): Collapsed {
  return new Uint8Array(tree.spans.length);
}

/** Every span with children collapsed: only the roots show. */
export function allCollapsed(tree: SpanTree): Collapsed {
  const c = new Uint8Array(tree.spans.length);
  for (let i = 0; i < c.length; i++) if (tree.childCount[i] > 0) c[i] = 1;
  return c;
}

/** Spans deeper than `depth` folded away: their ancestors at `depth` collapsed. */
export function collapsedBelow(tree: SpanTree, depth: number): Collapsed {
  const c = new Uint8Array(tree.spans.length);
  for (let i = 0; i < c.length; i++) if (tree.depth[i] >= depth && tree.childCount[i] > 0) c[i] = 1;
  return c;
}

/**
 * The span indices that show, top to bottom: depth-first, skipping the subtrees of
 * collapsed spans. One pass over the shown rows; `into` is reused when big enough.
 */
export function visibleRows(tree: SpanTree, collapsed: Collapsed, into?: Int32Array): Int32Array {
  const n = tree.spans.length;
  const out = into && into.length >= n ? into : new Int32Array(n);
  let count = 0;
  for (let pos = 0; pos < n; ) {
    const i = tree.order[pos];
    out[count++] = i;
    pos += collapsed[i] ? tree.descendants[i] + 1 : 1;
  }
  return out.subarray(0, count);
}

/** Row number of a span among `rows`, or -1 (a linear scan over the shown rows). */
export function rowOf(rows: Int32Array, span: number): number {
  return rows.indexOf(span);
}

/** Clears the collapsed flag on every ancestor of the given spans; true when any changed. */
export function reveal(tree: SpanTree, collapsed: Collapsed, spans: ArrayLike<number>): boolean {
  let changed = false;
  // Stop at an ancestor already walked from another span: linear over all spans.
  const seen = new Uint8Array(tree.spans.length);
  for (let k = 0; k < spans.length; k++) {
    for (let p = tree.parent[spans[k]]; p >= 0 && !seen[p]; p = tree.parent[p]) {
      seen[p] = 1;
      if (collapsed[p]) {
        collapsed[p] = 0;
        changed = true;
      }
    }
  }
  return changed;
}

// ---- search inside a trace -------------------------------------------------------

function valueText(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** Everything a search in the trace looks at for one span, lower case. */
export function spanSearchText(span: Span): string {
  let text = `${span.name}\n${span.service}\n${span.span_id}\n${span.kind}\n${span.status?.message ?? ""}`;
  if (span.status?.code === "error") text += "\nerror";
  for (const key in span.attributes) text += `\n${key}=${valueText(span.attributes[key])}`;
  for (const event of span.events ?? []) {
    text += `\n${event.name}`;
    for (const key in event.attributes) text += `\n${key}=${valueText(event.attributes[key])}`;
  }
  return text.toLowerCase();
}

/** Lower-cased search texts, built once per tree on the first search. */
const searchTexts = new WeakMap<SpanTree, string[]>();

/**
 * The spans that match every word of `query` (in name, service, id, kind, status,
 * attribute keys and values, event names), in depth-first order.
 */
export function findSpans(tree: SpanTree, query: string): Int32Array {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return new Int32Array(0);
  let texts = searchTexts.get(tree);
  if (!texts) {
    texts = tree.spans.map(spanSearchText);
    searchTexts.set(tree, texts);
  }
  const out: number[] = [];
  for (let pos = 0; pos < tree.order.length; pos++) {
    const text = texts[tree.order[pos]];
    if (words.every((w) => text.includes(w))) out.push(tree.order[pos]);
  }
  return Int32Array.from(out);
}

/** The next (or previous) match after the current one, wrapping; -1 without matches. */
export function stepMatch(count: number, current: number, forward: boolean): number {
  if (count === 0) return -1;
  if (current < 0) return forward ? 0 : count - 1;
  return (current + (forward ? 1 : count - 1)) % count;
}

/** The match that comes at or after a span in depth-first order (to start from the cursor). */
export function firstMatchFrom(tree: SpanTree, matches: Int32Array, span: number): number {
  if (matches.length === 0) return -1;
  if (span < 0) return 0;
  const from = tree.position[span];
  for (let k = 0; k < matches.length; k++) if (tree.position[matches[k]] >= from) return k;
  return 0;
}

// ---- time -----------------------------------------------------------------------

/** Where a span's bar sits on the axis, as fractions of the trace's duration. */
export function barExtent(tree: SpanTree, span: Span): { left: number; width: number } {
  const total = tree.end - tree.start;
  if (total <= 0) return { left: 0, width: 1 };
  const left = Math.min(1, Math.max(0, (span.start_unix_nano - tree.start) / total));
  const width = Math.min(1 - left, Math.max(0, (span.end_unix_nano - span.start_unix_nano) / total));
  return { left, width };
}

/** Round tick steps for an axis of `durationNs` with about `target` ticks: 1, 2, 5 × 10^k ns. */
export function tickStep(durationNs: number, target = 5): number {
  if (!(durationNs > 0)) return 1;
  const raw = durationNs / Math.max(1, target);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * magnitude >= raw) return m * magnitude;
  return 10 * magnitude;
}

/** Tick offsets (ns from the trace's start) from 0 up to the duration. */
export function ticks(durationNs: number, target = 5): number[] {
  const step = tickStep(durationNs, target);
  const out: number[] = [];
  for (let t = 0; t <= durationNs + step * 1e-9 && out.length < 100; t += step) out.push(t);
  return out;
}

/** Time in a span not covered by any of its children (children clipped to the span). */
export function selfTime(tree: SpanTree, span: number): number {
  const s = tree.spans[span];
  const from = s.start_unix_nano;
  const to = s.end_unix_nano;
  if (to <= from) return 0;
  const intervals: [number, number][] = [];
  // Children follow their parent in depth-first order, each subtree contiguous.
  let pos = tree.position[span] + 1;
  const stop = tree.position[span] + tree.descendants[span] + 1;
  while (pos < stop) {
    const c = tree.order[pos];
    const cs = Math.max(from, tree.spans[c].start_unix_nano);
    const ce = Math.min(to, tree.spans[c].end_unix_nano);
    if (ce > cs) intervals.push([cs, ce]);
    pos += tree.descendants[c] + 1;
  }
  intervals.sort((a, b) => a[0] - b[0]);
  let covered = 0;
  let curS = -Infinity;
  let curE = -Infinity;
  for (const [a, b] of intervals) {
    if (a > curE) {
      if (curE > curS) covered += curE - curS;
      curS = a;
      curE = b;
    } else if (b > curE) curE = b;
  }
  if (curE > curS) covered += curE - curS;
  return to - from - covered;
}

/**
 * The critical path: from the root that ends last, back from its end, the child that
 * finished last before each point, then the one before that child started, and so on
 * down each chosen child. Returns span index → 1 on the path.
 */
export function criticalPath(tree: SpanTree): Uint8Array {
  const n = tree.spans.length;
  const on = new Uint8Array(n);
  if (n === 0) return on;
  let root = tree.roots[0];
  for (const r of tree.roots) if (tree.spans[r].end_unix_nano > tree.spans[root].end_unix_nano) root = r;
  const stack: [number, number][] = [[root, tree.spans[root].end_unix_nano]];
  while (stack.length) {
    const [i, until] = stack.pop()!;
    on[i] = 1;
    const kids: number[] = [];
    let pos = tree.position[i] + 1;
    const stop = tree.position[i] + tree.descendants[i] + 1;
    while (pos < stop) {
      const c = tree.order[pos];
      kids.push(c);
      pos += tree.descendants[c] + 1;
    }
    if (kids.length === 0) continue;
    kids.sort((a, b) => tree.spans[b].end_unix_nano - tree.spans[a].end_unix_nano);
    let t = Math.min(until, tree.spans[i].end_unix_nano);
    for (const c of kids) {
      const cs = tree.spans[c];
      if (cs.start_unix_nano >= t) continue;
      stack.push([c, Math.min(t, cs.end_unix_nano)]);
      t = cs.start_unix_nano;
    }
  }
  return on;
}

/** A service's colour: a hue spaced around the wheel by its index. */
export function serviceHue(serviceIndex: number): number {
  return (serviceIndex * 137.508 + 210) % 360;
}
