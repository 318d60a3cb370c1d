// Breakers: every breaker of every cluster on one board — state, failure rate, calls/s,
// since when — open ones first, grouped by cluster, changed live as the agents report.
// Trip, disable, reset and release from each row; one breaker's page at #/breakers/NAME.

import { useState } from "preact/hooks";
import { control } from "../api/control";
import { api, type Cluster, type CommandRecord } from "../api";
import {
  filterRows,
  groupByCluster,
  mergeBoard,
  overrideText,
  percentText,
  rateText,
  sinceText,
  type BoardRow,
  type BreakerAction,
} from "../board";
import { ErrorBox, Empty, Loading } from "../components/feedback";
import { useResource } from "../hooks";
import { href, navigate, type Route } from "../router";
import { BreakerButtons, BreakerCommandDialog, StatePill } from "./breaker-command";
import { BreakerDetail } from "./breaker-detail";
import { useListKeys } from "./breaker-keys";
import { useLiveBreakers, useNow } from "./breaker-live";
import { ClusterSelect } from "../components/cluster-select";

/** Calls/s come from the telemetry of this many last seconds. */
const RATE_WINDOW_S = 120;

export function Breakers({ route }: { route: Route }) {
  if (route.rest[0]) return <BreakerDetail name={route.rest[0]} route={route} />;
  return <Board route={route} />;
}

