// Saga answers shaped as the console gives them, for the sagas tests.

import type { Attempt, FlowStep, SagaFlow, SagaInstance } from "../src/api/sagas";

export function attempt(step: string, phase: "forward" | "compensate", n: number, startNs: number, durNs: number, error: string | null = null): Attempt {
  return {
    step,
    phase,
    attempt: n,
    status: error ? "error" : "unset",
    error,
    service: "shop",
    start_unix_nano: startNs,
    duration_ns: durNs,
    trace_id: "t".repeat(32),
    span_id: `${step}-${phase}-${n}`.padEnd(16, "0"),
  };
}

export function step(name: string, index: number, status: FlowStep["status"], forward: Attempt[], compensate: Attempt[] = [], compensation: FlowStep["compensation"] = compensate.length ? "compensated" : "none"): FlowStep {
  return { name, index, service: "shop", status, compensation, forward, compensate };
}

export function instance(over: Partial<SagaInstance> = {}): SagaInstance {
  return {
    saga_id: "o-1",
    saga_name: "checkout",
    outcome: "compensated",
    failed: true,
    failed_step: "create-shipment",
    failed_step_index: 2,
    error: "422 no delivery to Atlantis",
    trace_id: "a".repeat(32),
    start_unix_nano: 1_000_000_000,
    duration_ns: 12_000_000,
    steps: 3,
    compensations: 2,
    attempts: 5,
    ...over,
  };
}

/** reserve-stock and charge-card passed then undone; create-shipment failed. */
export function failedAtShipment(): SagaFlow {
  const t0 = 1_000_000_000;
  const steps = [
    step("reserve-stock", 0, "passed", [attempt("reserve-stock", "forward", 1, t0 + 1_000_000, 1_000_000)], [attempt("reserve-stock", "compensate", 1, t0 + 9_000_000, 300_000)]),
    step("charge-card", 1, "passed", [attempt("charge-card", "forward", 1, t0 + 2_000_000, 400_000)], [attempt("charge-card", "compensate", 1, t0 + 8_000_000, 500_000)]),
    step("create-shipment", 2, "failed", [attempt("create-shipment", "forward", 1, t0 + 3_000_000, 300_000, "422 no delivery to Atlantis")]),
  ];
  return { instance: instance(), steps, timeline: steps.flatMap((s) => [...s.forward, ...s.compensate]).sort((a, b) => a.start_unix_nano - b.start_unix_nano), runs: [] };
}

/** Every step passed once. */
export function completed(id = "o-2"): SagaFlow {
  const t0 = 2_000_000_000;
  const steps = [
    step("reserve-stock", 0, "passed", [attempt("reserve-stock", "forward", 1, t0 + 1_000_000, 800_000)]),
    step("charge-card", 1, "passed", [attempt("charge-card", "forward", 1, t0 + 2_000_000, 300_000)]),
    step("create-shipment", 2, "passed", [attempt("create-shipment", "forward", 1, t0 + 3_000_000, 200_000)]),
  ];
  return {
    instance: instance({ saga_id: id, outcome: "completed", failed: false, failed_step: null, failed_step_index: null, error: null, start_unix_nano: t0, compensations: 0, attempts: 3 }),
    steps,
    timeline: steps.flatMap((s) => s.forward),
    runs: [],
  };
}
