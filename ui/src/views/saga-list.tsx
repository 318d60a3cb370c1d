// The saga list: failed instances first, filtered by name, failing step, outcome and
// time (the filter lives in the hash query, so a link keeps it), the outcomes chart for
// the chosen saga, two rows picked to compare, and the bulk action panel.

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import {
  DEFAULT_RANGE,
  describeRange,
  filterFromQuery,
  filterToQuery,
  liveSagas,
  RANGE_PRESETS,
  type RangeChoice,
  type SagaFilter,
  type SagaInstance,
  sagaOutcomesChart,
  searchSagas,
} from "../api/sagas";
import { Empty, ErrorBox, Loading } from "../components/feedback";
import { ago, duration } from "../format";
import { useResource } from "../hooks";
import { href, navigate } from "../router";
import { SagaBulk } from "./saga-bulk";

const LIMIT = 200;

// Kept while the window is open: ticking two rows, opening one and coming back keeps them.
let ticked: string[] = [];

export function SagaList({ query }: { query: URLSearchParams }) {
  const filter = filterFromQuery(query);
  const key = JSON.stringify(filter);
  const sagas = useResource(() => searchSagas(filter, LIMIT), [key], { liveOn: ["saga"], throttleMs: 2000 });
  const statuses = useResource(() => liveSagas(), [], { liveOn: ["saga"], throttleMs: 5000 });
  const [selected, setSelectedState] = useState<string[]>(() => ticked);
  const setSelected = (change: (current: string[]) => string[]) =>
    setSelectedState((current) => {
      ticked = change(current);
      return ticked;
    });
  // The active row by id: live re-reads add rows above it, it stays on its saga.
  const [activeId, setActiveId] = useState<string | null>(null);
  const [bulk, setBulk] = useState(query.has("bulk"));
  const rows = sagas.data ?? [];
  const active = Math.max(0, rows.findIndex((s) => s.saga_id === activeId));
  const setActive = (i: number) => setActiveId(rows[i]?.saga_id ?? null);

  const setFilter = (change: Partial<SagaFilter>, replace = false) => {
    const to = href("sagas", { ...filterToQuery({ ...filter, ...change }), bulk: bulk || undefined });
    if (replace) location.replace(to);
    else navigate(to);
  };

  const names = useMemo(() => {
    const all = new Set<string>();
    for (const s of rows) all.add(s.saga_name);
    for (const s of statuses.data ?? []) all.add(s.name);
    return [...all].sort();
  }, [rows, statuses.data]);
  const steps = useMemo(() => [...new Set(rows.map((s) => s.failed_step).filter((s): s is string => !!s))].sort(), [rows]);

  const toggle = (id: string) =>
    setSelected((current) => (current.includes(id) ? current.filter((x) => x !== id) : [...current.slice(-1), id]));

  useListKeys(rows.length, active, setActive, {
    open: (i) => rows[i] && navigate(href("sagas", rows[i].saga_id)),
    toggle: (i) => rows[i] && toggle(rows[i].saga_id),
  });

  const compare = () => {
    const [a, b] = orderForCompare(selected, rows);
    navigate(href("sagas", "compare", { a, b }));
  };

  const empty = `No ${filter.failedOnly ? "failed " : ""}${filter.name ? `${filter.name} ` : ""}sagas${filter.step ? ` failing at ${filter.step}` : ""}${filter.text ? ` matching “${filter.text}”` : ""} ${describeRange(filter.range)}`;

  return (
    <section class="sagas">
      <h1>Sagas</h1>
      <div class="filters" role="search">
        <label>
          Search id or error
          <TextFilter value={filter.text} onCommit={(text) => setFilter({ text }, true)} placeholder="o-1234… or 402" search />
        </label>
        <label>
          Saga
          <TextFilter value={filter.name} onCommit={(name) => setFilter({ name }, true)} placeholder="any" list="saga-names" />
          <datalist id="saga-names">
            {names.map((n) => (
              <option key={n} value={n} />
            ))}
          </datalist>
        </label>
        <label>
          Failing step
          <TextFilter value={filter.step} onCommit={(step) => setFilter({ step }, true)} placeholder="any" list="saga-steps" />
          <datalist id="saga-steps">
            {steps.map((n) => (
              <option key={n} value={n} />
            ))}
          </datalist>
        </label>
        <RangePicker value={filter.range} onChange={(range) => setFilter({ range })} />
        <label class="check">
          <input type="checkbox" checked={filter.failedOnly} onChange={(e) => setFilter({ failedOnly: e.currentTarget.checked })} data-testid="failed-only" />
          Failed only
        </label>
      </div>

      <div class="toolbar">
        <button type="button" class="primary" disabled={selected.length !== 2} onClick={compare} data-testid="compare" title="Tick two rows (x) to compare them step by step">
          Compare{selected.length ? ` (${selected.length}/2)` : ""}
        </button>
        {selected.length ? (
          <button type="button" class="link" onClick={() => setSelected(() => [])}>
            clear selection
          </button>
        ) : null}
        {filter.name ? (
          <a href={href("sagas", "aggregate", filter.name, { since: filter.range.preset && filter.range.preset !== "1h" ? filter.range.preset : undefined })} data-testid="aggregate-link">
            Aggregate flow of {filter.name}
          </a>
        ) : null}
        <span class="spacer" />
        <button type="button" onClick={() => setBulk(!bulk)} aria-expanded={bulk} data-testid="bulk-toggle">
          {bulk ? "Hide bulk action" : "Bulk action…"}
        </button>
      </div>

      {bulk ? <SagaBulk filter={filter} names={names} onDone={sagas.reload} /> : null}

      <OutcomesChart name={filter.name} range={filter.range} />

      <ErrorBox error={sagas.error} action="Reading the sagas" />
      {sagas.data === undefined ? (
        sagas.error ? null : <Loading what="sagas" />
      ) : rows.length === 0 ? (
        <Empty>
          <span data-testid="sagas-empty">{empty}.</span>
          {filter.failedOnly || filter.step || filter.text || filter.name ? (
            <>
              {" "}
              <a href={href("sagas", filterToQuery({ ...filter, failedOnly: false, step: "", text: "", name: "" }))}>Show every saga {describeRange(filter.range)}</a>.
            </>
          ) : null}
        </Empty>
      ) : (
        <>
          <table class="saga-list" aria-label="Saga instances, failed first">
            <thead>
              <tr>
                <th aria-label="Select" />
                <th>Saga</th>
                <th>Outcome</th>
                <th>Failing step</th>
                <th>Error</th>
                <th>Started</th>
                <th class="num">Duration</th>
                <th class="num">Steps</th>
                <th class="num">Undone</th>
                <th class="num">Attempts</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((s, i) => (
                <Row key={s.saga_id} saga={s} active={i === active} checked={selected.includes(s.saga_id)} onToggle={() => toggle(s.saga_id)} onFocus={() => setActive(i)} />
              ))}
            </tbody>
          </table>
          <p class="muted">
            {rows.length >= LIMIT ? `The first ${LIMIT}, failed first. Narrow the filter to see others. ` : `${rows.length} saga${rows.length === 1 ? "" : "s"}, failed first. `}
            <kbd>j</kbd>/<kbd>k</kbd> move, <kbd>Enter</kbd> open, <kbd>x</kbd> tick for compare.
          </p>
        </>
      )}
    </section>
  );
}

