// Trace search: service, operation, errors only, time range, attribute filters and a
// minimum duration. The search lives in the hash (`#/traces?service=shop&errors`), so a
// search is a link; results page with the API's cursor ("More").

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import {
  attrFilterProblem,
  durationProblem,
  RANGE_PRESETS,
  searchFromQuery,
  searchHash,
  telemetryApi,
  type TraceSearch as Search,
  type TraceSummary,
} from "../api/telemetry";
import { ErrorBox, Empty, Loading } from "../components/feedback";
import { ago, duration } from "../format";
import { useResource } from "../hooks";
import { href, navigate, type Route } from "../router";
import { ImportButton, IMPORTED_EVENT } from "./import";
import { LAST_SEARCH } from "./trace-view";

const PAGE = 50;
const RANGE_WORDS: Record<string, string> = { "15m": "15 minutes", "1h": "hour", "6h": "6 hours", "24h": "24 hours" };

function localInput(ms: number | null): string {
  if (ms === null) return "";
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

function fromLocalInput(value: string): number | null {
  if (!value) return null;
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? ms : null;
}

function rangeWords(search: Search): string {
  if (search.range !== "custom") return `in the last ${RANGE_WORDS[search.range]}`;
  const from = search.since !== null ? new Date(search.since).toLocaleString() : "the beginning";
  const to = search.until !== null ? new Date(search.until).toLocaleString() : "now";
  return `between ${from} and ${to}`;
}

function isTyping(target: EventTarget | null): boolean {
  return !!(target as HTMLElement | null)?.closest?.("input, textarea, select, [contenteditable]");
}

export function TraceSearch({ route }: { route: Route }) {
  const search = useMemo(() => searchFromQuery(route.query), [route.query.toString()]);
  const key = searchHash(search);
  const [draft, setDraft] = useState<Search>(search);
  const [attrInput, setAttrInput] = useState("");
  const [formError, setFormError] = useState<Error | null>(null);
  useEffect(() => {
    setDraft(search);
    setFormError(null);
    sessionStorage.setItem(LAST_SEARCH, key);
  }, [key]);

  const services = useResource(() => telemetryApi.services(), [], { everyMs: 30_000 });

  // The first page re-reads every 10 s until the user pages on (then the cursor chain stays put).
  const [extra, setExtra] = useState<TraceSummary[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [moreBusy, setMoreBusy] = useState(false);
  const [moreError, setMoreError] = useState<Error | null>(null);
  const paged = extra.length > 0;
  const first = useResource(() => telemetryApi.search(search, PAGE), [key], { everyMs: paged ? undefined : 10_000 });
  useEffect(() => {
    setExtra([]);
    setCursor(null);
    setMoreError(null);
  }, [key]);
  useEffect(() => {
    if (!paged) setCursor(first.data?.next_cursor ?? null);
  }, [first.data]);
  useEffect(() => {
    const onImport = () => {
      setExtra([]);
      first.reload();
      services.reload();
    };
    addEventListener(IMPORTED_EVENT, onImport);
    return () => removeEventListener(IMPORTED_EVENT, onImport);
  }, []);

  const rows = useMemo(() => [...(first.data?.traces ?? []), ...extra], [first.data, extra]);
  const longest = useMemo(() => rows.reduce((m, t) => Math.max(m, t.duration_ns), 1), [rows]);

  const more = async () => {
    if (!cursor) return;
    setMoreBusy(true);
    setMoreError(null);
    try {
      const page = await telemetryApi.search(search, PAGE, cursor);
      setExtra((e) => [...e, ...page.traces]);
      setCursor(page.next_cursor);
    } catch (e) {
      setMoreError(e as Error);
    } finally {
      setMoreBusy(false);
    }
  };

  // j/k to move in the results, Enter to open.
  const [active, setActive] = useState(-1);
  // The listener below is re-bound after paint: it reads the latest row from here.
  const activeNow = useRef(active);
  activeNow.current = active;
  const table = useRef<HTMLTableSectionElement>(null);
  useEffect(() => setActive(-1), [key]);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.ctrlKey || e.metaKey || e.altKey || isTyping(e.target) || rows.length === 0) return;
      if (e.key === "j" || e.key === "ArrowDown" || e.key === "k" || e.key === "ArrowUp") {
        const arrow = e.key === "ArrowDown" || e.key === "ArrowUp";
        if (arrow && document.activeElement !== document.body && !table.current?.contains(document.activeElement)) return;
        e.preventDefault();
        const down = e.key === "j" || e.key === "ArrowDown";
        const a = activeNow.current;
        activeNow.current = Math.max(0, Math.min(rows.length - 1, a < 0 ? 0 : a + (down ? 1 : -1)));
        setActive(activeNow.current);
      } else if (e.key === "Enter" && activeNow.current >= 0 && activeNow.current < rows.length) {
        if ((e.target as HTMLElement).closest?.("button, a, label")) return;
        e.preventDefault();
        navigate(href("traces", rows[activeNow.current].trace_id));
      }
    };
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  });
  useEffect(() => {
    if (active >= 0) table.current?.querySelectorAll("tr")[active]?.scrollIntoView({ block: "nearest" });
  }, [active]);

  const set = (patch: Partial<Search>) => setDraft((d) => ({ ...d, ...patch }));
  const addAttr = (): boolean => {
    const value = attrInput.trim();
    if (!value) return true;
    const problem = attrFilterProblem(value);
    if (problem) {
      setFormError(new Error(problem));
      return false;
    }
    if (!draft.attrs.includes(value)) set({ attrs: [...draft.attrs, value] });
    setAttrInput("");
    setFormError(null);
    return true;
  };

  const submit = (e: Event) => {
    e.preventDefault();
    const name = draft.name.trim();
    // A trace id in the main box opens the trace.
    if (/^[0-9a-f]{32}$/i.test(name)) {
      navigate(href("traces", name.toLowerCase()));
      return;
    }
    let next = draft;
    const pending = attrInput.trim();
    if (pending) {
      const problem = attrFilterProblem(pending);
      if (problem) return setFormError(new Error(problem));
      if (!draft.attrs.includes(pending)) next = { ...draft, attrs: [...draft.attrs, pending] };
      setAttrInput("");
    }
    const problem = durationProblem(next.minDuration);
    if (problem) return setFormError(new Error(problem));
    if (next.range === "custom" && next.since !== null && next.until !== null && next.since >= next.until)
      return setFormError(new Error("the custom range ends before it starts"));
    setFormError(null);
    const to = searchHash(next);
    if (to === key) first.reload();
    else navigate(to);
  };

  const serviceNames = services.data?.map((s) => s.name).sort() ?? [];
  if (search.service && !serviceNames.includes(search.service)) serviceNames.unshift(search.service);

  return (
    <section class="trace-search">
      <div class="toolbar">
        <h1 style={{ margin: 0, flex: 1 }}>Traces</h1>
        <ImportButton />
      </div>
      <form class="filters panel" onSubmit={submit} data-testid="trace-search">
        <label>
          Service
          <select value={draft.service} onChange={(e) => set({ service: (e.currentTarget as HTMLSelectElement).value })} data-testid="search-service">
            <option value="">all services</option>
            {serviceNames.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Operation (span name) or trace id
          <input
            type="search"
            value={draft.name}
            placeholder="e.g. checkout"
            onInput={(e) => set({ name: (e.currentTarget as HTMLInputElement).value })}
            data-search
            data-testid="search-name"
            size={22}
          />
        </label>
        <label>
          Time range
          <select value={draft.range} onChange={(e) => set({ range: (e.currentTarget as HTMLSelectElement).value as Search["range"] })} data-testid="search-range">
            {RANGE_PRESETS.map((r) => (
              <option key={r} value={r}>
                last {r}
              </option>
            ))}
            <option value="custom">custom…</option>
          </select>
        </label>
        {draft.range === "custom" ? (
          <>
            <label>
              From
              <input type="datetime-local" value={localInput(draft.since)} onInput={(e) => set({ since: fromLocalInput((e.currentTarget as HTMLInputElement).value) })} data-testid="search-since" />
            </label>
            <label>
              To
              <input type="datetime-local" value={localInput(draft.until)} onInput={(e) => set({ until: fromLocalInput((e.currentTarget as HTMLInputElement).value) })} data-testid="search-until" />
            </label>
          </>
        ) : null}
        <label>
          Min duration
          <input
            type="text"
            value={draft.minDuration}
            placeholder="250ms"
            size={7}
            onInput={(e) => set({ minDuration: (e.currentTarget as HTMLInputElement).value })}
            data-testid="search-min-duration"
          />
        </label>
        <label>
          Attribute (key=value)
          <span class="attr-entry">
            <input
              type="text"
              value={attrInput}
              placeholder="http.response.status_code=500"
              size={24}
              onInput={(e) => setAttrInput((e.currentTarget as HTMLInputElement).value)}
              onKeyDown={(e) => {
                if (e.key === "Enter" && attrInput.trim()) {
                  e.preventDefault();
                  addAttr();
                }
              }}
              data-testid="search-attr"
            />
            <button type="button" onClick={addAttr} title="Add this filter (Enter)">
              +
            </button>
          </span>
        </label>
        <label class="check">
          <input type="checkbox" checked={draft.errors} onChange={(e) => set({ errors: (e.currentTarget as HTMLInputElement).checked })} data-testid="search-errors" />
          errors only
        </label>
        <button type="submit" class="primary">
          Search
        </button>
        {draft.attrs.length ? (
          <div class="chips" data-testid="search-attrs">
            {draft.attrs.map((a) => (
              <span class="chip mono" key={a}>
                {a}
                <button type="button" class="link" aria-label={`remove ${a}`} onClick={() => set({ attrs: draft.attrs.filter((x) => x !== a) })}>
                  ✕
                </button>
              </span>
            ))}
          </div>
        ) : null}
      </form>
      <ErrorBox error={formError} action="Searching" />
      <ErrorBox error={first.error} action="Searching traces" />

      {first.data === undefined && !first.error ? (
        <Loading what="traces" />
      ) : rows.length === 0 && first.data ? (
        services.data && services.data.length === 0 ? (
          <Empty>
            No telemetry stored yet. Point an OTLP exporter at the receiver, or drop an OTLP JSON file anywhere in this window to import it.
          </Empty>
        ) : (
          <Empty>
            No traces {rangeWords(search)}
            {search.service || search.name || search.errors || search.attrs.length || search.minDuration ? " match this search" : ""}.{" "}
            {search.range !== "24h" && search.range !== "custom" ? <a href={searchHash({ ...search, range: "24h" })}>Look in the last 24 hours</a> : null}
          </Empty>
        )
      ) : rows.length ? (
        <>
          <p class="muted results-head">
            {rows.length.toLocaleString()}
            {cursor ? "+" : ""} trace{rows.length === 1 ? "" : "s"} {rangeWords(search)}, newest first · <kbd>j</kbd>/<kbd>k</kbd> and <kbd>Enter</kbd>
          </p>
          <table class="trace-results" data-testid="trace-results">
            <thead>
              <tr>
                <th>Root span</th>
                <th>Service</th>
                <th>Start</th>
                <th class="num">Duration</th>
                <th class="num">Spans</th>
                <th class="num">Errors</th>
              </tr>
            </thead>
            <tbody ref={table}>
              {rows.map((t, k) => (
                <tr
                  key={t.trace_id}
                  data-trace-id={t.trace_id}
                  class={k === active ? "active" : t.error ? "has-error" : undefined}
                  onClick={(e) => {
                    if (!(e.target as HTMLElement).closest("a")) navigate(href("traces", t.trace_id));
                  }}
                >
                  <td>
                    <a href={href("traces", t.trace_id)}>{t.root_name || <span class="muted">(no name)</span>}</a>
                    <div class="mono muted">{t.trace_id}</div>
                  </td>
                  <td>{t.service}</td>
                  <td title={new Date(t.start_unix_nano / 1e6).toLocaleString()}>{ago(t.start_unix_nano / 1e6)}</td>
                  <td class="num">
                    {duration(t.duration_ns)}
                    <div class="dur-bar" style={{ width: `${Math.max(2, (t.duration_ns / longest) * 100)}%` }} />
                  </td>
                  <td class="num">{t.span_count.toLocaleString()}</td>
                  <td class="num">{t.error_count ? <span class="state error">{t.error_count.toLocaleString()}</span> : <span class="muted">0</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <div class="toolbar" style={{ marginTop: "8px" }}>
            {cursor ? (
              <button type="button" onClick={more} disabled={moreBusy} data-testid="more">
                {moreBusy ? "Loading…" : "More"}
              </button>
            ) : (
              <span class="muted">That is all.</span>
            )}
          </div>
          <ErrorBox error={moreError} action="Reading more traces" />
        </>
      ) : null}
    </section>
  );
}
