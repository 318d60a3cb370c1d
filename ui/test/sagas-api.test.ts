import { describe, expect, it } from "vitest";
import { ApiError, Client } from "../src/api/client";
import {
  actionsNote,
  aggregateFlow,
  chartInterval,
  describeRange,
  explainAction,
  filterFromQuery,
  filterToQuery,
  narrow,
  newestCompleted,
  rangeToNanos,
  runBulk,
  sagaActions,
  sagaFlow,
  searchQuery,
  searchSagas,
  type BulkRequest,
} from "../src/api/sagas";
import type { Reply, Transport } from "../src/api/transport";
import { href } from "../src/router";
import { failedAtShipment, instance } from "./fixtures-sagas";

/** A transport that records requests and answers from a table of paths. */
function fake(answer: (method: string, path: string, body?: string) => Reply) {
  const calls: { method: string; path: string; body?: string }[] = [];
  const transport: Transport = {
    kind: "http",
    async request(method, path, body) {
      calls.push({ method, path, body });
      return answer(method, path, body);
    },
    subscribe: () => () => {},
  };
  return { client: new Client(transport), calls };
}

const json = (value: unknown, status = 200): Reply => ({ status, contentType: "application/json", body: JSON.stringify(value) });

describe("the list's filter in the hash", () => {
  it("defaults to every saga of the last hour", () => {
    const f = filterFromQuery(new URLSearchParams(""));
    expect(f).toEqual({ name: "", failedOnly: false, step: "", range: { preset: "1h", sinceMs: null, untilMs: null }, text: "" });
    expect(href("sagas", filterToQuery(f))).toBe("#/sagas");
  });

  it("round-trips through href", () => {
    const f = filterFromQuery(new URLSearchParams("failed&name=checkout&step=charge-card&since=24h&q=402"));
    expect(f.failedOnly).toBe(true);
    expect(f.range.preset).toBe("24h");
    const link = href("sagas", filterToQuery(f));
    expect(link).toBe("#/sagas?name=checkout&failed&step=charge-card&since=24h&q=402");
    expect(filterFromQuery(new URLSearchParams(link.split("?")[1]))).toEqual(f);
  });

  it("keeps a custom range in Unix ms and ignores nonsense", () => {
    const f = filterFromQuery(new URLSearchParams("since=1700000000000&until=1700003600000"));
    expect(f.range).toEqual({ preset: null, sinceMs: 1_700_000_000_000, untilMs: 1_700_003_600_000 });
    expect(filterFromQuery(new URLSearchParams("since=yesterday")).range.preset).toBe("1h");
  });

  it("says what an empty list means", () => {
    expect(describeRange({ preset: "1h", sinceMs: null, untilMs: null })).toBe("in the last hour");
    expect(describeRange({ preset: "all", sinceMs: null, untilMs: null })).toBe("at any time");
  });
});

describe("searchSagas", () => {
  it("asks failed first with the range and filters the failing step here", async () => {
    const sagas = [
      instance({ saga_id: "o-1", failed_step: "charge-card" }),
      instance({ saga_id: "o-2", failed_step: "create-shipment" }),
      instance({ saga_id: "o-3", failed: false, outcome: "completed", failed_step: null, error: null }),
    ];
    const { client, calls } = fake(() => json(sagas));
    const filter = filterFromQuery(new URLSearchParams("failed&name=checkout&step=charge-card&since=6h"));
    const found = await searchSagas(filter, 50, client);
    expect(found.map((s) => s.saga_id)).toEqual(["o-1"]);
    expect(calls[0].method).toBe("GET");
    // The step is filtered here, so more are read than shown.
    expect(calls[0].path).toBe("/api/sagas?failed&name=checkout&failed_first&limit=1000&since=6h");
  });

  it("sends no range for any time, and the plain limit without local filters", () => {
    const q = searchQuery(filterFromQuery(new URLSearchParams("since=all")), 200);
    expect(q).toEqual({ failed: false, name: undefined, failed_first: true, limit: 200 });
  });

  it("matches the text in the id, the name or the error", () => {
    const sagas = [instance({ saga_id: "o-abc", error: "402 Payment Required" }), instance({ saga_id: "o-def", error: "409 Conflict" })];
    const f = (text: string) => narrow(sagas, { ...filterFromQuery(new URLSearchParams("")), text }).map((s) => s.saga_id);
    expect(f("payment")).toEqual(["o-abc"]);
    expect(f("DEF")).toEqual(["o-def"]);
    expect(f("checkout")).toEqual(["o-abc", "o-def"]);
  });
});

