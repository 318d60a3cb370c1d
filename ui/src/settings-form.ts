// The settings forms without the DOM: a cluster as the form holds it, its validation
// (errors keyed by field, shown at the field), the body the API takes, and the
// receiver's ports and retention.

import type { ClusterInput, ReceiverSettings } from "./api/control";
import type { Cluster } from "./api/types";

export interface AgentDraft {
  endpoint: string;
  /** Blank while editing keeps the stored token (for an endpoint the cluster had). */
  token: string;
  tls: boolean;
  ca: string;
  domain: string;
}

export interface ClusterDraft {
  name: string;
  viewOnly: boolean;
  agents: AgentDraft[];
}

/** Field → message: `name`, `agents`, `agents.0.endpoint`, `agents.0.token`, `agents.0.ca`. */
export type Errors = Record<string, string>;

export function emptyAgent(): AgentDraft {
  return { endpoint: "", token: "", tls: false, ca: "", domain: "" };
}

export function emptyDraft(): ClusterDraft {
  return { name: "", viewOnly: false, agents: [emptyAgent()] };
}

/** The form for editing `cluster` (the API never sends tokens: they start blank). */
export function draftOf(cluster: Cluster): ClusterDraft {
  return {
    name: cluster.name,
    viewOnly: cluster.view_only,
    agents: cluster.agents.map((a) => {
      const tls = (a.tls ?? null) as { ca?: string | null; domain?: string | null } | null;
      return { endpoint: a.endpoint, token: "", tls: tls != null, ca: tls?.ca ?? "", domain: tls?.domain ?? "" };
    }),
  };
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Why `text` is not an agent endpoint (`http://host:port`, `https://` with TLS), or null. */
export function endpointError(text: string, tls: boolean): string | null {
  const value = text.trim();
  if (!value) return "the agent's address is needed, e.g. http://127.0.0.1:7700";
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return "not a URL: write it as http://host:port";
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return "use http:// or https://";
  if (!url.hostname) return "the address needs a host";
  if ((url.pathname && url.pathname !== "/") || url.search || url.hash) return "only scheme, host and port: no path or query";
  if (url.username || url.password) return "no user or password in the address: put the token in its field";
  if (tls && url.protocol === "http:") return "TLS is on: the address must start with https://";
  if (!tls && url.protocol === "https:") return "an https:// address needs TLS on";
  return null;
}

export interface ValidateOptions {
  /** The cluster being edited, as stored (null when adding). */
  editing?: Cluster | null;
  /** Names already taken (for adding). */
  existing?: readonly string[];
}

export function validateCluster(draft: ClusterDraft, options: ValidateOptions = {}): Errors {
  const errors: Errors = {};
  const name = draft.name.trim();
  if (!options.editing) {
    if (!name) errors.name = "give the cluster a name";
    else if (name.length > 64) errors.name = "at most 64 characters";
    else if (!NAME.test(name)) errors.name = "letters, digits, '.', '_' and '-' only, starting with a letter or digit";
    else if (options.existing?.includes(name)) errors.name = `a cluster named ${name} exists already`;
  }
  if (!draft.agents.length) errors.agents = "a cluster needs at least one agent";
  const stored = new Set(options.editing?.agents.map((a) => a.endpoint) ?? []);
  const seen = new Set<string>();
  draft.agents.forEach((agent, i) => {
    const endpoint = agent.endpoint.trim();
    const bad = endpointError(endpoint, agent.tls);
    if (bad) errors[`agents.${i}.endpoint`] = bad;
    else if (seen.has(normalEndpoint(endpoint))) errors[`agents.${i}.endpoint`] = "this agent is listed twice";
    seen.add(normalEndpoint(endpoint));
    const keeps = stored.has(endpoint);
    if (!agent.token && !keeps) {
      errors[`agents.${i}.token`] = options.editing ? "a new agent address needs its token" : "the agent's token is needed";
    } else if (agent.token && /\s/.test(agent.token)) {
      errors[`agents.${i}.token`] = "a token has no spaces or line breaks";
    }
    if (agent.tls && agent.domain && !/^[A-Za-z0-9.-]+$/.test(agent.domain.trim())) {
      errors[`agents.${i}.domain`] = "a host name, e.g. agent.example.com";
    }
  });
  return errors;
}

function normalEndpoint(endpoint: string): string {
  try {
    return new URL(endpoint).origin;
  } catch {
    return endpoint;
  }
}

/** Whether a blank token in this row keeps the stored one. */
export function keepsToken(agent: AgentDraft, editing: Cluster | null | undefined): boolean {
  return !!editing && editing.agents.some((a) => a.endpoint === agent.endpoint.trim());
}

/** The body for `POST` (adding) or `PUT` (editing: blank tokens are left out, so kept). */
export function clusterInput(draft: ClusterDraft, editing: Cluster | null = null): ClusterInput {
  const input: ClusterInput = {
    view_only: draft.viewOnly,
    agents: draft.agents.map((a) => {
      const endpoint = a.endpoint.trim().replace(/\/$/, "");
      const agent: ClusterInput["agents"][number] = {
        endpoint,
        tls: a.tls ? { ca: a.ca.trim() || null, domain: a.domain.trim() || null } : null,
      };
      if (a.token) agent.token = a.token;
      return agent;
    }),
  };
  if (!editing) input.name = draft.name.trim();
  return input;
}

// ---- Receiver ports and retention ----

export interface ReceiverDraft {
  otlpGrpc: string;
  otlpHttp: string;
  retentionAge: string;
  retentionSizeMib: string;
}

export function receiverDraft(s: ReceiverSettings): ReceiverDraft {
  return {
    otlpGrpc: s.otlp_grpc ?? "",
    otlpHttp: s.otlp_http ?? "",
    retentionAge: s.retention_age ?? "",
    retentionSizeMib: s.retention_size_mib == null ? "" : String(s.retention_size_mib),
  };
}

/** Why `text` is not a listen address (`127.0.0.1:4317`, `0.0.0.0:4317`, `[::1]:4317`), or null. */
export function addressError(text: string): string | null {
  const value = text.trim();
  if (!value) return "an IP address and port, e.g. 127.0.0.1:4317";
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3}):(\d{1,5})$/.exec(value);
  const v6 = /^\[([0-9A-Fa-f:.]+)\]:(\d{1,5})$/.exec(value);
  if (!v4 && !v6) {
    if (/^[A-Za-z][A-Za-z0-9.-]*:\d+$/.test(value)) return "an IP address, not a host name: 127.0.0.1 for this machine only, 0.0.0.0 for every interface";
    return "write it as IP:port, e.g. 127.0.0.1:4317";
  }
  if (v4 && v4.slice(1, 5).some((octet) => Number(octet) > 255)) return "each part of an IPv4 address is 0 to 255";
  if (v6 && !v6[1].includes(":")) return "not an IPv6 address";
  const port = Number(v4 ? v4[5] : v6![2]);
  if (port < 1 || port > 65535) return "the port is 1 to 65535";
  return null;
}

