// Two instances of a saga side by side, step by step: steps are paired by name in order
// (a longest common subsequence, so a step only one of them ran sits alone on its row),
// and the first row where their forward paths part — a step one did not run, a step that
// failed in one only, more attempts — is the divergence (compensations follow from it).

import type { FlowStep, SagaFlow } from "./api/sagas";
import { type NodeStatus, span, stepStatus } from "./flow";

export interface StepSide {
  name: string;
  status: NodeStatus;
  /** The forward path alone: its last attempt passed, failed, or it did not run. */
  forward: string;
  attempts: number;
  compensations: number;
  /** Forward: first attempt's start to last attempt's end. */
  durationNs: number;
  compensationNs: number;
  error: string | null;
}

export interface ComparedRow {
  name: string;
  a: StepSide | null;
  b: StepSide | null;
  /** b's duration minus a's, when both ran it. */
  durationDiffNs: number | null;
  /** What differs: "missing", "status" (forward), "attempts", "compensations". */
  differs: string[];
  /** The first row that differs. */
  firstDivergence: boolean;
}

export function stepSide(step: FlowStep, running = false): StepSide {
  const lastError = [...step.forward].reverse().find((a) => a.error)?.error ?? null;
  return {
    name: step.name,
    status: stepStatus(step, running),
    forward: step.status,
    attempts: step.forward.length,
    compensations: step.compensate.length,
    durationNs: span(step.forward),
    compensationNs: span(step.compensate),
    error: step.status === "failed" ? lastError : null,
  };
}

export function sides(flow: SagaFlow): StepSide[] {
  const running = (flow.instance.outcome === "running" || flow.instance.outcome === "unknown") && !flow.instance.failed;
  return flow.steps.map((s) => stepSide(s, running));
}

/** Pairs `a` and `b` by step name, keeping both orders. */
export function pairSteps(a: StepSide[], b: StepSide[]): ComparedRow[] {
  // LCS table on names.
  const n = a.length;
  const m = b.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--) lcs[i][j] = a[i].name === b[j].name ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);

  const rows: ComparedRow[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i].name === b[j].name) rows.push(row(a[i++], b[j++]));
    else if (j >= m || (i < n && lcs[i + 1][j] >= lcs[i][j + 1])) rows.push(row(a[i++], null));
    else rows.push(row(null, b[j++]));
  }
  // Where the forward paths part is the divergence; a compensation that differs is its
  // consequence, unless nothing differs going forward.
  const forward = rows.findIndex((r) => r.differs.some((d) => d !== "compensations"));
  const first = forward >= 0 ? forward : rows.findIndex((r) => r.differs.length > 0);
  if (first >= 0) rows[first].firstDivergence = true;
  return rows;
}

function row(a: StepSide | null, b: StepSide | null): ComparedRow {
  const differs: string[] = [];
  if (!a || !b) differs.push("missing");
  else {
    if (a.forward !== b.forward) differs.push("status");
    if (a.attempts !== b.attempts) differs.push("attempts");
    if (a.compensations !== b.compensations) differs.push("compensations");
  }
  return {
    name: (a ?? b)!.name,
    a,
    b,
    durationDiffNs: a && b ? b.durationNs - a.durationNs : null,
    differs,
    firstDivergence: false,
  };
}

/** Compares two instances' flows. */
export function compareFlows(a: SagaFlow, b: SagaFlow): ComparedRow[] {
  return pairSteps(sides(a), sides(b));
}