function Row({ saga: s, active, checked, onToggle, onFocus }: { saga: SagaInstance; active: boolean; checked: boolean; onToggle: () => void; onFocus: () => void }) {
  const ref = useRef<HTMLTableRowElement>(null);
  useEffect(() => {
    if (active && ref.current && document.activeElement?.closest("tr") !== ref.current) ref.current.scrollIntoView?.({ block: "nearest" });
  }, [active]);
  const startedMs = s.start_unix_nano / 1_000_000;
  return (
    <tr
      ref={ref}
      class={`${active ? "active" : ""}${s.failed ? " failed-row" : ""}`}
      data-saga-id={s.saga_id}
      data-failed={String(s.failed)}
      data-outcome={s.outcome}
      aria-selected={active}
      onClick={(e) => {
        if ((e.target as HTMLElement).closest("a, input, button")) return;
        navigate(href("sagas", s.saga_id));
      }}
      onFocusCapture={onFocus}
    >
      <td>
        <input type="checkbox" checked={checked} onChange={onToggle} aria-label={`Select ${s.saga_id} to compare`} />
      </td>
      <td>
        <a href={href("sagas", "aggregate", s.saga_name)} title={`The aggregate flow of ${s.saga_name}`}>
          {s.saga_name}
        </a>
        <div>
          <a class="mono" href={href("sagas", s.saga_id)} data-open>
            {s.saga_id}
          </a>
        </div>
      </td>
      <td>
        <span class={`state ${s.outcome}`}>{s.outcome}</span>
      </td>
      <td>{s.failed_step ?? <span class="muted">—</span>}</td>
      <td class="error-cell" title={s.error ?? ""}>
        {s.error ? truncate(s.error, 90) : <span class="muted">—</span>}
      </td>
      <td title={new Date(startedMs).toLocaleString()}>{ago(startedMs)}</td>
      <td class="num">{duration(s.duration_ns)}</td>
      <td class="num">{s.steps}</td>
      <td class="num">{s.compensations}</td>
      <td class="num">{s.attempts}</td>
    </tr>
  );
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** The failed one first, as "a" (compare reads: this one against that one). */
function orderForCompare(ids: string[], rows: SagaInstance[]): [string, string] {
  const [x, y] = ids;
  const fx = rows.find((r) => r.saga_id === x)?.failed ?? false;
  const fy = rows.find((r) => r.saga_id === y)?.failed ?? false;
  return !fx && fy ? [y, x] : [x, y];
}

/** A text input that commits after a pause in typing, on Enter or when left. */
export function TextFilter(props: { value: string; onCommit: (value: string) => void; placeholder?: string; list?: string; search?: boolean }) {
  const [text, setText] = useState(props.value);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => setText(props.value), [props.value]);
  const commit = (value: string) => {
    if (timer.current) clearTimeout(timer.current);
    timer.current = null;
    if (value.trim() !== props.value) props.onCommit(value.trim());
  };
  useEffect(() => () => void (timer.current && clearTimeout(timer.current)), []);
  return (
    <input
      type={props.search ? "search" : "text"}
      value={text}
      placeholder={props.placeholder}
      list={props.list}
      data-search={props.search ? "" : undefined}
      onInput={(e) => {
        const value = e.currentTarget.value;
        setText(value);
        if (timer.current) clearTimeout(timer.current);
        timer.current = setTimeout(() => commit(value), 400);
      }}
      onKeyDown={(e) => e.key === "Enter" && commit(e.currentTarget.value)}
      onBlur={(e) => commit(e.currentTarget.value)}
    />
  );
}