const UNITS = "nsec|ns|usec|us|msec|ms|seconds|second|secs|sec|s|minutes|minute|mins|min|m|hours|hour|hrs|hr|h|days|day|d|weeks|week|w|months|month|M|years|year|y";
const DURATION = new RegExp(`^(\\d+\\s*(${UNITS})\\s*)+$`);

/** Why `text` is not a retention age (`7days`, `36h`, `2weeks`, `off`), or null. */
export function durationError(text: string): string | null {
  const value = text.trim();
  if (!value) return "a duration such as 7days or 36h, or off";
  if (value === "off" || DURATION.test(value)) return null;
  return "a duration such as 7days, 36h or 2weeks, or off to keep everything";
}

/** Blank fields are allowed: they save as null, which is the default. */
export function validateReceiver(d: ReceiverDraft): Errors {
  const errors: Errors = {};
  const grpc = d.otlpGrpc.trim() ? addressError(d.otlpGrpc) : null;
  if (grpc) errors.otlpGrpc = grpc;
  const http = d.otlpHttp.trim() ? addressError(d.otlpHttp) : null;
  if (http) errors.otlpHttp = http;
  if (!grpc && !http && d.otlpGrpc.trim() && d.otlpGrpc.trim() === d.otlpHttp.trim()) errors.otlpHttp = "gRPC and HTTP need different ports";
  const age = d.retentionAge.trim() ? durationError(d.retentionAge) : null;
  if (age) errors.retentionAge = age;
  const size = d.retentionSizeMib.trim();
  if (size && !/^\d+$/.test(size)) errors.retentionSizeMib = "whole MiB, 0 for no limit";
  return errors;
}

export function receiverSettings(d: ReceiverDraft): ReceiverSettings {
  const text = (v: string) => v.trim() || null;
  return {
    otlp_grpc: text(d.otlpGrpc),
    otlp_http: text(d.otlpHttp),
    retention_age: text(d.retentionAge),
    retention_size_mib: d.retentionSizeMib.trim() ? Number(d.retentionSizeMib.trim()) : null,
  };
}

/** The fields whose saved value differs from the running one (they wait for a restart). */
export function pendingRestart(saved: ReceiverSettings, effective: ReceiverSettings): (keyof ReceiverSettings)[] {
  return (Object.keys(saved) as (keyof ReceiverSettings)[]).filter((k) => saved[k] != null && String(saved[k]) !== String(effective[k]));
}
