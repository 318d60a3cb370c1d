// One breaker: its state now and the commands that fit, its timeline chart (state bands,
// failure rate, rejected calls, and the commands sent with their verdicts), the state
// history over the chosen range, and the commands sent to it.

import { useState } from "preact/hooks";
import type { CommandRecord } from "../api";
import { control, type StateSpan } from "../api/control";
import { mergeBoard, overrideText, percentText, sinceText, span, type BreakerAction } from "../board";
import { ErrorBox, Empty, Loading } from "../components/feedback";
import { clock } from "../format";
import { useResource } from "../hooks";
import { href, navigate, type Route } from "../router";
import { BreakerButtons, BreakerCommandDialog, StatePill } from "./breaker-command";
import { useLiveBreakers, useNow } from "./breaker-live";
import { CommandTable, pillClass } from "./history";

const RANGES = ["15m", "1h", "6h", "24h"] as const;

export function BreakerDetail({ name, route }: { name: string; route: Route }) {
  const cluster = route.query.get("cluster") ?? "";
  const range = (RANGES as readonly string[]).includes(route.query.get("range") ?? "") ? route.query.get("range")! : "1h";
  const [dialog, setDialog] = useState<BreakerAction | null>(null);
  const now = useNow();

  const live = useLiveBreakers();
  const commands = useResource(() => control.history({ target: name, cluster: cluster || undefined, limit: 100 }), [name, cluster], {
    liveOn: ["command", "verdict"],
    throttleMs: 500,
  });
  const chart = useResource(() => control.breakerPlot(name, range), [name, range], {
    liveOn: ["breaker", "command"],
    throttleMs: 3000,
    everyMs: 30_000,
  });
  const history = useResource(() => control.breakerHistory(name, range), [name, range], { liveOn: ["breaker"], throttleMs: 3000, everyMs: 30_000 });

  const candidates = (live.breakers ?? []).filter((b) => b.name === name && (!cluster || b.cluster === cluster));
  const row = candidates.length ? mergeBoard(candidates.slice(0, 1), [], 1, commands.data ?? [])[0] : null;

  const onDone = (_: CommandRecord) => {
    setTimeout(live.reload, 800);
    commands.reload();
  };

  return (
    <section class="breaker-detail">
      <p class="crumbs">
        <a href={href("breakers", { cluster: cluster || undefined })}>Breakers</a> ›
      </p>
      <h1 class="mono">{name}</h1>
      <ErrorBox error={live.error} action="Reading the breaker" />
      {live.breakers === undefined ? (
        live.error ? null : <Loading what="the breaker" />
      ) : !row ? (
        <Empty>
          No agent reports a breaker named {name}
          {cluster ? ` in cluster ${cluster}` : ""} now; its history from the telemetry follows.
        </Empty>
      ) : (
        <div class="panel breaker-now" data-breaker={row.name} data-state={row.effective} data-cluster={row.cluster} data-raw-state={row.state}>
          <div class="facts">
            <div>
              <StatePill row={row} /> <span>{sinceText(row.state, row.sinceMs, now)}</span>
              {row.override ? <div class="override">{overrideText(row.override, now)}</div> : null}
              {row.state !== row.automaticState ? <div class="muted small">automatic state: {row.automaticState.replace(/_/g, " ")}</div> : null}
            </div>
            <Fact label="Service" value={row.service} />
            <Fact label="Failure rate" value={`${percentText(row.failureRate)} of ${row.windowCalls ?? 0} calls`} />
            <Fact label="Cluster · agent" value={`${row.cluster} · ${row.agent}`} />
          </div>
          <BreakerButtons row={row} onAction={setDialog} />
        </div>
      )}

      <div class="toolbar range">
        <h2>Timeline</h2>
        <span class="segmented" role="group" aria-label="Range">
          {RANGES.map((r) => (
            <button
              key={r}
              type="button"
              aria-pressed={r === range}
              class={r === range ? "primary small" : "small"}
              data-range={r}
              onClick={() => navigate(href("breakers", name, { cluster: cluster || undefined, range: r }))}
            >
              {r}
            </button>
          ))}
        </span>
      </div>
      <ErrorBox error={chart.error} action="Drawing the timeline" />
      {chart.data ? (
        <div class="chart" data-testid="breaker-chart" dangerouslySetInnerHTML={{ __html: chart.data }} />
      ) : chart.error ? null : (
        <Loading what="the timeline" />
      )}

      <h2>States over the last {range}</h2>
      <ErrorBox error={history.error} action="Reading the state history" />
      {history.data === undefined ? (
        history.error ? null : <Loading what="the state history" />
      ) : (
        <StateTable states={history.data.states} calls={history.data.calls} />
      )}

      <h2>Commands sent to it</h2>
      <ErrorBox error={commands.error} action="Reading the commands" />
      {commands.data === undefined ? (
        commands.error ? null : <Loading what="the commands" />
      ) : commands.data.length === 0 ? (
        <Empty>No command has been sent to this breaker.</Empty>
      ) : (
        <CommandTable records={commands.data} showTarget={false} />
      )}
      <p>
        <a href={href("history", { tab: "events", kind: "breaker", name })}>State changes the agents reported for it</a>
      </p>

      {dialog && row ? <BreakerCommandDialog row={row} action={dialog} onClose={() => setDialog(null)} onDone={onDone} /> : null}
    </section>
  );
}

function Fact({ label, value }: { label: string; value: string }) {
  return (
    <div>
      <div class="muted small">{label}</div>
      <div>{value}</div>
    </div>
  );
}

function StateTable({ states, calls }: { states: StateSpan[]; calls: { success: number; failure: number; slow: number; rejected: number }[] }) {
  const totals = calls.reduce(
    (t, c) => ({ success: t.success + c.success, failure: t.failure + c.failure, slow: t.slow + c.slow, rejected: t.rejected + c.rejected }),
    { success: 0, failure: 0, slow: 0, rejected: 0 },
  );
  const newestFirst = states.slice().reverse();
  return (
    <>
      <p class="muted">
        Calls in the range: {totals.success} succeeded, {totals.failure} failed, {totals.slow} slow, {totals.rejected} rejected.
      </p>
      {newestFirst.length === 0 ? (
        <Empty>The telemetry has no state for this breaker in the range.</Empty>
      ) : (
        <table data-testid="state-history">
          <thead>
            <tr>
              <th>State</th>
              <th>From</th>
              <th>Until</th>
              <th>For</th>
              <th>Why</th>
            </tr>
          </thead>
          <tbody>
            {newestFirst.map((s, i) => {
              const from = s.since_unix_nano / 1e6;
              const until = s.until_unix_nano / 1e6;
              return (
                <tr key={`${s.since_unix_nano}-${i}`}>
                  <td>
                    <span class={`state ${pillClass(s.state)}`}>{s.state.replace(/_/g, " ")}</span>
                  </td>
                  <td>{clock(from)}</td>
                  <td>{i === 0 ? "now" : clock(until)}</td>
                  <td>{span(Math.min(until, Date.now()) - from)}</td>
                  <td>{s.reason ?? ""}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </>
  );
}
