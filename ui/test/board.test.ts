import { describe, expect, it } from "vitest";
import type { BoardEntry, LiveBreaker } from "../src/api/control";
import type { CommandRecord } from "../src/api/types";
import {
  actionsFor,
  applyToLive,
  clientsMoving,
  describeCommand,
  diffRate,
  effectiveState,
  explain,
  filterRows,
  groupByCluster,
  mergeBoard,
  overrideOf,
  overrideText,
  percentText,
  rateText,
  sideShares,
  sinceText,
  snapPercent,
  sortRows,
  span,
} from "../src/board";

const NOW = 1_795_701_600_000;

function breaker(name: string, change: Partial<LiveBreaker> = {}): LiveBreaker {
  return {
    cluster: "demo",
    agent: "demo",
    name,
    service: name.split(".")[1] ?? name,
    state: "closed",
    automatic_state: "closed",
    failure_rate: 0,
    window_calls: 20,
    since_unix_ms: NOW - 60_000,
    manual: null,
    ...change,
  };
}

function entry(name: string, calls: Partial<BoardEntry["calls"]> = {}): BoardEntry {
  return {
    breaker: name,
    service: "switchyard-demo",
    state: "closed",
    rejecting: false,
    reported_unix_nano: NOW * 1e6,
    calls: { success: 0, failure: 0, slow: 0, rejected: 0, ...calls },
  };
}

function command(change: Partial<CommandRecord>): CommandRecord {
  return {
    id: 1,
    at_unix_ms: NOW - 30_000,
    cluster: "demo",
    agent: "http://127.0.0.1:7730",
    who: "alice",
    action: "trip",
    target: "upstream.orders",
    reason: "game day",
    args: { action: "trip", breaker: "upstream.orders", ttl_seconds: 600 },
    outcome: "ok",
    error: null,
    result: null,
    verdict: null,
    verdict_at_unix_ms: null,
    verdict_detail: null,
    ...change,
  };
}

describe("effectiveState", () => {
  it("maps operator states to what callers meet", () => {
    expect(effectiveState("forced_open")).toBe("open");
    expect(effectiveState("disabled")).toBe("closed");
    expect(effectiveState("observe_only")).toBe("closed");
    expect(effectiveState("half_open")).toBe("half_open");
    expect(effectiveState("open")).toBe("open");
    expect(effectiveState(null)).toBe("closed");
  });
});

describe("mergeBoard", () => {
  it("joins the live view with the telemetry's calls per second by breaker name", () => {
    const rows = mergeBoard(
      [breaker("upstream.orders"), breaker("upstream.payments")],
      [entry("upstream.orders", { success: 100, failure: 10, rejected: 10 })],
      60,
    );
    expect(rows).toHaveLength(2);
    const orders = rows.find((r) => r.name === "upstream.orders")!;
    expect(orders.callsPerSecond).toBeCloseTo(2);
    expect(orders.rejectedPerSecond).toBeCloseTo(10 / 60);
    expect(orders.service).toBe("orders"); // the live view's service, not the reporting process
    const payments = rows.find((r) => r.name === "upstream.payments")!;
    expect(payments.callsPerSecond).toBeNull();
  });

  it("adds breakers only the telemetry knows, without commands", () => {
    const rows = mergeBoard([], [entry("egress.db:5432", { success: 3, failure: 1 })], 60);
    expect(rows).toHaveLength(1);
    expect(rows[0].telemetryOnly).toBe(true);
    expect(rows[0].cluster).toBe("");
    expect(rows[0].failureRate).toBeCloseTo(25);
    expect(actionsFor(rows[0])).toEqual([]);
  });
});

