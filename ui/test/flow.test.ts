import { describe, expect, it } from "vitest";
import type { AggregateFlow } from "../src/api/sagas";
import { aggregateFlowModel, DEFAULT_LAYOUT, edgeWidth, layout, sagaFlowModel, stepStatus } from "../src/flow";
import { attempt, completed, failedAtShipment, step } from "./fixtures-sagas";

describe("stepStatus", () => {
  it("reads the last forward attempt, then the compensation", () => {
    expect(stepStatus(step("a", 0, "failed", []))).toBe("failed");
    expect(stepStatus(step("a", 0, "passed", [], [], "compensated"))).toBe("compensated");
    expect(stepStatus(step("a", 0, "passed", [], [], "failed"))).toBe("compensation_failed");
    expect(stepStatus(step("a", 0, "passed", []))).toBe("completed");
    expect(stepStatus(step("a", 0, "not_run", []))).toBe("skipped");
    expect(stepStatus(step("a", 0, "not_run", []), true)).toBe("running");
  });
});

describe("sagaFlowModel", () => {
  it("puts the steps on the forward row in order and marks the failed one", () => {
    const model = sagaFlowModel(failedAtShipment());
    const forward = model.nodes.filter((n) => n.row === "forward");
    expect(forward.map((n) => [n.step, n.column, n.status])).toEqual([
      ["reserve-stock", 0, "compensated"],
      ["charge-card", 1, "compensated"],
      ["create-shipment", 2, "failed"],
    ]);
    expect(forward.filter((n) => n.mark).map((n) => n.step)).toEqual(["create-shipment"]);
    expect(forward[2].lines).toEqual(["failed", "1 attempt · 300 µs", "at +3.00 ms"]);
    expect(model.edges.filter((e) => e.kind === "forward").map((e) => `${e.from}>${e.to}`)).toEqual(["reserve-stock>charge-card", "charge-card>create-shipment"]);
  });

  it("runs the compensation path from the failed step back right to left", () => {
    const model = sagaFlowModel(failedAtShipment());
    const undo = model.nodes.filter((n) => n.row === "compensate");
    expect(undo.map((n) => [n.id, n.column])).toEqual([
      ["undo:charge-card", 1],
      ["undo:reserve-stock", 0],
    ]);
    expect(model.edges.filter((e) => e.kind === "compensate").map((e) => `${e.from}>${e.to}`)).toEqual([
      "create-shipment>undo:charge-card",
      "undo:charge-card>undo:reserve-stock",
    ]);
  });

  it("has no compensation row for a completed saga, and counts retries", () => {
    const flow = completed();
    flow.steps[1].forward.push(attempt("charge-card", "forward", 2, flow.instance.start_unix_nano + 2_500_000, 300_000));
    const model = sagaFlowModel(flow);
    expect(model.nodes.every((n) => n.row === "forward")).toBe(true);
    expect(model.nodes[1].lines[1]).toBe("2 attempts · 800 µs");
  });

  it("draws a failed compensation as failed", () => {
    const flow = failedAtShipment();
    flow.steps[0].compensation = "failed";
    const model = sagaFlowModel(flow);
    expect(model.nodes.find((n) => n.id === "reserve-stock")!.status).toBe("compensation_failed");
    expect(model.edges.find((e) => e.to === "undo:reserve-stock")!.status).toBe("failed");
  });
});

describe("layout", () => {
  it("places columns left to right and the compensation row below", () => {
    const laid = layout(sagaFlowModel(failedAtShipment()));
    const at = (id: string) => laid.nodes.find((p) => p.node.id === id)!;
    const { nodeWidth, gapX, margin } = DEFAULT_LAYOUT;
    expect(at("reserve-stock").x).toBe(margin);
    expect(at("charge-card").x).toBe(margin + nodeWidth + gapX);
    expect(at("undo:charge-card").x).toBe(at("charge-card").x);
    expect(at("undo:charge-card").y).toBeGreaterThan(at("charge-card").y + at("charge-card").h);
    expect(laid.width).toBe(margin * 2 + 3 * nodeWidth + 2 * gapX);
    expect(laid.height).toBe(at("undo:charge-card").y + at("undo:charge-card").h + margin);
  });

  it("routes the first compensation edge down from the failed step, then leftwards", () => {
    const laid = layout(sagaFlowModel(failedAtShipment()));
    const edge = laid.edges.find((e) => e.edge.to === "undo:charge-card")!;
    const [start, corner, end] = edge.path.slice(1).split(" L").map((p) => p.split(" ").map(Number));
    expect(corner[0]).toBe(start[0]); // straight down
    expect(end[1]).toBe(corner[1]); // then level
    expect(end[0]).toBeLessThan(corner[0]); // to the left
  });

  it("keeps a model without compensation to one row", () => {
    const laid = layout(sagaFlowModel(completed()));
    expect(laid.height).toBe(DEFAULT_LAYOUT.margin * 2 + DEFAULT_LAYOUT.top + DEFAULT_LAYOUT.nodeHeight);
  });
});

describe("aggregate", () => {
  const agg: AggregateFlow = {
    saga_name: "checkout",
    range: { since_unix_nano: 0, until_unix_nano: 1 },
    instances: 100,
    outcomes: { completed: 64, compensated: 36 },
    steps: [
      { name: "reserve-stock", index: 0, reached: 100, passed: 100, failed: 0, compensated: 36, compensation_failed: 0, p50_ns: 600_000, p95_ns: 2_000_000 },
      { name: "charge-card", index: 1, reached: 100, passed: 70, failed: 30, compensated: 6, compensation_failed: 0, p50_ns: 400_000, p95_ns: null },
      { name: "create-shipment", index: 2, reached: 70, passed: 64, failed: 6, compensated: 0, compensation_failed: 0, p50_ns: null, p95_ns: null },
    ],
  };

  it("weights forward edges by the instances that passed the step before", () => {
    const model = aggregateFlowModel(agg);
    expect(model.edges.filter((e) => e.kind === "forward").map((e) => [e.from, e.to, e.weight])).toEqual([
      ["reserve-stock", "charge-card", 100],
      ["charge-card", "create-shipment", 70],
    ]);
    expect(model.nodes.find((n) => n.id === "charge-card")!.mark).toBe("30 failed here");
    expect(model.nodes.find((n) => n.id === "charge-card")!.lines[2]).toBe("p50 400 µs · p95 —");
  });

  it("links the undo nodes right to left, starting at the last failing step", () => {
    const model = aggregateFlowModel(agg);
    expect(model.edges.filter((e) => e.kind === "compensate").map((e) => [e.from, e.to, e.weight])).toEqual([
      ["create-shipment", "undo:charge-card", 6],
      ["undo:charge-card", "undo:reserve-stock", 36],
    ]);
  });

  it("scales edge widths by the square root of the count", () => {
    expect(edgeWidth(100, 100)).toBe(12);
    expect(edgeWidth(0, 100)).toBe(1.5);
    expect(edgeWidth(25, 100)).toBeCloseTo(1.5 + 10.5 * 0.5);
    expect(edgeWidth(undefined, 100)).toBe(2);
    const laid = layout(aggregateFlowModel(agg));
    const widths = laid.edges.filter((e) => e.edge.kind === "forward").map((e) => e.width);
    expect(widths[0]).toBeGreaterThan(widths[1]);
  });
});
