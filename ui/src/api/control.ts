// The control views' part of the API (breakers, routes, findings, history, settings):
// the answers' types as the console sends them, and one function per call. Every call
// goes through a `Client`, so the tests give it a fake transport.

import { api, type Client } from "./client";
import type { CommandRecord, Command, RouteView } from "./types";

/** A manual override as the agent reports it (`forced_open`, `disabled`, `observe_only`). */
export interface Override {
  state: string;
  by: string;
  reason: string;
  set_at_unix_ms: number;
  expires_at_unix_ms: number | null;
}

/**
 * A breaker in the live view (`GET /api/breakers`). `state` is the state in force:
 * `closed`, `open`, `half_open`, or an operator's `forced_open`, `disabled`, `observe_only`.
 */
export interface LiveBreaker {
  cluster: string;
  agent: string;
  name: string;
  service: string;
  state: string;
  automatic_state: string;
  /** Percent (0–100) of failed calls in the breaker's current window. */
  failure_rate: number;
  window_calls: number;
  since_unix_ms: number;
  manual: Override | null;
}

export interface CallCounts {
  success: number;
  failure: number;
  slow: number;
  rejected: number;
}

/** One breaker as the telemetry shows it over a range (`GET /api/breakers/board`). */
export interface BoardEntry {
  breaker: string;
  /** The service that reported it (the process holding the breaker). */
  service: string;
  state: string | null;
  rejecting: boolean;
  reported_unix_nano: number | null;
  calls: CallCounts;
}

/** The `breaker` live event: the breaker after the change, and the change. */
export interface BreakerEvent {
  type: "breaker";
  breaker: LiveBreaker;
  from: string;
  reason: string;
  by: string | null;
}

export interface StateSpan {
  state: string;
  since_unix_nano: number;
  until_unix_nano: number;
  reason: string | null;
}

export interface BreakerHistory {
  breaker: string;
  service: string | null;
  range: { since_unix_nano: number; until_unix_nano: number };
  states: StateSpan[];
  transitions: unknown[];
  interval_ns: number;
  calls: ({ start_unix_nano: number } & CallCounts)[];
  failure_rate: { time_unix_nano: number; service: string; percent: number }[];
}

export type FindingKind = "saga_needs_operator" | "saga_stuck" | "breaker_without_traffic" | "projection_lagging" | string;

export interface Finding {
  kind: FindingKind;
  cluster: string;
  subject: string;
  summary: string;
  since_unix_ms: number;
  action: Command | null;
}

/** A state change an agent reported (`GET /api/events`). */
export interface ControlEvent {
  id: number;
  at_unix_ms: number;
  cluster: string;
  agent: string;
  kind: string;
  name: string;
  from_state: string | null;
  to_state: string | null;
  reason: string | null;
  by: string | null;
  note: string | null;
  detail: unknown;
}

export interface TlsSettings {
  ca: string | null;
  domain: string | null;
}

/** A cluster as written (`POST /api/clusters`, `PUT /api/clusters/{name}`). */
export interface ClusterInput {
  name?: string;
  view_only: boolean;
  /** An agent without `token` keeps its stored token on `PUT` (same endpoint). */
  agents: { endpoint: string; token?: string; tls: TlsSettings | null }[];
}

/** One agent's answer to `POST /api/clusters/{name}/test`. */
export interface AgentTest {
  endpoint: string;
  ok: boolean;
  agent_id: string | null;
  version: string | null;
  error: string | null;
  kind: string | null;
}

/** Saved or running settings; a null port: this console does not receive (another process does). */
export interface ReceiverSettings {
  otlp_grpc: string | null;
  otlp_http: string | null;
  retention_age: string | null;
  retention_size_mib: number | null;
}

/** `GET`/`PUT /api/settings`: what is saved, what is running, and whether they differ. */
export interface SettingsAnswer {
  settings: ReceiverSettings;
  effective: ReceiverSettings;
  db_path: string | null;
  /** The settings file they are saved in. */
  file?: string;
  restart_required: boolean;
}

export interface HistoryQuery {
  cluster?: string;
  target?: string;
  since?: string | number;
  without_verdict?: boolean;
  limit?: number;
}

export interface EventsQuery {
  cluster?: string;
  kind?: string;
  name?: string;
  since?: string | number;
  until?: string | number;
  limit?: number;
}

const seg = encodeURIComponent;

/** The calls, over `client` (the shared one unless a test gives another). */
export function controlApi(client: Client = api) {
  return {
    breakers: (cluster?: string) => client.get<LiveBreaker[]>("/breakers", { cluster }),
    /** Calls over `[sinceMs, untilMs]` and the state at its end, per breaker. */
    board: (sinceMs: number, untilMs: number) => client.get<BoardEntry[]>("/breakers/board", { since: sinceMs, until: untilMs }),
    breakerHistory: (name: string, since: string, service?: string) =>
      client.get<BreakerHistory>(`/breakers/${seg(name)}/history`, { since, service, interval: intervalFor(since) }),
    breakerPlot: (name: string, since: string, width = 1000, height = 420) =>
      client.text(`/plots/breaker/${seg(name)}`, { since, format: "svg", width, height }),
    routes: (cluster?: string) => client.get<RouteView[]>("/routes", { cluster }),
    routePlot: (name: string, since: string, width = 1000, height = 360) =>
      client.text(`/plots/route/${seg(name)}`, { since, format: "svg", width, height }),
    findings: () => client.get<Finding[]>("/findings"),
    history: (query: HistoryQuery = {}) => client.get<CommandRecord[]>("/history", { ...query }),
    events: (query: EventsQuery = {}) => client.get<ControlEvent[]>("/events", { ...query }),
    addCluster: (input: ClusterInput) => client.post<unknown>("/clusters", input),
    updateCluster: (name: string, input: ClusterInput) => client.put<unknown>(`/clusters/${seg(name)}`, input),
    removeCluster: (name: string) => client.delete(`/clusters/${seg(name)}`),
    testCluster: (name: string) => client.post<AgentTest[]>(`/clusters/${seg(name)}/test`, {}),
    settings: () => client.get<SettingsAnswer>("/settings"),
    saveSettings: (settings: ReceiverSettings) => client.put<SettingsAnswer>("/settings", settings),
  };
}

/** The history's interval for a range: about 60 points whatever the range. */
export function intervalFor(since: string): string {
  const minutes: Record<string, number> = { "15m": 15, "1h": 60, "6h": 360, "24h": 1440 };
  const m = minutes[since] ?? 60;
  return m <= 15 ? "15s" : m <= 60 ? "1m" : m <= 360 ? "5m" : "30m";
}

export const control = controlApi();
