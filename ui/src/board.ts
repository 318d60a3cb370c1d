// The breaker board's logic, without the DOM: merging the live view with the telemetry,
// applying live events, sorting, grouping and filtering, the words for a state and its
// duration, which commands make sense, and what each one does. Routes' rates too.

import type { BoardEntry, LiveBreaker } from "./api/control";
import type { Command, CommandRecord } from "./api/types";

export type Effective = "closed" | "open" | "half_open";
export type BreakerAction = "trip" | "disable" | "reset" | "release";

/** A manual override in words' terms: who, until when (null: until released). */
export interface OverrideInfo {
  kind: "forced_open" | "disabled" | "observe_only";
  by: string | null;
  reason: string | null;
  untilMs: number | null;
}

export interface BoardRow {
  key: string;
  /** Empty when only the telemetry knows the breaker (no agent reports it). */
  cluster: string;
  agent: string;
  name: string;
  service: string;
  /** The state in force as the agent says it (`forced_open`…), or from the telemetry. */
  state: string;
  effective: Effective;
  automaticState: string;
  /** Percent, 0–100. */
  failureRate: number | null;
  windowCalls: number | null;
  sinceMs: number | null;
  callsPerSecond: number | null;
  rejectedPerSecond: number | null;
  override: OverrideInfo | null;
  /** Only from telemetry: no commands can reach it. */
  telemetryOnly: boolean;
}

export function rowKey(cluster: string, name: string): string {
  return `${cluster}\u0000${name}`;
}

const MANUAL = ["forced_open", "disabled", "observe_only"] as const;

/** The state as callers meet it: forced open rejects like open; disabled and observe-only let calls through. */
export function effectiveState(state: string | null | undefined): Effective {
  if (state === "open" || state === "forced_open") return "open";
  if (state === "half_open") return "half_open";
  return "closed";
}

/**
 * The override in force. The agent's `manual` when it sent one; else, for a state only
 * an operator sets, the newest successful trip/disable in `commands` (who and its TTL).
 */
export function overrideOf(b: LiveBreaker, commands: readonly CommandRecord[] = []): OverrideInfo | null {
  const kind = (MANUAL as readonly string[]).includes(b.state) ? (b.state as OverrideInfo["kind"]) : null;
  if (b.manual) {
    const k = (MANUAL as readonly string[]).includes(b.manual.state) ? (b.manual.state as OverrideInfo["kind"]) : kind;
    if (k) return { kind: k, by: b.manual.by || null, reason: b.manual.reason || null, untilMs: b.manual.expires_at_unix_ms ?? null };
  }
  if (!kind) return null;
  const action = kind === "forced_open" ? "trip" : kind === "disabled" ? "disable" : null;
  const sent = commands
    .filter((c) => c.target === b.name && c.cluster === b.cluster && c.outcome === "ok" && c.action === action)
    .sort((a, z) => z.at_unix_ms - a.at_unix_ms)[0];
  if (!sent) return { kind, by: null, reason: null, untilMs: null };
  const ttl = (sent.args as { ttl_seconds?: number | null } | null)?.ttl_seconds;
  return { kind, by: sent.who, reason: sent.reason || null, untilMs: ttl ? sent.at_unix_ms + ttl * 1000 : null };
}

/** Calls in the telemetry over the window, per second (rejected ones too). */
export function perSecond(count: number, windowSeconds: number): number {
  return windowSeconds > 0 ? count / windowSeconds : 0;
}

/**
 * One row per breaker: each in the live view, with its calls/s from the telemetry of the
 * last `windowSeconds`; then those only the telemetry knows.
 */