function Board({ route }: { route: Route }) {
  const stateFilter = route.query.get("state");
  const clusterFilter = route.query.get("cluster");
  const [text, setText] = useState(route.query.get("q") ?? "");
  const [dialog, setDialog] = useState<{ row: BoardRow; action: BreakerAction } | null>(null);
  const now = useNow();

  const live = useLiveBreakers();
  const board = useResource(() => control.board(Date.now() - RATE_WINDOW_S * 1000, Date.now()), [], { everyMs: 10_000 });
  const commands = useResource(() => control.history({ limit: 200 }), [], { liveOn: ["command"], throttleMs: 1000 });
  const clusterList = useResource(() => api.get<Cluster[]>("/clusters"), [], { liveOn: ["inventory"], throttleMs: 2000 });
  const viewOnly = new Set((clusterList.data ?? []).filter((c) => c.view_only).map((c) => c.name));

  const rows = live.breakers ? mergeBoard(live.breakers, board.data ?? [], RATE_WINDOW_S, commands.data ?? []) : undefined;
  const shown = rows ? filterRows(rows, { text, state: stateFilter, cluster: clusterFilter }) : [];
  const groups = groupByCluster(shown);
  const flat = groups.flatMap((g) => g.rows);
  const [active, setActive] = useListKeys(flat.length, (i) => openRow(flat[i]));
  const clusters = [...new Set((rows ?? []).map((r) => r.cluster).filter(Boolean))].sort();

  const setFilter = (change: Record<string, string | null>) =>
    navigate(href("breakers", { state: stateFilter, cluster: clusterFilter, ...change }));

  const onDone = (_: CommandRecord) => {
    // The breaker event normally arrives first; read again in case it was missed.
    setTimeout(live.reload, 800);
    commands.reload();
  };

  return (
    <section>
      <h1>Breakers</h1>
      <div class="filters">
        <label>
          Search
          <input
            type="search"
            data-search
            value={text}
            placeholder="name, service, agent…"
            onInput={(e) => setText(e.currentTarget.value)}
            aria-label="Search breakers"
          />
        </label>
        <label>
          State
          <select value={stateFilter ?? ""} onChange={(e) => setFilter({ state: e.currentTarget.value || null })} data-testid="state-filter">
            <option value="">any</option>
            <option value="open">open</option>
            <option value="half_open">half-open</option>
            <option value="closed">closed</option>
            <option value="manual">under a manual override</option>
          </select>
        </label>
        <label>
          Cluster
          <ClusterSelect value={clusterFilter ?? ""} clusters={clusters.map((name) => ({ name }))} onChange={(name) => setFilter({ cluster: name || null })} none="every cluster" />
        </label>
        {rows ? (
          <span class="muted count">
            {shown.length} of {rows.length} breakers · {rows.filter((r) => r.effective === "open").length} open
          </span>
        ) : null}
      </div>
      <ErrorBox error={live.error} action="Reading the breakers" />
      <ErrorBox error={board.error} action="Reading the calls from the telemetry" />

      {rows === undefined ? (
        live.error ? null : <Loading what="breakers" />
      ) : rows.length === 0 ? (
        <Empty>
          No breakers: no agent has reported one yet. Check the agents on the <a href={href()}>overview</a> or add a cluster in{" "}
          <a href={href("settings")}>Settings</a>.
        </Empty>
      ) : shown.length === 0 ? (
        <Empty>
          {emptyFilterText(stateFilter)}
          {text ? ` matching “${text}”` : ""}
          {clusterFilter ? ` in cluster ${clusterFilter}` : ""}.{" "}
          <button type="button" class="link" onClick={() => (setText(""), navigate(href("breakers")))}>
            Show every breaker
          </button>
        </Empty>
      ) : (
        groups.map((group) => (
          <div class="panel board-group" key={group.cluster} data-group={group.cluster}>
            <h2>
              {group.cluster ? `Cluster ${group.cluster}` : "Reported by telemetry only (no agent reports them)"}
              {viewOnly.has(group.cluster) ? <span class="badge">view only: the console refuses commands to it</span> : null}
            </h2>
            <table class="board">
              <thead>
                <tr>
                  <th>State</th>
                  <th>Breaker</th>
                  <th>Service</th>
                  <th class="num" title="Failed calls in the breaker's current window">Failure rate</th>
                  <th class="num" title={`From the telemetry of the last ${RATE_WINDOW_S / 60} minutes`}>
                    Calls/s
                  </th>
                  <th>Since</th>
                  <th>Agent</th>
                  <th>Commands</th>
                </tr>
              </thead>
              <tbody>
                {group.rows.map((row) => {
                  const index = flat.indexOf(row);
                  const fresh = live.changed?.key === row.key && now - live.changed.at < 4000;
                  return (
                    <tr
                      key={row.key}
                      data-breaker={row.name}
                      data-state={row.effective}
                      data-cluster={row.cluster}
                      data-raw-state={row.state}
                      data-manual={row.override?.kind}
                      class={`${index === active ? "active" : ""}${fresh ? " flash" : ""}`}
                      onClick={() => setActive(index)}
                    >
                      <td>
                        <StatePill row={row} />
                        {row.override ? <div class="override">{overrideText(row.override, now)}</div> : null}
                      </td>
                      <td class="mono">
                        <a href={breakerHref(row)}>{row.name}</a>
                      </td>
                      <td>{row.service}</td>
                      <td class={`num ${row.failureRate != null && row.failureRate >= 50 ? "bad-text" : ""}`}>
                        {percentText(row.failureRate)}
                        {row.windowCalls != null ? <div class="muted small">of {row.windowCalls} calls</div> : null}
                      </td>
                      <td class="num">
                        {rateText(row.callsPerSecond)}
                        {row.rejectedPerSecond ? <div class="bad-text small">{rateText(row.rejectedPerSecond)} rejected</div> : null}
                      </td>
                      <td>{row.sinceMs ? sinceText(row.state, row.sinceMs, now) : "—"}</td>
                      <td class="mono muted">{row.agent || "—"}</td>
                      <td>
                        <BreakerButtons row={row} onAction={(action) => setDialog({ row, action })} />
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        ))
      )}
      {rows && rows.length ? (
        <p class="muted small">
          <kbd>j</kbd>/<kbd>k</kbd> move, <kbd>Enter</kbd> opens the breaker. Failure rate: the breaker's current window; calls/s: the
          telemetry of the last {RATE_WINDOW_S / 60} minutes.
        </p>
      ) : null}
      {dialog ? (
        <BreakerCommandDialog
          row={dialog.row}
          action={dialog.action}
          onClose={() => setDialog(null)}
          onDone={onDone}
        />
      ) : null}
    </section>
  );
}

function emptyFilterText(state: string | null): string {
  switch (state) {
    case "open":
      return "No open breakers";
    case "half_open":
      return "No half-open breakers";
    case "closed":
      return "No closed breakers";
    case "manual":
      return "No breaker is under a manual override";
    default:
      return "No breakers";
  }
}

export function breakerHref(row: Pick<BoardRow, "name" | "cluster">): string {
  return href("breakers", row.name, { cluster: row.cluster || undefined });
}

function openRow(row: BoardRow | undefined) {
  if (row) navigate(breakerHref(row));
}
