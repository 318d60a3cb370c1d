// Stored telemetry: services, trace search, one trace, OTLP JSON import and export
// (crates/console/README.md), and the trace search's state as it reads in a link.

import { api, type Client, type Query } from "./client";

export interface ServiceSummary {
  name: string;
  resources: number;
  first_seen_unix_nano: number;
  last_seen_unix_nano: number;
}

export interface TraceSummary {
  trace_id: string;
  root_name: string;
  service: string;
  start_unix_nano: number;
  duration_ns: number;
  span_count: number;
  error: boolean;
  error_count: number;
}

export interface TracePage {
  traces: TraceSummary[];
  next_cursor: string | null;
}

/** An attribute value as the store answers it (bytes as base64, kvlists as objects). */
export type AttrValue = string | number | boolean | null | AttrValue[] | { [key: string]: AttrValue };
export type Attributes = Record<string, AttrValue>;

export interface SpanEvent {
  time_unix_nano: number;
  name: string;
  attributes: Attributes;
  dropped_attributes_count?: number;
}

export interface SpanLink {
  trace_id: string;
  span_id: string;
  trace_state?: string;
  flags: number;
  attributes: Attributes;
  dropped_attributes_count?: number;
}

export type SpanKind = "unspecified" | "internal" | "server" | "client" | "producer" | "consumer";
export type StatusCode = "unset" | "ok" | "error";

export interface Span {
  span_id: string;
  /** Empty for a root span. */
  parent_span_id: string;
  name: string;
  kind: SpanKind;
  service: string;
  /** Unix nanoseconds: past 2^53, so JSON numbers carry them to within ~256 ns. */
  start_unix_nano: number;
  end_unix_nano: number;
  status: { code: StatusCode; message: string };
  attributes: Attributes;
  events: SpanEvent[];
  links: SpanLink[];
  scope: { name: string; version?: string };
  trace_state?: string;
  flags: number;
  dropped_attributes_count?: number;
  dropped_events_count?: number;
  dropped_links_count?: number;
}

/** A whole trace, spans ordered by start time. */
export interface Trace {
  trace_id: string;
  spans: Span[];
}

/** What `POST /api/import` stored. */
export interface ImportResult {
  requests: number;
  spans: number;
  metric_points: number;
  log_records: number;
}

/** Files above this are refused before they are read. */
export const MAX_IMPORT_BYTES = 64 * 1024 * 1024;

// ---- the trace search, as a form, a link and a query ------------------------------

export const RANGE_PRESETS = ["15m", "1h", "6h", "24h"] as const;
export type RangePreset = (typeof RANGE_PRESETS)[number];

export interface TraceSearch {
  service: string;
  /** The span name (operation). */
  name: string;
  errors: boolean;
  /** A preset back from now, or "custom" with `since`/`until` as Unix ms. */
  range: RangePreset | "custom";
  since: number | null;
  until: number | null;
  /** `key=value` filters, all of which must match. */
  attrs: string[];
  /** A duration as the API reads it: `250ms`, `1.5s`, `2m`. */
  minDuration: string;
}

export const DEFAULT_SEARCH: TraceSearch = {
  service: "",
  name: "",
  errors: false,
  range: "1h",
  since: null,
  until: null,
  attrs: [],
  minDuration: "",
};

function integer(value: string | null): number | null {
  if (value === null || !/^\d+$/.test(value)) return null;
  return Number(value);
}

/** The search a link describes (`#/traces?service=x&errors&range=6h&attr=k=v`). */
export function searchFromQuery(query: URLSearchParams): TraceSearch {
  const range = query.get("range");
  return {
    service: query.get("service") ?? "",
    name: query.get("name") ?? "",
    errors: query.has("errors") && query.get("errors") !== "false",
    range: range === "custom" || (RANGE_PRESETS as readonly string[]).includes(range ?? "") ? (range as TraceSearch["range"]) : DEFAULT_SEARCH.range,
    since: integer(query.get("since")),
    until: integer(query.get("until")),
    attrs: query.getAll("attr").filter((a) => a !== ""),
    minDuration: query.get("min") ?? "",
  };
}

