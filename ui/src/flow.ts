// The saga flow diagram's model and layout, without the DOM: steps left to right on the
// forward row with arrows between them, and the compensation path on a row below,
// running back right to left from where the saga failed. One instance's flow and the
// aggregate flow of a saga name become the same model; `layout` places it.

import type { AggregateFlow, Attempt, FlowStep, SagaFlow } from "./api/sagas";
import { duration } from "./format";

/** How a node reads (its colour): the `data-step-status` test hook. */
export type NodeStatus = "completed" | "failed" | "compensated" | "compensation_failed" | "running" | "skipped" | "aggregate";

export interface FlowNode {
  /** Unique in the model: the step name on the forward row, `undo:NAME` below. */
  id: string;
  /** The step's name. */
  step: string;
  row: "forward" | "compensate";
  /** Position on the row, left to right. */
  column: number;
  status: NodeStatus;
  /** Text lines under the name: status, attempts, duration. */
  lines: string[];
  /** A label above the node ("failed here"), for the failed step. */
  mark?: string;
}

export interface FlowEdge {
  from: string;
  to: string;
  kind: "forward" | "compensate";
  /** How many went this way (aggregate), for the edge's width. */
  weight?: number;
  label?: string;
  /** Drawn as failed (a compensation that failed, a path no one took). */
  status?: "ok" | "failed" | "idle";
}

export interface FlowModel {
  nodes: FlowNode[];
  edges: FlowEdge[];
}

/** A forward step's status: its last forward attempt, then whether it was undone. */
export function stepStatus(step: FlowStep, sagaRunning = false): NodeStatus {
  if (step.status === "failed") return "failed";
  if (step.status === "not_run") return sagaRunning ? "running" : "skipped";
  if (step.compensation === "failed") return "compensation_failed";
  if (step.compensation === "compensated") return "compensated";
  return "completed";
}

const STATUS_WORDS: Record<NodeStatus, string> = {
  completed: "completed",
  failed: "failed",
  compensated: "compensated",
  compensation_failed: "undo failed",
  running: "running",
  skipped: "not run",
  aggregate: "",
};

export function statusWord(status: NodeStatus): string {
  return STATUS_WORDS[status];
}

/** Time from the first attempt's start to the last attempt's end. */
export function span(attempts: Attempt[]): number {
  if (!attempts.length) return 0;
  const start = Math.min(...attempts.map((a) => a.start_unix_nano));
  const end = Math.max(...attempts.map((a) => a.start_unix_nano + a.duration_ns));
  return end - start;
}

function attemptsWord(n: number): string {
  return `${n} attempt${n === 1 ? "" : "s"}`;
}

/** One instance: its steps on the forward row, each compensation below its step. */
export function sagaFlowModel(flow: SagaFlow): FlowModel {
  const running = flow.instance.outcome === "running" || flow.instance.outcome === "unknown";
  const start = flow.instance.start_unix_nano;
  const nodes: FlowNode[] = [];
  const edges: FlowEdge[] = [];
  flow.steps.forEach((step, column) => {
    const status = stepStatus(step, running && !flow.instance.failed);
    const first = step.forward.length ? Math.min(...step.forward.map((a) => a.start_unix_nano)) : null;
    const lines = [statusWord(status)];
    if (step.forward.length) {
      lines.push(`${attemptsWord(step.forward.length)} · ${duration(span(step.forward))}`);
      if (first !== null) lines.push(`at +${duration(Math.max(0, first - start))}`);
    }
    nodes.push({
      id: step.name,
      step: step.name,
      row: "forward",
      column,
      status,
      lines,
      mark: status === "failed" ? "failed here" : undefined,
    });
    if (column > 0) {
      const reached = step.forward.length > 0;
      edges.push({ from: flow.steps[column - 1].name, to: step.name, kind: "forward", status: reached ? "ok" : "idle" });
    }
  });

  // The compensation path: from the failed (or last) step back through the undone
  // steps, right to left, in the order the compensations ran.
  const undone = flow.steps
    .map((step, column) => ({ step, column }))
    .filter(({ step }) => step.compensate.length > 0)
    .sort((a, b) => b.column - a.column);
  if (undone.length) {
    const failedColumn = flow.steps.findIndex((s) => s.status === "failed");
    const origin = failedColumn >= 0 ? flow.steps[failedColumn].name : flow.steps[flow.steps.length - 1].name;
    let previous = origin;
    for (const { step, column } of undone) {
      const ok = step.compensation !== "failed";
      const id = `undo:${step.name}`;
      nodes.push({
        id,
        step: step.name,
        row: "compensate",
        column,
        status: ok ? "compensated" : "compensation_failed",
        lines: [ok ? "undone" : "undo failed", `${attemptsWord(step.compensate.length)} · ${duration(span(step.compensate))}`],
      });
      edges.push({ from: previous, to: id, kind: "compensate", status: ok ? "ok" : "failed" });
      previous = id;
    }
  }
  return { nodes, edges };
}

