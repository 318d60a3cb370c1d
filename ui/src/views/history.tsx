// History: the audit history of commands sent (who, when, what, to what, why, the
// agent's answer and the closed-loop verdict), filtered and live; and in a second tab
// the state changes the agents reported.

import { useState } from "preact/hooks";
import { api, type Cluster, type CommandRecord } from "../api";
import { control, type ControlEvent } from "../api/control";
import { ErrorBox, Empty, Loading } from "../components/feedback";
import { ago, clock } from "../format";
import { useResource } from "../hooks";
import { href, navigate, type Route } from "../router";
import { useListKeys } from "./breaker-keys";
import { ClusterSelect } from "../components/cluster-select";

const LIMIT = 300;

export function History({ route }: { route: Route }) {
  const tab = route.query.get("tab") === "events" ? "events" : "commands";
  return (
    <section>
      <h1>History</h1>
      <div class="tabs" role="tablist">
        <a role="tab" href={href("history")} aria-selected={tab === "commands"} data-tab="commands">
          Commands sent
        </a>
        <a role="tab" href={href("history", { tab: "events" })} aria-selected={tab === "events"} data-tab="events">
          State changes reported by agents
        </a>
      </div>
      {tab === "commands" ? <Commands route={route} /> : <Events route={route} />}
    </section>
  );
}

function useClusters() {
  return useResource(() => api.get<Cluster[]>("/clusters"), []);
}

function Commands({ route }: { route: Route }) {
  const cluster = route.query.get("cluster") ?? "";
  const target = route.query.get("target") ?? "";
  const withoutVerdict = route.query.has("without_verdict");
  const [text, setText] = useState(target);
  const clusters = useClusters();
  const history = useResource(
    () => control.history({ cluster: cluster || undefined, target: target || undefined, without_verdict: withoutVerdict, limit: LIMIT }),
    [cluster, target, withoutVerdict],
    { liveOn: ["command", "verdict"], throttleMs: 500 },
  );
  const set = (change: Record<string, string | boolean | null>) =>
    navigate(href("history", { cluster: cluster || null, target: target || null, without_verdict: withoutVerdict, ...change }));

  return (
    <>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          set({ target: text.trim() || null });
        }}
      >
        <label>
          Cluster
          <ClusterSelect value={cluster} clusters={clusters.data ?? []} onChange={(name) => set({ cluster: name || null })} none="every cluster" />
        </label>
        <label>
          Target (exact name: breaker, saga id, route)
          <input type="search" data-search value={text} onInput={(e) => setText(e.currentTarget.value)} placeholder="upstream.orders…" />
        </label>
        <button type="submit">Filter</button>
        <label class="check">
          <input type="checkbox" checked={withoutVerdict} onChange={(e) => set({ without_verdict: e.currentTarget.checked })} /> only those still
          without a verdict
        </label>
        {target || cluster || withoutVerdict ? (
          <button type="button" class="link" onClick={() => (setText(""), navigate(href("history")))}>
            Clear filters
          </button>
        ) : null}
      </form>
      <ErrorBox error={history.error} action="Reading the history" />
      {history.data === undefined ? (
        history.error ? null : <Loading what="the history" />
      ) : history.data.length === 0 ? (
        <Empty>
          {target || cluster || withoutVerdict
            ? "No commands match these filters."
            : "No commands sent yet: trip a breaker, move a route's weight or retry a saga and it shows here."}
        </Empty>
      ) : (
        <>
          <CommandTable records={history.data} keys />
          {history.data.length >= LIMIT ? <p class="muted">The newest {LIMIT}; narrow the filters to see older ones.</p> : null}
        </>
      )}
    </>
  );
}

export function verdictClass(verdict: string | null): string {
  if (!verdict) return "pending";
  if (verdict === "confirmed") return "ok";
  if (verdict === "reopened" || verdict === "failed_again") return "failed";
  return "unknown";
}