describe("calls", () => {
  it("reads a flow by id, escaped, and surfaces the console's error", async () => {
    const { client, calls } = fake(() => json({ error: 'no saga "o 1" is stored', kind: "not_found" }, 404));
    const failure = await sagaFlow("o 1", client).catch((e) => e);
    expect(calls[0].path).toBe("/api/sagas/o%201/flow");
    expect(failure).toBeInstanceOf(ApiError);
    expect(failure.kind).toBe("not_found");
    expect(failure.message).toBe('no saga "o 1" is stored');
  });

  it("reads the aggregate for a bounded range (any time becomes 7 days)", async () => {
    const { client, calls } = fake(() => json({ saga_name: "checkout", steps: [] }));
    await aggregateFlow("checkout", { preset: "all", sinceMs: null, untilMs: null }, client);
    await aggregateFlow("checkout", { preset: null, sinceMs: 10, untilMs: 20 }, client);
    expect(calls.map((c) => c.path)).toEqual(["/api/sagas/aggregate/checkout?since=7d", "/api/sagas/aggregate/checkout?since=10&until=20"]);
  });

  it("posts the bulk body as the console reads it", async () => {
    const report = { dry_run: true, matched: 1, succeeded: 0, failed: 0, items: [{ saga_id: "o-1", saga_name: "checkout", failed_step: "charge-card", outcome: "planned", error: null }] };
    const { client, calls } = fake(() => json(report));
    const request: BulkRequest = {
      cluster: "demo",
      action: "compensate",
      saga_name: "checkout",
      failed_step: "charge-card",
      range: rangeToNanos({ preset: "1h", sinceMs: null, untilMs: null }, 10_000_000),
      limit: 50,
      dry_run: true,
      reason: "payments outage",
      who: "console-ui",
      comment: "",
    };
    expect(await runBulk(request, client)).toEqual(report);
    expect(calls[0].method).toBe("POST");
    expect(calls[0].path).toBe("/api/sagas/bulk");
    expect(JSON.parse(calls[0].body!)).toEqual({
      ...request,
      range: { since_unix_nano: (10_000_000 - 3_600_000) * 1_000_000, until_unix_nano: (10_000_000 + 60_000) * 1_000_000 },
    });
  });

  it("finds the newest completed instance of a saga", async () => {
    const { client, calls } = fake(() =>
      json([
        instance({ saga_id: "o-old", outcome: "completed", start_unix_nano: 1 }),
        instance({ saga_id: "o-failed", outcome: "compensated", start_unix_nano: 9 }),
        instance({ saga_id: "o-new", outcome: "completed", start_unix_nano: 5 }),
      ]),
    );
    expect((await newestCompleted("checkout", client))!.saga_id).toBe("o-new");
    expect(calls[0].path).toBe("/api/sagas?name=checkout&limit=200");
    const none = fake(() => json([]));
    expect(await newestCompleted("checkout", none.client)).toBeNull();
  });
});

describe("ranges", () => {
  it("turns presets and custom bounds into nanoseconds, any time into none", () => {
    expect(rangeToNanos({ preset: "all", sinceMs: null, untilMs: null }, 1000)).toBeNull();
    expect(rangeToNanos({ preset: null, sinceMs: 5, untilMs: 7 }, 1000)).toEqual({ since_unix_nano: 5_000_000, until_unix_nano: 7_000_000 });
  });

  it("picks a chart interval that gives at most 30 bars", () => {
    expect(chartInterval({ preset: "15m", sinceMs: null, untilMs: null }, 0)).toBe("1m");
    expect(chartInterval({ preset: "1h", sinceMs: null, untilMs: null }, 0)).toBe("5m");
    expect(chartInterval({ preset: "24h", sinceMs: null, untilMs: null }, 0)).toBe("1h");
    expect(chartInterval({ preset: "7d", sinceMs: null, untilMs: null }, 0)).toBe("6h");
  });
});

describe("sagaActions", () => {
  const now = 1_000_000; // ms
  const at = (ms: number) => ms * 1_000_000;

  it("offers everything on a failed saga", () => {
    const a = sagaActions(instance({ outcome: "failed" }), null, now);
    expect([a.retry_saga.enabled, a.compensate_saga.enabled, a.resolve_saga.enabled]).toEqual([true, true, true]);
    expect(actionsNote(a, "failed")).toBe("");
  });

  it("offers nothing on an ended saga, and says why", () => {
    const a = sagaActions(instance({ outcome: "compensated" }), null, now);
    expect([a.retry_saga.enabled, a.compensate_saga.enabled, a.resolve_saga.enabled]).toEqual([false, false, false]);
    expect(actionsNote(a, "compensated")).toMatch(/ended compensated/);
  });

  it("trusts the orchestrator's status over the telemetry's", () => {
    const a = sagaActions(instance({ outcome: "compensated" }), "failed", now);
    expect(a.retry_saga.enabled).toBe(true);
    const b = sagaActions(instance({ outcome: "failed" }), "resolved", now);
    expect(b.resolve_saga.enabled).toBe(false);
  });

  it("lets a running saga be compensated, and resolved only once stuck", () => {
    const fresh = sagaActions(instance({ outcome: "running", start_unix_nano: at(now - 1000), duration_ns: 0 }), null, now);
    expect([fresh.retry_saga.enabled, fresh.compensate_saga.enabled, fresh.resolve_saga.enabled]).toEqual([false, true, false]);
    const stuck = sagaActions(instance({ outcome: "running", start_unix_nano: at(now - 10 * 60_000), duration_ns: 0 }), null, now);
    expect(stuck.resolve_saga.enabled).toBe(true);
  });
});

describe("explainAction", () => {
  it("says which step runs again and what follows", () => {
    const flow = failedAtShipment();
    expect(explainAction("retry_saga", flow)).toBe("The orchestrator runs create-shipment again with its last input, then completes the saga.");
    flow.steps[1].status = "failed";
    flow.steps[2].status = "not_run";
    expect(explainAction("retry_saga", flow)).toBe("The orchestrator runs charge-card again with its last input, then continues with create-shipment.");
  });

  it("names failed compensations to retry first", () => {
    const flow = failedAtShipment();
    flow.steps[0].compensation = "failed";
    expect(explainAction("retry_saga", flow)).toMatch(/retries the failed compensation of reserve-stock/);
  });

  it("lists the steps to undo in reverse order", () => {
    const flow = failedAtShipment();
    flow.steps[0].compensation = "none";
    flow.steps[1].compensation = "none";
    expect(explainAction("compensate_saga", flow)).toBe("The orchestrator stops saga o-1 and undoes its completed steps in reverse order: charge-card → reserve-stock.");
  });
});
