import { describe, expect, it } from "vitest";
import { ApiError, Client } from "../src/api/client";
import type { LiveMessage, Reply, Transport } from "../src/api/transport";
import {
  attrFilterProblem,
  DEFAULT_SEARCH,
  durationProblem,
  importSummary,
  isImportable,
  searchFromQuery,
  searchHash,
  searchQuery,
  telemetry,
  type TraceSearch,
} from "../src/api/telemetry";

class FakeTransport implements Transport {
  readonly kind = "http" as const;
  calls: { method: string; path: string; body?: string; contentType?: string }[] = [];
  constructor(private reply: Reply) {}
  async request(method: string, path: string, body?: string, contentType?: string): Promise<Reply> {
    this.calls.push({ method, path, body, contentType });
    return this.reply;
  }
  subscribe(_m: (m: LiveMessage) => void, _d: () => void) {
    return () => {};
  }
}

const ok = (body: unknown): Reply => ({ status: 200, contentType: "application/json", body: typeof body === "string" ? body : JSON.stringify(body) });

describe("the search in a link", () => {
  it("leaves defaults out and repeats attr", () => {
    expect(searchHash(DEFAULT_SEARCH)).toBe("#/traces");
    const s: TraceSearch = { ...DEFAULT_SEARCH, service: "shop", errors: true, range: "6h", attrs: ["a=1", "b=x y"], minDuration: "250ms" };
    expect(searchHash(s)).toBe("#/traces?service=shop&errors&range=6h&attr=a%3D1&attr=b%3Dx+y&min=250ms");
  });

  it("reads back what it wrote", () => {
    const s: TraceSearch = { ...DEFAULT_SEARCH, name: "checkout", range: "custom", since: 1000, until: 2000, attrs: ["k=v", "k2=v2"] };
    const hash = searchHash(s);
    expect(searchFromQuery(new URLSearchParams(hash.split("?")[1]))).toEqual(s);
  });

  it("falls back to the default for a range it does not know, and reads a bare errors flag", () => {
    const s = searchFromQuery(new URLSearchParams("range=3y&errors&since=abc"));
    expect(s.range).toBe("1h");
    expect(s.errors).toBe(true);
    expect(s.since).toBeNull();
  });
});

describe("the API's parameters", () => {
  it("sends a preset as a duration back from now", () => {
    const q = searchQuery({ ...DEFAULT_SEARCH, range: "15m", service: "shop" }, 50);
    expect(q).toMatchObject({ since: "15m", until: null, service: "shop", limit: 50, cursor: null });
  });

  it("sends a custom range as Unix ms, and the cursor", () => {
    const q = searchQuery({ ...DEFAULT_SEARCH, range: "custom", since: 5, until: 9 }, 20, "c1");
    expect(q).toMatchObject({ since: 5, until: 9, cursor: "c1" });
  });
});

describe("telemetry calls", () => {
  it("searches with every filter in the query string", async () => {
    const t = new FakeTransport(ok({ traces: [], next_cursor: null }));
    const page = await telemetry(new Client(t)).search({ ...DEFAULT_SEARCH, name: " pay ", errors: true, attrs: ["a=1", "b=2"], minDuration: "1s" }, 10, "x:1");
    expect(page.next_cursor).toBeNull();
    expect(t.calls[0].method).toBe("GET");
    expect(t.calls[0].path).toBe("/api/traces?name=pay&errors&since=1h&min_duration=1s&attr=a%3D1&attr=b%3D2&limit=10&cursor=x%3A1");
  });

  it("reads one trace and exports it as text", async () => {
    const t = new FakeTransport(ok({ trace_id: "ab", spans: [] }));
    const api = telemetry(new Client(t));
    expect((await api.trace("ab")).trace_id).toBe("ab");
    expect(await api.exportTrace("ab")).toBe('{"trace_id":"ab","spans":[]}');
    expect(t.calls.map((c) => c.path)).toEqual(["/api/traces/ab", "/api/traces/ab/export"]);
  });

  it("imports a file's text as JSON", async () => {
    const t = new FakeTransport(ok({ requests: 2, spans: 10, metric_points: 0, log_records: 1 }));
    const result = await telemetry(new Client(t)).importOtlp('{"resourceSpans":[]}');
    expect(result.spans).toBe(10);
    expect(t.calls[0]).toEqual({ method: "POST", path: "/api/import", body: '{"resourceSpans":[]}', contentType: "application/json" });
  });

  it("turns a refused import into an ApiError with the console's message", async () => {
    const t = new FakeTransport({ status: 400, contentType: "application/json", body: JSON.stringify({ error: "spans.json:1:7: not OTLP JSON: expected value", kind: "invalid_request" }) });
    const error = await telemetry(new Client(t)).importOtlp("nope").catch((e) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error.kind).toBe("invalid_request");
    expect(error.message).toContain("not OTLP JSON");
  });

  it("says a missing trace is not found", async () => {
    const t = new FakeTransport({ status: 404, contentType: "application/json", body: JSON.stringify({ error: "no trace ff is stored", kind: "not_found" }) });
    await expect(telemetry(new Client(t)).exportTrace("ff")).rejects.toMatchObject({ status: 404, kind: "not_found" });
  });
});

describe("form checks and wording", () => {
  it("checks attribute filters", () => {
    expect(attrFilterProblem("k=v")).toBeNull();
    expect(attrFilterProblem("k=")).toBeNull();
    expect(attrFilterProblem("kv")).toMatch(/not key=value/);
    expect(attrFilterProblem("=v")).toMatch(/no key/);
  });

  it("checks durations as the API reads them", () => {
    for (const d of ["", "250ms", "1.5s", "2m", "1h 30m", "10us"]) expect(durationProblem(d)).toBeNull();
    for (const d of ["fast", "10", "ms"]) expect(durationProblem(d)).not.toBeNull();
  });

  it("takes .json and .jsonl files only", () => {
    expect(isImportable("spans.json")).toBe(true);
    expect(isImportable("export.JSONL")).toBe(true);
    expect(isImportable("notes.txt")).toBe(false);
    expect(isImportable("json")).toBe(false);
  });

  it("says what an import stored", () => {
    expect(importSummary({ requests: 1, spans: 1, metric_points: 0, log_records: 0 })).toBe("1 span from 1 request");
    expect(importSummary({ requests: 3, spans: 0, metric_points: 2, log_records: 5 })).toBe("2 metric points, 5 log records from 3 requests");
    expect(importSummary({ requests: 1, spans: 0, metric_points: 0, log_records: 0 })).toMatch(/^nothing/);
  });
});