export function mergeBoard(
  live: readonly LiveBreaker[],
  board: readonly BoardEntry[],
  windowSeconds: number,
  commands: readonly CommandRecord[] = [],
): BoardRow[] {
  const byName = new Map<string, BoardEntry[]>();
  for (const entry of board) byName.set(entry.breaker, [...(byName.get(entry.breaker) ?? []), entry]);
  const rows: BoardRow[] = live.map((b) => {
    const entries = byName.get(b.name) ?? [];
    return { ...fromLive(b, commands), ...rates(entries, windowSeconds) };
  });
  const known = new Set(live.map((b) => b.name));
  for (const [name, entries] of byName) {
    if (known.has(name)) continue;
    const e = entries[0];
    rows.push({
      key: rowKey("", name),
      cluster: "",
      agent: "",
      name,
      service: e.service,
      state: e.state ?? "unknown",
      effective: effectiveState(e.state),
      automaticState: e.state ?? "unknown",
      failureRate: failureShare(entries),
      windowCalls: null,
      sinceMs: null,
      override: null,
      telemetryOnly: true,
      ...rates(entries, windowSeconds),
    });
  }
  return rows;
}

function fromLive(b: LiveBreaker, commands: readonly CommandRecord[]): Omit<BoardRow, "callsPerSecond" | "rejectedPerSecond"> {
  return {
    key: rowKey(b.cluster, b.name),
    cluster: b.cluster,
    agent: b.agent,
    name: b.name,
    service: b.service,
    state: b.state,
    effective: effectiveState(b.state),
    automaticState: b.automatic_state,
    failureRate: b.failure_rate,
    windowCalls: b.window_calls,
    sinceMs: b.since_unix_ms,
    override: overrideOf(b, commands),
    telemetryOnly: false,
  };
}

function rates(entries: readonly BoardEntry[], windowSeconds: number) {
  if (!entries.length) return { callsPerSecond: null, rejectedPerSecond: null };
  let all = 0;
  let rejected = 0;
  for (const e of entries) {
    all += e.calls.success + e.calls.failure + e.calls.slow + e.calls.rejected;
    rejected += e.calls.rejected;
  }
  return { callsPerSecond: perSecond(all, windowSeconds), rejectedPerSecond: perSecond(rejected, windowSeconds) };
}

function failureShare(entries: readonly BoardEntry[]): number | null {
  let done = 0;
  let failed = 0;
  for (const e of entries) {
    done += e.calls.success + e.calls.failure + e.calls.slow;
    failed += e.calls.failure;
  }
  return done ? (failed / done) * 100 : null;
}

/**
 * The live view after a `breaker` event: that breaker takes the event's view at once
 * (the board merges it with the calls/s it had); a breaker not seen before is added.
 */
export function applyToLive(live: readonly LiveBreaker[], b: LiveBreaker): LiveBreaker[] {
  const index = live.findIndex((x) => x.cluster === b.cluster && x.name === b.name);
  if (index < 0) return [...live, b];
  const next = live.slice();
  next[index] = b;
  return next;
}

/** Open first, then half-open, then everything manual, then closed; by service and name within. */
export function rank(row: BoardRow): number {
  if (row.effective === "open") return 0;
  if (row.effective === "half_open") return 1;
  if (row.override) return 2;
  return 3;
}

export function sortRows(rows: readonly BoardRow[]): BoardRow[] {
  return rows
    .slice()
    .sort((a, b) => rank(a) - rank(b) || a.service.localeCompare(b.service) || a.name.localeCompare(b.name));
}

export interface BoardFilter {
  /** Words that must all appear in the name, service, agent or state. */
  text?: string;
  /** `open`, `half_open`, `closed`, or `manual` for any override. */
  state?: string | null;
  cluster?: string | null;
}

export function filterRows(rows: readonly BoardRow[], filter: BoardFilter): BoardRow[] {
  const words = (filter.text ?? "").toLowerCase().split(/\s+/).filter(Boolean);
  return rows.filter((r) => {
    if (filter.cluster && r.cluster !== filter.cluster) return false;
    if (filter.state) {
      if (filter.state === "manual" ? !r.override : r.effective !== filter.state) return false;
    }
    const hay = `${r.name} ${r.service} ${r.agent} ${r.state} ${r.cluster}`.toLowerCase();
    return words.every((w) => hay.includes(w));
  });
}

export interface Group {
  cluster: string;
  rows: BoardRow[];
}

/** Clusters by name (telemetry-only breakers last), rows sorted within. */
export function groupByCluster(rows: readonly BoardRow[]): Group[] {
  const groups = new Map<string, BoardRow[]>();
  for (const r of rows) groups.set(r.cluster, [...(groups.get(r.cluster) ?? []), r]);
  return [...groups.entries()]
    .sort(([a], [b]) => (a === "" ? 1 : b === "" ? -1 : a.localeCompare(b)))
    .map(([cluster, rows]) => ({ cluster, rows: sortRows(rows) }));
}