/** The hash for a search: only what differs from the default, repeated `attr`s. */
export function searchHash(search: TraceSearch): string {
  const q = new URLSearchParams();
  if (search.service) q.set("service", search.service);
  if (search.name) q.set("name", search.name);
  if (search.errors) q.set("errors", "");
  if (search.range !== DEFAULT_SEARCH.range) q.set("range", search.range);
  if (search.range === "custom") {
    if (search.since !== null) q.set("since", String(search.since));
    if (search.until !== null) q.set("until", String(search.until));
  }
  for (const attr of search.attrs) q.append("attr", attr);
  if (search.minDuration) q.set("min", search.minDuration);
  const s = q.toString().replace(/=(?=&|$)/g, "");
  return `#/traces${s ? `?${s}` : ""}`;
}

/** The API's parameters for a search (and a page's cursor). */
export function searchQuery(search: TraceSearch, limit: number, cursor?: string | null): Query {
  const custom = search.range === "custom";
  return {
    service: search.service,
    name: search.name.trim(),
    errors: search.errors,
    since: custom ? search.since : search.range,
    until: custom ? search.until : null,
    min_duration: search.minDuration.trim(),
    attr: search.attrs,
    limit,
    cursor: cursor ?? null,
  };
}

/** Why an attribute filter would be refused, or null when it reads as `key=value`. */
export function attrFilterProblem(filter: string): string | null {
  const eq = filter.indexOf("=");
  if (eq < 0) return `"${filter}" is not key=value`;
  if (eq === 0) return `"${filter}" has no key before =`;
  return null;
}

/** Why a minimum duration would be refused (the API reads humantime: 250ms, 1.5s, 2m). */
export function durationProblem(text: string): string | null {
  const t = text.trim();
  if (t === "") return null;
  if (/^(\d+(\.\d+)?\s*(ns|us|µs|ms|s|sec|m|min|h|hr|d|days?)\s*)+$/i.test(t)) return null;
  return `"${t}" is not a duration like 250ms, 1.5s or 2m`;
}

/** Whether a dropped file's name says OTLP JSON. */
export function isImportable(fileName: string): boolean {
  return /\.(json|jsonl|ndjson)$/i.test(fileName);
}

/** What an import stored, in words. */
export function importSummary(r: ImportResult): string {
  const parts: string[] = [];
  if (r.spans) parts.push(`${r.spans.toLocaleString()} span${r.spans === 1 ? "" : "s"}`);
  if (r.metric_points) parts.push(`${r.metric_points.toLocaleString()} metric point${r.metric_points === 1 ? "" : "s"}`);
  if (r.log_records) parts.push(`${r.log_records.toLocaleString()} log record${r.log_records === 1 ? "" : "s"}`);
  const what = parts.length ? parts.join(", ") : "nothing (the requests were empty)";
  return `${what} from ${r.requests} request${r.requests === 1 ? "" : "s"}`;
}

// ---- calls ----------------------------------------------------------------------

export function telemetry(client: Client = api) {
  return {
    services: () => client.get<ServiceSummary[]>("/services"),
    search: (search: TraceSearch, limit = 50, cursor?: string | null) => client.get<TracePage>("/traces", searchQuery(search, limit, cursor)),
    trace: (id: string) => client.get<Trace>(`/traces/${encodeURIComponent(id)}`),
    /** The OTLP JSON text of one ExportTraceServiceRequest. */
    exportTrace: (id: string) => client.text(`/traces/${encodeURIComponent(id)}/export`),
    importOtlp: (text: string) => client.postText<ImportResult>("/import", text, "application/json"),
  };
}

export const telemetryApi = telemetry();
