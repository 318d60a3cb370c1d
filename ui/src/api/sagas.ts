// Sagas in the console's API: the stored instances (`/api/sagas`), one instance's flow,
// the aggregate flow per saga name, bulk operations, and the statuses the orchestrators
// stream (`/api/sagas/live`). Also the list's filter as it sits in the URL, and which
// operator commands make sense for an instance.

import { api, type Client, type Query } from "./client";

/** How an instance ended, as its root span said (`unknown`: no root seen yet). */
export type Outcome = "completed" | "compensated" | "failed" | "running" | "unknown";

export interface SagaInstance {
  saga_id: string;
  saga_name: string;
  outcome: Outcome | string;
  /** A step failed for good, or the saga ended compensated or failed. */
  failed: boolean;
  failed_step: string | null;
  failed_step_index: number | null;
  error: string | null;
  trace_id: string;
  start_unix_nano: number;
  duration_ns: number;
  steps: number;
  compensations: number;
  attempts: number;
}

export type AttemptStatus = "ok" | "error" | "unset";
export type Phase = "forward" | "compensate" | "run";

export interface Attempt {
  step: string;
  phase: Phase;
  attempt: number | null;
  status: AttemptStatus | string;
  error: string | null;
  service: string;
  start_unix_nano: number;
  duration_ns: number;
  trace_id: string;
  span_id: string;
}

export interface FlowStep {
  name: string;
  index: number | null;
  service: string;
  status: "passed" | "failed" | "not_run" | string;
  compensation: "none" | "compensated" | "failed" | string;
  forward: Attempt[];
  compensate: Attempt[];
}

export interface SagaFlow {
  instance: SagaInstance;
  steps: FlowStep[];
  timeline: Attempt[];
  runs: Attempt[];
}

export interface TimeRange {
  since_unix_nano: number;
  until_unix_nano: number;
}

export interface AggregateStep {
  name: string;
  index: number | null;
  reached: number;
  passed: number;
  failed: number;
  compensated: number;
  compensation_failed: number;
  p50_ns: number | null;
  p95_ns: number | null;
}

export interface AggregateFlow {
  saga_name: string;
  range: TimeRange;
  instances: number;
  outcomes: Record<string, number>;
  steps: AggregateStep[];
}

/** An instance's latest status as its orchestrator streamed it. */
export interface SagaStatusView {
  cluster: string;
  agent: string;
  id: string;
  name: string;
  /** The orchestrator's status: running, compensating, completed, compensated, failed, resolved. */
  status: string;
  failed_step: string | null;
  at_unix_ms: number;
}

export type BulkAction = "compensate" | "retry" | "resolve";

export interface BulkRequest {
  cluster: string;
  action: BulkAction;
  saga_name: string | null;
  failed_step: string | null;
  range: TimeRange | null;
  limit: number | null;
  dry_run: boolean;
  reason: string;
  who: string;
  comment: string;
}

export interface BulkItem {
  saga_id: string;
  saga_name: string;
  failed_step: string | null;
  /** `planned` in a dry run, else `ok` or `error`. */
  outcome: "planned" | "ok" | "error" | string;
  error: string | null;
}

export interface BulkReport {
  dry_run: boolean;
  matched: number;
  succeeded: number;
  failed: number;
  items: BulkItem[];
}

// ---- the list's filter, as it sits in the hash query ----

export const RANGE_PRESETS: { value: string; label: string; ms: number | null }[] = [
  { value: "15m", label: "last 15 minutes", ms: 15 * 60_000 },
  { value: "1h", label: "last hour", ms: 3_600_000 },
  { value: "6h", label: "last 6 hours", ms: 6 * 3_600_000 },
  { value: "24h", label: "last 24 hours", ms: 24 * 3_600_000 },
  { value: "7d", label: "last 7 days", ms: 7 * 24 * 3_600_000 },
  { value: "all", label: "any time", ms: null },
];