/** "3m", "1h 5m", "45s", "2d 3h". */
export function span(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h}h ${m % 60}m` : `${h}h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d}d ${h % 24}h` : `${d}d`;
}

const STATE_WORDS: Record<string, string> = {
  closed: "closed",
  open: "open",
  half_open: "half-open",
  forced_open: "forced open",
  disabled: "disabled",
  observe_only: "observing only",
};

export function stateWords(state: string): string {
  return STATE_WORDS[state] ?? state.replace(/_/g, " ");
}

/** "open for 3m", "closed for 2h 5m". */
export function sinceText(state: string, sinceMs: number | null, now = Date.now()): string {
  if (sinceMs == null || sinceMs <= 0) return stateWords(state);
  return `${stateWords(state)} for ${span(now - sinceMs)}`;
}

/** "forced open by alice until 14:05 (in 8m)", "disabled by bob until released". */
export function overrideText(o: OverrideInfo, now = Date.now(), clock: (ms: number) => string = defaultClock): string {
  const what = o.kind === "forced_open" ? "forced open" : o.kind === "disabled" ? "disabled" : "observing only";
  const by = o.by ? ` by ${o.by}` : "";
  const until = o.untilMs ? ` until ${clock(o.untilMs)} (in ${span(o.untilMs - now)})` : " until released";
  return `${what}${by}${until}`;
}

function defaultClock(ms: number): string {
  return new Date(ms).toLocaleTimeString(undefined, { hour12: false, hour: "2-digit", minute: "2-digit" });
}

/** The commands that make sense now, in the order the buttons show them. */
export function actionsFor(row: Pick<BoardRow, "state" | "automaticState" | "override" | "telemetryOnly">): BreakerAction[] {
  if (row.telemetryOnly) return [];
  const actions: BreakerAction[] = [];
  const manual = row.override != null || (MANUAL as readonly string[]).includes(row.state);
  if (row.state !== "forced_open") actions.push("trip");
  if (row.state !== "disabled") actions.push("disable");
  // Reset ends any override and closes with fresh counts: for anything but a plain closed breaker.
  if (manual || row.state !== "closed" || row.automaticState === "open" || row.automaticState === "half_open") actions.push("reset");
  if (manual) actions.push("release");
  return actions;
}

export const ACTION_LABELS: Record<BreakerAction, string> = {
  trip: "Trip",
  disable: "Disable",
  reset: "Reset",
  release: "Release",
};

function ttlWords(ttlSeconds: number | null | undefined): string {
  return ttlSeconds ? `for ${span(ttlSeconds * 1000)}, then it goes back to automatic` : "until you reset or release it";
}

/** What a command will do to this breaker, in words, for its confirmation. */
export function explain(action: BreakerAction, row: Pick<BoardRow, "name" | "service" | "automaticState" | "override">, ttlSeconds?: number | null): string {
  const who = row.service || "its upstream";
  switch (action) {
    case "trip":
      return `Forces ${row.name} open ${ttlWords(ttlSeconds)}: every call through it to ${who} is rejected at once, without reaching ${who}. The gateway's retries fail fast too, and saga steps that call ${who} fail and compensate.`;
    case "disable":
      return `Holds ${row.name} closed ${ttlWords(ttlSeconds)}: every call goes through to ${who} whatever its failures, so nothing stops callers from piling onto a failing ${who}.`;
    case "reset":
      return `${row.override ? `Ends the manual override (${overrideText(row.override)}) and closes` : "Closes"} ${row.name} now with fresh counts: calls reach ${who} again at once. If ${who} still fails, the breaker opens again once its window fills with failures.`;
    case "release":
      return `Ends the manual override${row.override ? ` (${overrideText(row.override)})` : ""}: ${row.name} goes back to its automatic state${row.automaticState ? `, which is ${stateWords(row.automaticState)} now` : ""}.`;
  }
}

