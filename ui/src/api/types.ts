// Answers of the console's API shared across views (see crates/console/README.md).

export interface AgentEndpoint {
  endpoint: string;
  tls: unknown | null;
}

export interface Cluster {
  name: string;
  view_only: boolean;
  agents: AgentEndpoint[];
}

export interface AgentHealth {
  cluster: string;
  endpoint: string;
  agent_id: string | null;
  version: string | null;
  connected: boolean;
  last_seen_unix_ms: number | null;
  last_error: string | null;
  reconnects: number;
}

export interface RouteView {
  cluster: string;
  agent: string;
  name: string;
  primary_target: string;
  new_target: string;
  new_percent: number;
  shadow_percent: number;
  primary_requests: number;
  new_requests: number;
  shadow_requests: number;
  shadow_diffs: number;
}

/** A write command for a cluster (`POST /api/commands`), tagged by `action`. */
export type Command =
  | { action: "trip"; breaker: string; ttl_seconds?: number | null }
  | { action: "disable"; breaker: string; ttl_seconds?: number | null }
  | { action: "reset"; breaker: string }
  | { action: "release"; breaker: string }
  | { action: "retry_saga"; saga_id: string; input?: unknown }
  | { action: "compensate_saga"; saga_id: string }
  | { action: "resolve_saga"; saga_id: string; comment: string }
  | { action: "set_weight"; route: string; new_percent: number }
  | { action: "set_shadow"; route: string; percent: number }
  | { action: "set_fault"; service: string; error_rate: number; added_latency_ms: number };

/** A command the console sent (or refused), as recorded, with the agent's answer and verdict. */
export interface CommandRecord {
  id: number;
  at_unix_ms: number;
  cluster: string;
  agent: string | null;
  who: string;
  action: string;
  target: string;
  reason: string;
  args: unknown;
  outcome: "ok" | "error" | "refused" | string;
  error: string | null;
  result: unknown;
  verdict: string | null;
  verdict_at_unix_ms: number | null;
  verdict_detail: unknown;
}

/** What a command would touch (`POST /api/impact`). */
export interface Impact {
  summary: string;
  routes: { route: string; share_percent: number; requests_per_second: number | null }[];
  callers: { service: string; calls: number }[];
  sagas: { saga_name: string; steps: string[]; in_flight: string[] }[];
  clients_moving_percent: number | null;
  sampled_traces: number;
  window_seconds: number;
}