/** A time range as the user chose it: a preset (`1h`, `all`) or custom Unix ms bounds. */
export interface RangeChoice {
  preset: string | null;
  sinceMs: number | null;
  untilMs: number | null;
}

export interface SagaFilter {
  name: string;
  failedOnly: boolean;
  step: string;
  range: RangeChoice;
  /** Text in the id or error (filtered here). */
  text: string;
}

export const DEFAULT_RANGE: RangeChoice = { preset: "1h", sinceMs: null, untilMs: null };

/** The filter from `?name=&failed&step=&since=&until=&q=` (default: the last hour, all outcomes). */
export function filterFromQuery(query: URLSearchParams): SagaFilter {
  return {
    name: query.get("name") ?? "",
    failedOnly: query.has("failed") && query.get("failed") !== "false",
    step: query.get("step") ?? "",
    range: rangeFromQuery(query),
    text: query.get("q") ?? "",
  };
}

export function rangeFromQuery(query: URLSearchParams): RangeChoice {
  const since = query.get("since");
  const until = query.get("until");
  if (since && /^\d+$/.test(since)) {
    return { preset: null, sinceMs: Number(since), untilMs: until && /^\d+$/.test(until) ? Number(until) : null };
  }
  if (since && RANGE_PRESETS.some((p) => p.value === since)) return { preset: since, sinceMs: null, untilMs: null };
  return DEFAULT_RANGE;
}

/** The hash query for `filter` (for `href`); defaults are left out. */
export function filterToQuery(filter: SagaFilter): Record<string, string | boolean | undefined> {
  return {
    name: filter.name || undefined,
    failed: filter.failedOnly,
    step: filter.step || undefined,
    ...rangeToQuery(filter.range),
    q: filter.text || undefined,
  };
}

export function rangeToQuery(range: RangeChoice): { since?: string; until?: string } {
  if (range.preset) return range.preset === DEFAULT_RANGE.preset ? {} : { since: range.preset };
  return { since: range.sinceMs != null ? String(range.sinceMs) : undefined, until: range.untilMs != null ? String(range.untilMs) : undefined };
}

/** `since`/`until` for the API: a duration back from now, Unix ms, or nothing for any time. */
export function rangeParams(range: RangeChoice): { since?: string; until?: string } {
  if (range.preset) return range.preset === "all" ? {} : { since: range.preset };
  return {
    since: range.sinceMs != null ? String(range.sinceMs) : undefined,
    until: range.untilMs != null ? String(range.untilMs) : undefined,
  };
}

/** The range in Unix nanoseconds at `nowMs` (for bulk bodies), or null for any time. */
export function rangeToNanos(range: RangeChoice, nowMs: number): TimeRange | null {
  if (range.preset) {
    const preset = RANGE_PRESETS.find((p) => p.value === range.preset);
    if (!preset || preset.ms === null) return null;
    return { since_unix_nano: (nowMs - preset.ms) * 1_000_000, until_unix_nano: (nowMs + 60_000) * 1_000_000 };
  }
  if (range.sinceMs == null && range.untilMs == null) return null;
  return {
    since_unix_nano: (range.sinceMs ?? 0) * 1_000_000,
    until_unix_nano: (range.untilMs ?? nowMs + 60_000) * 1_000_000,
  };
}

/** "in the last hour", "any time", "between … and …", for empty states and titles. */
export function describeRange(range: RangeChoice): string {
  if (range.preset) {
    const preset = RANGE_PRESETS.find((p) => p.value === range.preset);
    return preset?.ms == null ? "at any time" : `in the ${preset.label}`;
  }
  const fmt = (ms: number) => new Date(ms).toLocaleString();
  if (range.sinceMs != null && range.untilMs != null) return `between ${fmt(range.sinceMs)} and ${fmt(range.untilMs)}`;
  if (range.sinceMs != null) return `since ${fmt(range.sinceMs)}`;
  if (range.untilMs != null) return `before ${fmt(range.untilMs)}`;
  return "at any time";
}