describe("overrideOf", () => {
  it("uses the agent's manual override when it sends one", () => {
    const o = overrideOf(
      breaker("upstream.orders", {
        state: "forced_open",
        manual: { state: "forced_open", by: "bob", reason: "drill", set_at_unix_ms: NOW, expires_at_unix_ms: NOW + 60_000 },
      }),
    );
    expect(o).toEqual({ kind: "forced_open", by: "bob", reason: "drill", untilMs: NOW + 60_000 });
  });

  it("falls back to the newest successful trip for who and until when", () => {
    const commands = [
      command({ id: 1, at_unix_ms: NOW - 90_000, who: "old" }),
      command({ id: 2, at_unix_ms: NOW - 30_000, who: "alice" }),
      command({ id: 3, at_unix_ms: NOW - 10_000, who: "mallory", outcome: "error" }),
      command({ id: 4, at_unix_ms: NOW - 5_000, who: "other", target: "upstream.payments" }),
    ];
    const o = overrideOf(breaker("upstream.orders", { state: "forced_open" }), commands);
    expect(o).toEqual({ kind: "forced_open", by: "alice", reason: "game day", untilMs: NOW - 30_000 + 600_000 });
  });

  it("says nothing of who when no command explains a forced state, and nothing at all for automatic states", () => {
    expect(overrideOf(breaker("b", { state: "disabled" }))).toEqual({ kind: "disabled", by: null, reason: null, untilMs: null });
    expect(overrideOf(breaker("b", { state: "open" }), [command({ target: "b" })])).toBeNull();
  });
});

describe("applyToLive", () => {
  it("replaces the breaker the event names and leaves the others", () => {
    const before = [breaker("a"), breaker("b")];
    const after = applyToLive(before, breaker("b", { state: "open", failure_rate: 60 }));
    expect(after.map((b) => b.state)).toEqual(["closed", "open"]);
    expect(before[1].state).toBe("closed");
  });

  it("keeps breakers of the same name in other clusters apart and adds new ones", () => {
    const before = [breaker("a"), breaker("a", { cluster: "prod" })];
    const after = applyToLive(before, breaker("a", { cluster: "prod", state: "half_open" }));
    expect(after.map((b) => `${b.cluster}:${b.state}`)).toEqual(["demo:closed", "prod:half_open"]);
    expect(applyToLive(before, breaker("c"))).toHaveLength(3);
  });

  it("makes the merged row take the new state at once while its calls/s stay", () => {
    const live = applyToLive([breaker("a")], breaker("a", { state: "forced_open" }));
    const [row] = mergeBoard(live, [entry("a", { success: 60 })], 60);
    expect(row.effective).toBe("open");
    expect(row.callsPerSecond).toBe(1);
  });
});

describe("sorting, grouping and filtering", () => {
  const rows = mergeBoard(
    [
      breaker("upstream.a", { state: "closed" }),
      breaker("upstream.b", { state: "half_open", automatic_state: "half_open" }),
      breaker("upstream.c", { state: "open", automatic_state: "open" }),
      breaker("upstream.d", { state: "disabled" }),
      breaker("upstream.e", { state: "forced_open", cluster: "prod" }),
    ],
    [entry("egress.x")],
    60,
  );

  it("puts open first, then half-open, then overrides, then closed", () => {
    expect(sortRows(rows.filter((r) => r.cluster === "demo")).map((r) => r.name)).toEqual([
      "upstream.c",
      "upstream.b",
      "upstream.d",
      "upstream.a",
    ]);
  });

  it("groups by cluster, telemetry-only last", () => {
    const groups = groupByCluster(rows);
    expect(groups.map((g) => g.cluster)).toEqual(["demo", "prod", ""]);
    expect(groups[0].rows[0].name).toBe("upstream.c");
  });

  it("filters by state (forced open counts as open), override, cluster and words", () => {
    expect(filterRows(rows, { state: "open" }).map((r) => r.name).sort()).toEqual(["upstream.c", "upstream.e"]);
    expect(filterRows(rows, { state: "manual" }).map((r) => r.name).sort()).toEqual(["upstream.d", "upstream.e"]);
    expect(filterRows(rows, { cluster: "prod" }).map((r) => r.name)).toEqual(["upstream.e"]);
    expect(filterRows(rows, { text: "  UPSTREAM.C   demo" }).map((r) => r.name)).toEqual(["upstream.c"]);
    expect(filterRows(rows, { text: "nothing-like-it" })).toEqual([]);
  });
});