function toLocalInput(ms: number | null): string {
  if (ms == null) return "";
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function fromLocalInput(value: string): number | null {
  if (!value) return null;
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? ms : null;
}

/** Time range: presets, or "custom" with from/to. */
export function RangePicker({ value, onChange, presets = RANGE_PRESETS }: { value: RangeChoice; onChange: (range: RangeChoice) => void; presets?: typeof RANGE_PRESETS }) {
  const custom = value.preset === null;
  return (
    <>
      <label>
        Time
        <select
          value={custom ? "custom" : (value.preset ?? DEFAULT_RANGE.preset!)}
          data-testid="range"
          onChange={(e) => {
            const v = e.currentTarget.value;
            if (v === "custom") onChange({ preset: null, sinceMs: Date.now() - 3_600_000, untilMs: null });
            else onChange({ preset: v, sinceMs: null, untilMs: null });
          }}
        >
          {presets.map((p) => (
            <option key={p.value} value={p.value}>
              {p.label}
            </option>
          ))}
          <option value="custom">custom…</option>
        </select>
      </label>
      {custom ? (
        <>
          <label>
            From
            <input type="datetime-local" value={toLocalInput(value.sinceMs)} onChange={(e) => onChange({ ...value, sinceMs: fromLocalInput(e.currentTarget.value) })} />
          </label>
          <label>
            To (empty: now)
            <input type="datetime-local" value={toLocalInput(value.untilMs)} onChange={(e) => onChange({ ...value, untilMs: fromLocalInput(e.currentTarget.value) })} />
          </label>
        </>
      ) : null}
    </>
  );
}

/** j/k (and arrows) move, Enter opens, x toggles; not while typing in a field or a dialog is open. */
export function useListKeys(
  count: number,
  active: number,
  setActive: (i: number) => void,
  actions: { open: (i: number) => void; toggle?: (i: number) => void },
) {
  const state = useRef({ count, active, actions, setActive });
  state.current = { count, active, actions, setActive };
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
      const target = e.target as HTMLElement;
      if (target.closest?.("input, textarea, select, [contenteditable], dialog") || document.querySelector("dialog[open]")) return;
      const { count, active, actions, setActive } = state.current;
      if (!count) return;
      if (e.key === "j" || e.key === "ArrowDown") setActive(Math.min(count - 1, active + 1));
      else if (e.key === "k" || e.key === "ArrowUp") setActive(Math.max(0, active - 1));
      else if (e.key === "Enter" && !target.closest("a, button")) actions.open(active);
      else if (e.key === "x" && actions.toggle) actions.toggle(active);
      else return;
      e.preventDefault();
    };
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, []);
}

function OutcomesChart({ name, range }: { name: string; range: RangeChoice }) {
  const chart = useResource(() => sagaOutcomesChart(name, range, Date.now()), [name, JSON.stringify(range)], { liveOn: ["saga"], throttleMs: 10_000 });
  return (
    <details class="panel saga-chart" open>
      <summary>
        Outcomes per interval{name ? ` of ${name}` : " of every saga"} <span class="muted">{describeRange(range)}</span>
      </summary>
      <ErrorBox error={chart.error} action="Drawing the chart" />
      {chart.data ? <div class="chart" data-testid="saga-chart" dangerouslySetInnerHTML={{ __html: chart.data }} /> : chart.error ? null : <Loading what="the chart" />}
    </details>
  );
}
