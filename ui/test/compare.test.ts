import { describe, expect, it } from "vitest";
import { compareFlows, pairSteps, type StepSide } from "../src/compare";
import { completed, failedAtShipment } from "./fixtures-sagas";

function side(name: string, over: Partial<StepSide> = {}): StepSide {
  return { name, status: "completed", forward: "passed", attempts: 1, compensations: 0, durationNs: 1000, compensationNs: 0, error: null, ...over };
}

describe("pairSteps", () => {
  it("pairs steps by name in order", () => {
    const rows = pairSteps([side("a"), side("b"), side("c")], [side("a"), side("b"), side("c")]);
    expect(rows.map((r) => [r.name, !!r.a, !!r.b])).toEqual([
      ["a", true, true],
      ["b", true, true],
      ["c", true, true],
    ]);
    expect(rows.some((r) => r.firstDivergence)).toBe(false);
  });

  it("leaves a step only one side ran alone on its row, in place", () => {
    const rows = pairSteps([side("a"), side("b")], [side("a"), side("x"), side("b"), side("c")]);
    expect(rows.map((r) => [r.name, r.a?.name ?? null, r.b?.name ?? null])).toEqual([
      ["a", "a", "a"],
      ["x", null, "x"],
      ["b", "b", "b"],
      ["c", null, "c"],
    ]);
    expect(rows.find((r) => r.firstDivergence)!.name).toBe("x");
    expect(rows[1].differs).toEqual(["missing"]);
    expect(rows[1].durationDiffNs).toBeNull();
  });

  it("computes B minus A durations", () => {
    const rows = pairSteps([side("a", { durationNs: 5000 })], [side("a", { durationNs: 2000 })]);
    expect(rows[0].durationDiffNs).toBe(-3000);
    expect(rows[0].differs).toEqual([]);
  });

  it("marks retries and a different forward result", () => {
    const rows = pairSteps([side("a"), side("b", { forward: "failed", status: "failed", attempts: 3 })], [side("a"), side("b")]);
    expect(rows[1].differs).toEqual(["status", "attempts"]);
    expect(rows[1].firstDivergence).toBe(true);
    expect(rows.filter((r) => r.firstDivergence)).toHaveLength(1);
  });

  it("keeps repeated names in order", () => {
    const rows = pairSteps([side("a"), side("a"), side("b")], [side("a"), side("b")]);
    expect(rows.map((r) => [r.name, !!r.a, !!r.b])).toEqual([
      ["a", true, true],
      ["a", true, false],
      ["b", true, true],
    ]);
  });
});

describe("compareFlows", () => {
  it("finds where a failed checkout parts from a completed one: the failing step, not the undone ones", () => {
    const rows = compareFlows(failedAtShipment(), completed());
    expect(rows.map((r) => r.name)).toEqual(["reserve-stock", "charge-card", "create-shipment"]);
    expect(rows[0].differs).toEqual(["compensations"]);
    const first = rows.find((r) => r.firstDivergence)!;
    expect(first.name).toBe("create-shipment");
    expect(first.differs).toEqual(["status"]);
    expect(first.a!.error).toBe("422 no delivery to Atlantis");
    expect(first.b!.error).toBeNull();
    expect(rows[0].durationDiffNs).toBe(800_000 - 1_000_000);
  });

  it("falls back to a compensation difference when the forward paths agree", () => {
    const a = completed("o-a");
    const b = completed("o-b");
    b.steps[0].compensate.push({ ...b.steps[0].forward[0], phase: "compensate" });
    const rows = compareFlows(a, b);
    expect(rows.find((r) => r.firstDivergence)!.name).toBe("reserve-stock");
  });
});