/** An interval for the outcomes chart that gives it some 12–30 bars. */
export function chartInterval(range: RangeChoice, nowMs: number): string {
  let spanMs: number;
  if (range.preset) spanMs = RANGE_PRESETS.find((p) => p.value === range.preset)?.ms ?? 7 * 24 * 3_600_000;
  else spanMs = (range.untilMs ?? nowMs) - (range.sinceMs ?? nowMs - 3_600_000);
  const steps: [number, string][] = [
    [60_000, "1m"],
    [5 * 60_000, "5m"],
    [15 * 60_000, "15m"],
    [3_600_000, "1h"],
    [6 * 3_600_000, "6h"],
    [24 * 3_600_000, "24h"],
  ];
  for (const [ms, label] of steps) if (spanMs / ms <= 30) return label;
  return "24h";
}

/** The list's query: failed first; the failing step and the text are filtered here, so read more. */
export function searchQuery(filter: SagaFilter, limit: number): Query {
  const narrowedHere = Boolean(filter.step || filter.text);
  return {
    failed: filter.failedOnly,
    name: filter.name || undefined,
    failed_first: true,
    limit: narrowedHere ? Math.max(limit, 1000) : limit,
    ...rangeParams(filter.range),
  };
}

/** The failing step and the text (in id, name or error), as the server does not filter them. */
export function narrow(sagas: SagaInstance[], filter: SagaFilter): SagaInstance[] {
  const text = filter.text.trim().toLowerCase();
  return sagas.filter(
    (s) =>
      (!filter.step || s.failed_step === filter.step) &&
      (!text || s.saga_id.toLowerCase().includes(text) || s.saga_name.toLowerCase().includes(text) || (s.error ?? "").toLowerCase().includes(text)),
  );
}

// ---- which commands make sense ----

export interface ActionState {
  enabled: boolean;
  /** Why not, when disabled. */
  why: string;
}

export interface SagaActions {
  retry_saga: ActionState;
  compensate_saga: ActionState;
  resolve_saga: ActionState;
}

/** A saga quiet this long while running counts as stuck (resolvable). */
export const STUCK_AFTER_MS = 5 * 60_000;

/**
 * What an operator can do to an instance. The orchestrator's own status (from the live
 * stream) wins over the telemetry's outcome: it knows whether the saga holds for an
 * operator. Retry: a failed saga. Compensate: a failed or running one. Resolve: a failed
 * one, or one stuck running.
 */
export function sagaActions(instance: SagaInstance, liveStatus: string | null, nowMs: number): SagaActions {
  const status = liveStatus ?? instance.outcome;
  const startedMs = instance.start_unix_nano / 1_000_000;
  const inFlight = status === "running" || status === "unknown" || status === "compensating";
  const stuck = inFlight && nowMs - (startedMs + instance.duration_ns / 1_000_000) > STUCK_AFTER_MS;
  const no = (why: string): ActionState => ({ enabled: false, why });
  const yes: ActionState = { enabled: true, why: "" };
  const ended = (what: string) => `The saga ended ${status}: there is nothing to ${what}.`;
  return {
    retry_saga:
      status === "failed" ? yes : inFlight ? no("The saga is still in flight: wait for it to fail or compensate it.") : no(ended("retry")),
    compensate_saga:
      status === "failed" || status === "running" || status === "unknown"
        ? yes
        : status === "compensating"
          ? no("The saga is already compensating.")
          : no(ended("compensate")),
    resolve_saga: status === "failed" || stuck ? yes : inFlight ? no("The saga is in flight and not stuck yet.") : no(ended("resolve")),
  };
}

/** Why nothing can be done, when no command makes sense (else ""). */
export function actionsNote(actions: SagaActions, status: string): string {
  if (actions.retry_saga.enabled || actions.compensate_saga.enabled || actions.resolve_saga.enabled) return "";
  if (status === "running" || status === "unknown" || status === "compensating") return `The saga is ${status === "unknown" ? "in flight" : status}: the commands open once it fails or is stuck for ${STUCK_AFTER_MS / 60_000} minutes.`;
  return `The saga ended ${status}: there is nothing left to retry, compensate or resolve.`;
}