/** "12.5/s", "0.3/s", "—". */
export function rateText(perSecond: number | null | undefined): string {
  if (perSecond == null) return "—";
  if (perSecond === 0) return "0/s";
  if (perSecond < 0.1) return `${(perSecond * 60).toFixed(1)}/min`;
  return `${perSecond < 10 ? perSecond.toFixed(1) : Math.round(perSecond)}/s`;
}

/** A failure rate that is already a percent (0–100). */
export function percentText(pct: number | null | undefined): string {
  if (pct == null) return "—";
  return `${pct > 0 && pct < 10 ? pct.toFixed(1) : Math.round(pct)}%`;
}

// ---- Routes ----

/** Share of the shadowed requests whose responses differed, percent (null: none shadowed). */
export function diffRate(diffs: number, shadowRequests: number): number | null {
  return shadowRequests > 0 ? (diffs / shadowRequests) * 100 : null;
}

/** Each side's share of the requests so far, percent. */
export function sideShares(primary: number, fresh: number): { primary: number; fresh: number } | null {
  const all = primary + fresh;
  return all > 0 ? { primary: (primary / all) * 100, fresh: (fresh / all) * 100 } : null;
}

/** Clients that change sides when the new side's weight goes from `from` to `to` percent. */
export function clientsMoving(from: number, to: number): number {
  return Math.abs(to - from);
}

/** A slider's value snapped to 0–100 in steps of `step`. */
export function snapPercent(value: number, step = 5): number {
  if (!Number.isFinite(value)) return 0;
  return Math.min(100, Math.max(0, Math.round(value / step) * step));
}

// ---- Any command, in words (findings' actions) ----

export interface CommandWords {
  title: string;
  confirmLabel: string;
  explain: string;
  danger: boolean;
}

/** The confirmation's title, button and explanation for a command the console proposes. */
export function describeCommand(command: Command): CommandWords {
  switch (command.action) {
    case "trip":
    case "disable":
    case "reset":
    case "release": {
      // What the finding knows: the breaker's name, not its service or automatic state.
      const row = { name: command.breaker, service: "", automaticState: "", override: null };
      const ttl = "ttl_seconds" in command ? command.ttl_seconds : null;
      return {
        title: `${ACTION_LABELS[command.action]} breaker ${command.breaker}`,
        confirmLabel: ACTION_LABELS[command.action],
        explain: explain(command.action, row, ttl),
        danger: command.action === "trip" || command.action === "disable",
      };
    }
    case "retry_saga":
      return {
        title: `Retry saga ${command.saga_id}`,
        confirmLabel: "Retry",
        explain: `Runs saga ${command.saga_id} again from its failed step${command.input != null ? " with the new input" : " with the same input"}; the steps that passed are not repeated.`,
        danger: false,
      };
    case "compensate_saga":
      return {
        title: `Compensate saga ${command.saga_id}`,
        confirmLabel: "Compensate",
        explain: `Undoes saga ${command.saga_id} now: each step that passed runs its compensation, newest first, and the saga ends compensated.`,
        danger: true,
      };
    case "resolve_saga":
      return {
        title: `Resolve saga ${command.saga_id}`,
        confirmLabel: "Mark resolved",
        explain: `Marks saga ${command.saga_id} resolved by hand: nothing runs, the saga leaves the list of those needing an operator.`,
        danger: false,
      };
    case "set_weight":
      return {
        title: `Set route ${command.route}'s weight`,
        confirmLabel: `Send ${command.new_percent}%`,
        explain: `Sends ${command.new_percent}% of clients to route ${command.route}'s new side and ${100 - command.new_percent}% to its primary.`,
        danger: false,
      };
    case "set_shadow":
      return {
        title: `Set route ${command.route}'s shadow share`,
        confirmLabel: `Shadow ${command.percent}%`,
        explain: `Also sends ${command.percent}% of route ${command.route}'s requests to the other side and compares the answers; clients only ever get their own side's answer.`,
        danger: false,
      };
    case "set_fault":
      return {
        title: `Set faults on ${command.service}`,
        confirmLabel: "Set fault",
        explain: `Injects faults into ${command.service}: error rate ${command.error_rate}, ${command.added_latency_ms} ms added to each call.`,
        danger: true,
      };
  }
}