describe("actionsFor", () => {
  const row = (state: string, automaticState = "closed", manual = false) => ({
    state,
    automaticState,
    telemetryOnly: false,
    override: manual ? { kind: "forced_open" as const, by: null, reason: null, untilMs: null } : null,
  });

  it("offers only what makes sense in each state", () => {
    expect(actionsFor(row("closed"))).toEqual(["trip", "disable"]);
    expect(actionsFor(row("open", "open"))).toEqual(["trip", "disable", "reset"]);
    expect(actionsFor(row("half_open", "half_open"))).toEqual(["trip", "disable", "reset"]);
    expect(actionsFor(row("forced_open", "closed", true))).toEqual(["disable", "reset", "release"]);
    expect(actionsFor(row("disabled"))).toEqual(["trip", "reset", "release"]);
    expect(actionsFor(row("observe_only", "open"))).toEqual(["trip", "disable", "reset", "release"]);
  });
});

describe("words", () => {
  it("spans and since", () => {
    expect(span(45_000)).toBe("45s");
    expect(span(3 * 60_000 + 5_000)).toBe("3m");
    expect(span(65 * 60_000)).toBe("1h 5m");
    expect(span(2 * 3_600_000)).toBe("2h");
    expect(span(50 * 3_600_000)).toBe("2d 2h");
    expect(sinceText("open", NOW - 180_000, NOW)).toBe("open for 3m");
    expect(sinceText("half_open", NOW - 5_000, NOW)).toBe("half-open for 5s");
    expect(sinceText("closed", null, NOW)).toBe("closed");
  });

  it("overrides say who and until when", () => {
    const clock = (ms: number) => `T${(ms - NOW) / 1000}`;
    expect(overrideText({ kind: "forced_open", by: "alice", reason: null, untilMs: NOW + 600_000 }, NOW, clock)).toBe(
      "forced open by alice until T600 (in 10m)",
    );
    expect(overrideText({ kind: "disabled", by: null, reason: null, untilMs: null }, NOW, clock)).toBe("disabled until released");
  });

  it("explains each command with the breaker, its service and the time limit", () => {
    const row = { name: "upstream.orders", service: "orders", automaticState: "open", override: null };
    expect(explain("trip", row)).toMatch(/^Forces upstream\.orders open until you reset or release it: every call .* rejected at once/);
    expect(explain("trip", row, 900)).toContain("for 15m, then it goes back to automatic");
    expect(explain("disable", row, 300)).toMatch(/^Holds upstream\.orders closed for 5m/);
    expect(explain("reset", row)).toMatch(/^Closes upstream\.orders now with fresh counts/);
    const forced = { ...row, override: { kind: "forced_open" as const, by: "alice", reason: null, untilMs: null } };
    expect(explain("reset", forced)).toMatch(/^Ends the manual override \(forced open by alice until released\) and closes/);
    expect(explain("release", row)).toContain("which is open now");
  });

  it("rates and percents", () => {
    expect(rateText(null)).toBe("—");
    expect(rateText(0)).toBe("0/s");
    expect(rateText(0.05)).toBe("3.0/min");
    expect(rateText(2.345)).toBe("2.3/s");
    expect(rateText(123.4)).toBe("123/s");
    expect(percentText(null)).toBe("—");
    expect(percentText(55.55)).toBe("56%");
    expect(percentText(2.5)).toBe("2.5%");
  });

  it("describes the commands findings propose", () => {
    expect(describeCommand({ action: "compensate_saga", saga_id: "o-1" })).toMatchObject({ confirmLabel: "Compensate", danger: true });
    expect(describeCommand({ action: "release", breaker: "b" }).explain).toBe("Ends the manual override: b goes back to its automatic state.");
    expect(describeCommand({ action: "set_weight", route: "catalog", new_percent: 30 }).explain).toContain("30% of clients");
  });
});

describe("routes", () => {
  it("shadow difference rate, side shares and clients moving", () => {
    expect(diffRate(5, 200)).toBeCloseTo(2.5);
    expect(diffRate(0, 0)).toBeNull();
    expect(sideShares(75, 25)).toEqual({ primary: 75, fresh: 25 });
    expect(sideShares(0, 0)).toBeNull();
    expect(clientsMoving(20, 50)).toBe(30);
    expect(clientsMoving(50, 20)).toBe(30);
  });

  it("snaps the slider to steps of 5 within 0–100", () => {
    expect(snapPercent(22)).toBe(20);
    expect(snapPercent(23)).toBe(25);
    expect(snapPercent(140)).toBe(100);
    expect(snapPercent(-3)).toBe(0);
    expect(snapPercent(Number.NaN)).toBe(0);
  });
});
