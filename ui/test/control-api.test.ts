import { describe, expect, it } from "vitest";
import { ApiError, Client } from "../src/api/client";
import { controlApi, intervalFor } from "../src/api/control";
import type { LiveMessage, Reply, Transport } from "../src/api/transport";

interface Sent {
  method: string;
  path: string;
  body?: unknown;
}

/** A transport that records what it was asked and answers from `replies` in turn. */
function fake(...replies: Reply[]) {
  const sent: Sent[] = [];
  const transport: Transport = {
    kind: "http",
    async request(method: string, path: string, body?: string): Promise<Reply> {
      sent.push({ method, path, body: body === undefined ? undefined : JSON.parse(body) });
      return replies.shift() ?? { status: 200, contentType: "application/json", body: "[]" };
    },
    subscribe(_: (m: LiveMessage) => void) {
      return () => {};
    },
  };
  return { sent, api: controlApi(new Client(transport)) };
}

const json = (status: number, value: unknown): Reply => ({ status, contentType: "application/json", body: JSON.stringify(value) });

describe("control API calls", () => {
  it("reads the board over an explicit window and breakers of one cluster", async () => {
    const { sent, api } = fake(json(200, []), json(200, []));
    await api.board(1000, 61000);
    await api.breakers("demo");
    expect(sent.map((s) => `${s.method} ${s.path}`)).toEqual(["GET /api/breakers/board?since=1000&until=61000", "GET /api/breakers?cluster=demo"]);
  });

  it("escapes breaker names in paths and asks for SVG charts", async () => {
    const { sent, api } = fake({ status: 200, contentType: "image/svg+xml", body: "<svg/>" }, json(200, { states: [] }));
    expect(await api.breakerPlot("upstream.orders.127.0.0.1:37063", "15m")).toBe("<svg/>");
    await api.breakerHistory("a/b", "6h");
    expect(sent[0].path).toBe("/api/plots/breaker/upstream.orders.127.0.0.1%3A37063?since=15m&format=svg&width=1000&height=420");
    expect(sent[1].path).toBe("/api/breakers/a%2Fb/history?since=6h&interval=5m");
  });

  it("filters the history with a bare without_verdict flag and leaves empty filters out", async () => {
    const { sent, api } = fake();
    await api.history({ cluster: "demo", target: undefined, without_verdict: true, limit: 50 });
    await api.history({ without_verdict: false });
    await api.events({ kind: "breaker", name: "b" });
    expect(sent.map((s) => s.path)).toEqual([
      "/api/history?cluster=demo&without_verdict&limit=50",
      "/api/history",
      "/api/events?kind=breaker&name=b",
    ]);
  });

  it("writes clusters: POST to add, PUT by name, DELETE, and POST to test", async () => {
    const { sent, api } = fake(json(201, {}), json(200, {}), { status: 204, contentType: "", body: "" }, json(200, [{ endpoint: "e", ok: true }]));
    await api.addCluster({ name: "shop", view_only: false, agents: [{ endpoint: "http://h:1", token: "t", tls: null }] });
    await api.updateCluster("my shop", { view_only: true, agents: [{ endpoint: "http://h:1", tls: null }] });
    await api.removeCluster("shop");
    const tests = await api.testCluster("shop");
    expect(sent.map((s) => `${s.method} ${s.path}`)).toEqual([
      "POST /api/clusters",
      "PUT /api/clusters/my%20shop",
      "DELETE /api/clusters/shop",
      "POST /api/clusters/shop/test",
    ]);
    expect(sent[1].body).toEqual({ view_only: true, agents: [{ endpoint: "http://h:1", tls: null }] });
    expect(tests[0].ok).toBe(true);
  });

  it("reads and saves the receiver settings", async () => {
    const answer = {
      settings: { otlp_grpc: "127.0.0.1:4000", otlp_http: "127.0.0.1:4318", retention_age: "7days", retention_size_mib: 2048 },
      effective: { otlp_grpc: "127.0.0.1:4317", otlp_http: "127.0.0.1:4318", retention_age: "7days", retention_size_mib: 2048 },
      db_path: "/tmp/t.db",
      restart_required: true,
    };
    const { sent, api } = fake(json(200, answer));
    const saved = await api.saveSettings(answer.settings);
    expect(sent[0]).toEqual({ method: "PUT", path: "/api/settings", body: answer.settings });
    expect(saved.restart_required).toBe(true);
  });

  it("turns the console's errors into ApiError with its kind and message", async () => {
    const { api } = fake(json(404, { error: "no API endpoint /api/settings", kind: "not_found" }), json(403, { error: "cluster shop is view-only", kind: "view_only" }));
    await expect(api.settings()).rejects.toMatchObject({ status: 404, kind: "not_found", message: "no API endpoint /api/settings" });
    const error = await api.testCluster("shop").catch((e) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error.kind).toBe("view_only");
  });

  it("picks about sixty intervals for each range", () => {
    expect(intervalFor("15m")).toBe("15s");
    expect(intervalFor("1h")).toBe("1m");
    expect(intervalFor("6h")).toBe("5m");
    expect(intervalFor("24h")).toBe("30m");
  });
});
