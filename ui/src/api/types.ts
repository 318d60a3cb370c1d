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

export interface BreakerView {
  cluster: string;
  agent: string;
  name: string;
  service: string;
  state: "closed" | "open" | "half_open" | string;
  automatic_state: string;
  failure_rate: number;
  window_calls: number;
  since_unix_ms: number;
  manual: { action: string; by?: string; reason?: string; until_unix_ms?: number | null } | null;
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

/** A command sent from the console, as recorded, with the agent's answer and verdict. */
export interface CommandRecord {
  id: number;
  cluster: string;
  target: string;
  action: string;
  who: string;
  reason: string | null;
  outcome: string;
  result: string | null;
  verdict: string | null;
  [key: string]: unknown;
}