/** `{rejected_calls: 12}` → "rejected calls: 12". */
export function detailText(detail: unknown): string {
  if (detail == null) return "";
  if (typeof detail !== "object") return String(detail);
  return Object.entries(detail as Record<string, unknown>)
    .map(([k, v]) => `${k.replace(/_/g, " ")}: ${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
    .join(", ");
}

/** Commands, newest first; a row opens to the arguments and the agent's answer. */
export function CommandTable({ records, keys = false, showTarget = true }: { records: CommandRecord[]; keys?: boolean; showTarget?: boolean }) {
  const [open, setOpen] = useState<number | null>(null);
  const toggle = (id: number) => setOpen((o) => (o === id ? null : id));
  const [active, setActive] = useListKeys(keys ? records.length : 0, (i) => toggle(records[i].id));
  return (
    <table class="history">
      <thead>
        <tr>
          <th>When</th>
          <th>Who</th>
          <th>Action</th>
          {showTarget ? <th>Target</th> : null}
          <th>Cluster</th>
          <th>Reason</th>
          <th>Outcome</th>
          <th>Verdict</th>
        </tr>
      </thead>
      <tbody>
        {records.flatMap((r, i) => {
          const rows = [
            <tr
              key={r.id}
              data-command-id={r.id}
              data-outcome={r.outcome}
              data-verdict={r.verdict ?? ""}
              class={`clickable${keys && i === active ? " active" : ""}`}
              onClick={() => (setActive(i), toggle(r.id))}
              aria-expanded={open === r.id}
            >
              <td title={new Date(r.at_unix_ms).toLocaleString()}>
                {clock(r.at_unix_ms)}
                <div class="muted small">{ago(r.at_unix_ms)}</div>
              </td>
              <td>{r.who}</td>
              <td>
                <strong>{r.action}</strong>
                {argsText(r.args)}
              </td>
              {showTarget ? (
                <td class="mono">
                  <TargetLink record={r} />
                </td>
              ) : null}
              <td>{r.cluster}</td>
              <td>{r.reason || <span class="muted">—</span>}</td>
              <td>
                <span class={`state ${r.outcome === "ok" ? "ok" : "failed"}`}>{r.outcome}</span>
                {r.error ? <div class="bad-text small">{r.error}</div> : null}
              </td>
              <td>
                {r.verdict || r.outcome === "ok" ? (
                  <span class={`state ${verdictClass(r.verdict)}`} data-testid="verdict">
                    {r.verdict ? r.verdict.replace(/_/g, " ") : "pending"}
                  </span>
                ) : (
                  <span class="muted" title="the command did not take effect: nothing to check">—</span>
                )}
                {r.verdict_detail != null ? <div class="muted small">{detailText(r.verdict_detail)}</div> : null}
              </td>
            </tr>,
          ];
          if (open === r.id)
            rows.push(
              <tr key={`${r.id}-detail`} class="detail">
                <td colSpan={showTarget ? 8 : 7}>
                  <div class="detail-grid">
                    <div>
                      <div class="muted small">Command</div>
                      <pre class="mono">{JSON.stringify(r.args, null, 2)}</pre>
                    </div>
                    <div>
                      <div class="muted small">The agent's answer{r.agent ? ` (${r.agent})` : ""}</div>
                      <pre class="mono">{r.result != null ? JSON.stringify(r.result, null, 2) : r.error ?? "—"}</pre>
                    </div>
                    <div>
                      <div class="muted small">Verdict</div>
                      <p>
                        {r.verdict
                          ? `${r.verdict.replace(/_/g, " ")}${r.verdict_at_unix_ms ? ` at ${clock(r.verdict_at_unix_ms)}` : ""}`
                          : "none yet: the telemetry has not shown the effect"}
                      </p>
                      {r.verdict_detail != null ? <pre class="mono">{JSON.stringify(r.verdict_detail, null, 2)}</pre> : null}
                    </div>
                  </div>
                </td>
              </tr>,
            );
          return rows;
        })}
      </tbody>
    </table>
  );
}

function argsText(args: unknown): string {
  if (!args || typeof args !== "object") return "";
  const a = args as Record<string, unknown>;
  const parts: string[] = [];
  if (a.ttl_seconds) parts.push(`for ${Math.round(Number(a.ttl_seconds) / 60)}m`);
  if (a.new_percent != null) parts.push(`to ${a.new_percent}%`);
  if (a.percent != null) parts.push(`${a.percent}%`);
  return parts.length ? ` ${parts.join(" ")}` : "";
}

function TargetLink({ record }: { record: CommandRecord }) {
  const a = record.action;
  if (["trip", "disable", "reset", "release"].includes(a))
    return <a href={href("breakers", record.target, { cluster: record.cluster })}>{record.target}</a>;
  if (a.endsWith("_saga")) return <a href={href("sagas", record.target)}>{record.target}</a>;
  if (a === "set_weight" || a === "set_shadow") return <a href={href("routes")}>{record.target}</a>;
  return <>{record.target}</>;
}

const KINDS = ["breaker", "saga", "route", "fault", "experiment", "agent"];

function Events({ route }: { route: Route }) {
  const cluster = route.query.get("cluster") ?? "";
  const kind = route.query.get("kind") ?? "";
  const name = route.query.get("name") ?? "";
  const [text, setText] = useState(name);
  const clusters = useClusters();
  const events = useResource(
    () => control.events({ cluster: cluster || undefined, kind: kind || undefined, name: name || undefined, limit: LIMIT }),
    [cluster, kind, name],
    { liveOn: kind ? [kind] : ["breaker", "route", "fault", "agent", "saga"], throttleMs: 2000 },
  );
  const set = (change: Record<string, string | null>) =>
    navigate(href("history", { tab: "events", cluster: cluster || null, kind: kind || null, name: name || null, ...change }));
  const list = events.data ?? [];
  const [active, setActive] = useListKeys(list.length, (i) => openEvent(list[i]));

  return (
    <>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          set({ name: text.trim() || null });
        }}
      >
        <label>
          Cluster
          <ClusterSelect value={cluster} clusters={clusters.data ?? []} onChange={(name) => set({ cluster: name || null })} none="every cluster" />
        </label>
        <label>
          Kind
          <select value={kind} onChange={(e) => set({ kind: e.currentTarget.value || null })}>
            <option value="">every kind</option>
            {KINDS.map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        </label>
        <label>
          Name (exact: breaker, saga id, route…)
          <input type="search" data-search value={text} onInput={(e) => setText(e.currentTarget.value)} />
        </label>
        <button type="submit">Filter</button>
      </form>
      <ErrorBox error={events.error} action="Reading the agents' state changes" />
      {events.data === undefined ? (
        events.error ? null : <Loading what="state changes" />
      ) : list.length === 0 ? (
        <Empty>{cluster || kind || name ? "No state changes match these filters." : "No state changes reported yet."}</Empty>
      ) : (
        <table class="events">
          <thead>
            <tr>
              <th>When</th>
              <th>Kind</th>
              <th>Name</th>
              <th>Change</th>
              <th>Why</th>
              <th>By</th>
              <th>Cluster · agent</th>
            </tr>
          </thead>
          <tbody>
            {list.map((e, i) => (
              <tr key={e.id} data-event-id={e.id} data-kind={e.kind} class={i === active ? "active" : ""} onClick={() => setActive(i)}>
                <td title={new Date(e.at_unix_ms).toLocaleString()}>{clock(e.at_unix_ms)}</td>
                <td>{e.kind}</td>
                <td class="mono">
                  {eventHref(e) ? <a href={eventHref(e)!}>{e.name}</a> : e.name}
                </td>
                <td>
                  {e.from_state ? <span class={`state ${pillClass(e.from_state)}`}>{e.from_state.replace(/_/g, " ")}</span> : null}
                  {e.from_state && e.to_state ? " → " : null}
                  {e.to_state ? <span class={`state ${pillClass(e.to_state)}`}>{e.to_state.replace(/_/g, " ")}</span> : null}
                  {e.detail != null ? <div class="muted small">{detailText(e.detail)}</div> : null}
                </td>
                <td>
                  {e.reason ?? ""}
                  {e.note ? <div class="muted small">“{e.note}”</div> : null}
                </td>
                <td>{e.by ?? ""}</td>
                <td class="muted">
                  {e.cluster} · {e.agent}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

/** A colour for any state an agent reports. */
export function pillClass(state: string): string {
  if (["closed", "completed", "ok", "connected", "resolved"].includes(state)) return "ok";
  if (["open", "forced_open", "failed", "error", "disconnected", "needs_operator"].includes(state)) return "failed";
  if (["half_open", "compensated", "compensating", "running", "retrying"].includes(state)) return "half_open";
  return "unknown";
}

function eventHref(e: ControlEvent): string | null {
  if (e.kind === "breaker") return href("breakers", e.name, { cluster: e.cluster });
  if (e.kind === "saga") return href("sagas", e.name);
  if (e.kind === "route") return href("routes");
  return null;
}

function openEvent(e: ControlEvent | undefined) {
  const to = e && eventHref(e);
  if (to) navigate(to);
}