/** The words for the confirmation of `action` on `flow`: exactly what the orchestrator will do. */
export function explainAction(action: keyof SagaActions, flow: SagaFlow): string {
  const steps = flow.steps;
  const failedIndex = steps.findIndex((s) => s.status === "failed");
  const failed = failedIndex >= 0 ? steps[failedIndex] : null;
  const compensationFailed = steps.filter((s) => s.compensation === "failed").map((s) => s.name);
  const id = flow.instance.saga_id;
  if (action === "retry_saga") {
    if (compensationFailed.length) {
      return `The orchestrator retries the failed compensation${compensationFailed.length > 1 ? "s" : ""} of ${list(compensationFailed)} for saga ${id}, then goes on undoing the steps before.`;
    }
    if (failed) {
      const after = steps.slice(failedIndex + 1).map((s) => s.name);
      return `The orchestrator runs ${failed.name} again with its last input${after.length ? `, then continues with ${list(after)}` : ", then completes the saga"}.`;
    }
    return `The orchestrator retries saga ${id} from where it stopped.`;
  }
  if (action === "compensate_saga") {
    const done = steps
      .slice(0, failed ? failedIndex : steps.length)
      .filter((s) => s.status === "passed" && s.compensation !== "compensated")
      .map((s) => s.name)
      .reverse();
    return done.length
      ? `The orchestrator stops saga ${id} and undoes its completed steps in reverse order: ${done.join(" → ")}.`
      : `The orchestrator stops saga ${id} and undoes whatever it completed.`;
  }
  return `Saga ${id} is closed by hand as resolved: the orchestrator runs nothing more for it, and your comment is kept in its log and the audit history.`;
}

function list(names: string[]): string {
  if (names.length <= 1) return names.join("");
  return `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`;
}

// ---- calls ----

export function searchSagas(filter: SagaFilter, limit = 200, client: Client = api): Promise<SagaInstance[]> {
  return client.get<SagaInstance[]>("/sagas", searchQuery(filter, limit)).then((found) => narrow(found, filter).slice(0, limit));
}

export function sagaFlow(id: string, client: Client = api): Promise<SagaFlow> {
  return client.get<SagaFlow>(`/sagas/${encodeURIComponent(id)}/flow`);
}

export function aggregateFlow(name: string, range: RangeChoice, client: Client = api): Promise<AggregateFlow> {
  return client.get<AggregateFlow>(`/sagas/aggregate/${encodeURIComponent(name)}`, rangeParams(range.preset === "all" ? { preset: "7d", sinceMs: null, untilMs: null } : range));
}

export function liveSagas(cluster?: string, client: Client = api): Promise<SagaStatusView[]> {
  return client.get<SagaStatusView[]>("/sagas/live", { cluster });
}

export function runBulk(request: BulkRequest, client: Client = api): Promise<BulkReport> {
  return client.post<BulkReport>("/sagas/bulk", request);
}

/** The newest completed instance of `name` (to compare a failed one with), or null. */
export async function newestCompleted(name: string, client: Client = api): Promise<SagaInstance | null> {
  const found = await client.get<SagaInstance[]>("/sagas", { name, limit: 200 });
  return found.filter((s) => s.outcome === "completed").sort((a, b) => b.start_unix_nano - a.start_unix_nano)[0] ?? null;
}

/** The saga outcomes chart as SVG text. */
export function sagaOutcomesChart(name: string, range: RangeChoice, nowMs: number, client: Client = api): Promise<string> {
  return client.text("/plots/sagas", {
    format: "svg",
    name: name || undefined,
    interval: chartInterval(range, nowMs),
    width: 1000,
    height: 240,
    ...rangeParams(range.preset === "all" ? { preset: "7d", sinceMs: null, untilMs: null } : range),
  });
}