/** The aggregate: counts on the nodes, edges as wide as the number that went that way. */
export function aggregateFlowModel(flow: AggregateFlow): FlowModel {
  const nodes: FlowNode[] = [];
  const edges: FlowEdge[] = [];
  flow.steps.forEach((step, column) => {
    const lines = [`${step.reached} reached · ${step.passed} passed`];
    lines.push(`${step.failed} failed · ${step.compensated} undone${step.compensation_failed ? ` · ${step.compensation_failed} undo failed` : ""}`);
    if (step.p50_ns != null) lines.push(`p50 ${duration(step.p50_ns)} · p95 ${step.p95_ns != null ? duration(step.p95_ns) : "—"}`);
    nodes.push({
      id: step.name,
      step: step.name,
      row: "forward",
      column,
      status: "aggregate",
      lines,
      mark: step.failed > 0 ? `${step.failed} failed here` : undefined,
    });
    if (column > 0) {
      const before = flow.steps[column - 1];
      edges.push({ from: before.name, to: step.name, kind: "forward", weight: before.passed, label: String(before.passed), status: before.passed ? "ok" : "idle" });
    }
    const undone = step.compensated + step.compensation_failed;
    if (undone > 0) {
      nodes.push({
        id: `undo:${step.name}`,
        step: step.name,
        row: "compensate",
        column,
        status: step.compensation_failed ? "compensation_failed" : "compensated",
        lines: [`${step.compensated} undone`, ...(step.compensation_failed ? [`${step.compensation_failed} undo failed`] : [])],
      });
    }
  });
  // Compensation edges: each undo node is reached from the nearest node to its right
  // on the compensation row, or else from the rightmost step that failed after it.
  const undos = nodes.filter((n) => n.row === "compensate").sort((a, b) => b.column - a.column);
  undos.forEach((undo, i) => {
    const aggStep = flow.steps[undo.column];
    const weight = aggStep.compensated + aggStep.compensation_failed;
    let from: string;
    if (i > 0) from = undos[i - 1].id;
    else {
      const failing = flow.steps.slice(undo.column + 1).filter((s) => s.failed > 0);
      from = (failing[failing.length - 1] ?? flow.steps[Math.min(undo.column + 1, flow.steps.length - 1)]).name;
    }
    edges.push({ from, to: undo.id, kind: "compensate", weight, label: String(weight), status: aggStep.compensation_failed ? "failed" : "ok" });
  });
  return { nodes, edges };
}

// ---- layout ----

export interface LayoutOptions {
  nodeWidth: number;
  nodeHeight: number;
  gapX: number;
  gapY: number;
  margin: number;
  /** Room above the forward row for marks. */
  top: number;
}

export const DEFAULT_LAYOUT: LayoutOptions = { nodeWidth: 168, nodeHeight: 76, gapX: 56, gapY: 64, margin: 12, top: 22 };

/** Wider nodes for the aggregate's counts. */
export const AGGREGATE_LAYOUT: LayoutOptions = { ...DEFAULT_LAYOUT, nodeWidth: 214, gapX: 64 };

export interface PlacedNode {
  node: FlowNode;
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface PlacedEdge {
  edge: FlowEdge;
  /** SVG path data. */
  path: string;
  width: number;
  labelX: number;
  labelY: number;
}

export interface Layout {
  width: number;
  height: number;
  nodes: PlacedNode[];
  edges: PlacedEdge[];
}

/** An edge's stroke width: 1.5 px for nothing, up to `max` px for the largest weight. */
export function edgeWidth(weight: number | undefined, maxWeight: number, min = 1.5, max = 12): number {
  if (weight === undefined || maxWeight <= 0) return 2;
  if (weight <= 0) return min;
  return min + (max - min) * Math.sqrt(weight / maxWeight);
}

export function layout(model: FlowModel, options: LayoutOptions = DEFAULT_LAYOUT): Layout {
  const { nodeWidth: w, nodeHeight: h, gapX, gapY, margin, top } = options;
  const columns = Math.max(0, ...model.nodes.map((n) => n.column + 1));
  const hasUndo = model.nodes.some((n) => n.row === "compensate");
  const rowY = { forward: margin + top, compensate: margin + top + h + gapY };
  const placed = model.nodes.map((node) => ({ node, x: margin + node.column * (w + gapX), y: rowY[node.row], w, h }));
  const byId = new Map(placed.map((p) => [p.node.id, p]));
  const maxWeight = Math.max(0, ...model.edges.map((e) => e.weight ?? 0));
  const edges: PlacedEdge[] = [];
  for (const edge of model.edges) {
    const from = byId.get(edge.from);
    const to = byId.get(edge.to);
    if (!from || !to) continue;
    const width = edgeWidth(edge.weight, maxWeight);
    let path: string;
    let labelX: number;
    let labelY: number;
    if (edge.kind === "forward") {
      const y = from.y + from.h / 2;
      path = `M${from.x + from.w} ${y} L${to.x - 4} ${y}`;
      labelX = (from.x + from.w + to.x) / 2;
      labelY = y - 6 - width / 2;
    } else if (from.node.row === "forward") {
      // Down from the step where compensation starts, then left along the lower row.
      const x0 = from.x + from.w / 2;
      const y1 = to.y + to.h / 2;
      if (from.node.column === to.node.column) {
        path = `M${x0} ${from.y + from.h} L${x0} ${to.y - 4}`;
        labelX = x0 + 8;
        labelY = (from.y + from.h + to.y) / 2;
      } else {
        path = `M${x0} ${from.y + from.h} L${x0} ${y1} L${to.x + to.w + 4} ${y1}`;
        labelX = (x0 + to.x + to.w) / 2;
        labelY = y1 - 6 - width / 2;
      }
    } else {
      const y = from.y + from.h / 2;
      path = `M${from.x} ${y} L${to.x + to.w + 4} ${y}`;
      labelX = (from.x + to.x + to.w) / 2;
      labelY = y - 6 - width / 2;
    }
    edges.push({ edge, path, width, labelX, labelY });
  }
  return {
    width: margin * 2 + Math.max(1, columns) * w + Math.max(0, columns - 1) * gapX,
    height: (hasUndo ? rowY.compensate + h : rowY.forward + h) + margin,
    nodes: placed,
    edges,
  };
}
