// The waterfall of one trace: a row per span (indented by depth, service colour,
// duration bar on the trace's time axis), collapsible subtrees, a search inside the
// trace, and keys. Rows are virtualised: fixed height, only the window in view (plus
// overscan) is in the DOM, a spacer gives the scroll height, so 100,000 spans scroll
// like 100. `TracePanel` adds the span details beside it; `TraceWaterfall` loads a
// trace by id first (the saga view shows a saga's trace with it).

import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import { telemetryApi, type Span, type Trace } from "../api/telemetry";
import { duration } from "../format";
import { useResource } from "../hooks";
import {
  allCollapsed,
  barExtent,
  buildTree,
  criticalPath,
  findSpans,
  firstMatchFrom,
  reveal,
  rowOf,
  serviceHue,
  stepMatch,
  ticks,
  type SpanTree,
  visibleRows,
} from "../waterfall";
import { ErrorBox, Loading } from "./feedback";
import { SpanDetails } from "./span-details";

export const ROW_HEIGHT = 24;
const HEADER_HEIGHT = 26;
const OVERSCAN = 10;
/** Indentation stops growing here (and at a sixth of the row); deeper rows show their depth. */
const MAX_INDENT_DEPTH = 24;
const INDENT = 12;
const SHOW_DEPTH_FROM = 12;
const MAX_EVENT_MARKS = 24;

export interface WaterfallProps {
  trace: Trace;
  selectedSpanId?: string;
  onSelect?: (span: Span) => void;
  /** Escape pressed with a span selected. */
  onClear?: () => void;
  /** Spans to mark (a saga's steps, say): an accent stripe on their rows. */
  markSpanIds?: Set<string>;
  /** Height of the scrolling area in pixels (default 480). */
  height?: number;
  /** The tree, when the caller built it already (to share it with the details). */
  tree?: SpanTree;
  /** Puts `data-search` on the find box, so `/` focuses it (the view's main search). */
  mainSearch?: boolean;
  /** Called once per trace, in the frame after the first rows are committed. */
  onPainted?: (rows: number) => void;
}

export function serviceColor(tree: SpanTree, span: number): string {
  return `hsl(${serviceHue(tree.serviceIndex[span]).toFixed(0)} 62% 52%)`;
}

function isTyping(target: EventTarget | null): boolean {
  return !!(target as HTMLElement | null)?.closest?.("input, textarea, select, [contenteditable]");
}

export function Waterfall(props: WaterfallProps) {
  const { trace, markSpanIds, onPainted } = props;
  const tree = useMemo(() => props.tree ?? buildTree(trace.spans), [props.tree, trace]);
  // No taller than all the rows: a small trace gets a small box.
  const height = Math.min(props.height ?? 480, HEADER_HEIGHT + Math.max(1, tree.spans.length) * ROW_HEIGHT + 2);
  const oneService = tree.services.length === 1;

  // Collapsed flags live in a typed array; `revision` says when they changed.
  const collapsed = useRef<Uint8Array>(new Uint8Array(0));
  const rowBuffer = useRef<Int32Array | undefined>(undefined);
  const [revision, setRevision] = useState(0);
  const treeSeen = useRef<SpanTree | null>(null);
  if (treeSeen.current !== tree) {
    treeSeen.current = tree;
    collapsed.current = new Uint8Array(tree.spans.length);
    rowBuffer.current = new Int32Array(tree.spans.length);
  }
  const rows = useMemo(() => visibleRows(tree, collapsed.current, rowBuffer.current), [tree, revision]);

  const [firstRow, setFirstRow] = useState(0);
  const [cursor, setCursor] = useState(-1);
  const [internalSelected, setInternalSelected] = useState<number>(-1);
  const selectedFromProps = props.selectedSpanId !== undefined ? (tree.index.get(props.selectedSpanId) ?? -1) : undefined;
  const selected = selectedFromProps ?? internalSelected;

  const [query, setQuery] = useState("");
  const [matchAt, setMatchAt] = useState(-1);
  const [critical, setCritical] = useState(false);
  const scroller = useRef<HTMLDivElement>(null);

  const matches = useMemo(() => findSpans(tree, query), [tree, query]);
  const isMatch = useMemo(() => {
    const flags = new Uint8Array(tree.spans.length);
    for (let k = 0; k < matches.length; k++) flags[matches[k]] = 1;
    return flags;
  }, [tree, matches]);
  const onCritical = useMemo(() => (critical ? criticalPath(tree) : null), [tree, critical]);

  const bodyHeight = height - HEADER_HEIGHT;
  const perScreen = Math.max(1, Math.ceil(bodyHeight / ROW_HEIGHT));

  const scrollToRow = (row: number) => {
    const el = scroller.current;
    if (!el || row < 0) return;
    const top = row * ROW_HEIGHT;
    if (top < el.scrollTop) el.scrollTop = top;
    else if (top + ROW_HEIGHT > el.scrollTop + bodyHeight) el.scrollTop = top + ROW_HEIGHT - bodyHeight;
  };

  /** Brings a row into view, centred when it was out of view (a jump, not a step). */
  const centreRow = (row: number) => {
    const el = scroller.current;
    if (!el || row < 0) return;
    const top = row * ROW_HEIGHT;
    if (top < el.scrollTop || top + ROW_HEIGHT > el.scrollTop + bodyHeight) el.scrollTop = Math.max(0, top - (bodyHeight - ROW_HEIGHT) / 2);
  };

  // Scroll to a span once the rows it needs are computed (after reveal).
  const pendingScroll = useRef(-1);
  useLayoutEffect(() => {
    if (pendingScroll.current < 0) return;
    const row = rowOf(rows, pendingScroll.current);
    pendingScroll.current = -1;
    centreRow(row);
  }, [rows]);

  const goTo = (span: number) => {
    if (span < 0) return;
    setCursor(span);
    if (reveal(tree, collapsed.current, [span])) {
      setRevision((r) => r + 1);
      pendingScroll.current = span;
    } else centreRow(rowOf(rows, span));
  };

  // New trace: back to the top.
  useEffect(() => {
    setFirstRow(0);
    setMatchAt(-1);
    if (scroller.current) scroller.current.scrollTop = 0;
  }, [tree]);

  // A selected span given from outside is revealed and brought into view.
  useEffect(() => {
    if (selected >= 0) goTo(selected);
  }, [tree, selectedFromProps]);

  // A new search expands what hides its matches and jumps to the first at the cursor.
  useEffect(() => {
    if (matches.length === 0) {
      setMatchAt(-1);
      return;
    }
    if (reveal(tree, collapsed.current, matches)) setRevision((r) => r + 1);
    const k = firstMatchFrom(tree, matches, cursor);
    setMatchAt(k);
    goTo(matches[k]);
  }, [matches]);

  const select = (span: number) => {
    setCursor(span);
    setInternalSelected(span);
    if (span >= 0) props.onSelect?.(tree.spans[span]);
  };

  // Keys can come faster than renders: step from the latest match, not the rendered one.
  const matchAtNow = useRef(matchAt);
  matchAtNow.current = matchAt;
  const nextMatch = (forward: boolean) => {
    const k = stepMatch(matches.length, matchAtNow.current, forward);
    if (k < 0) return;
    matchAtNow.current = k;
    setMatchAt(k);
    goTo(matches[k]);
  };

  // n / N anywhere but in a text field.
  useEffect(() => {
    if (matches.length === 0) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.ctrlKey || e.metaKey || e.altKey || isTyping(e.target)) return;
      if (e.key === "n" || e.key === "N") {
        e.preventDefault();
        nextMatch(e.key === "n");
      }
    };
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  });

  const toggle = (span: number) => {
    if (tree.childCount[span] === 0) return;
    collapsed.current[span] = collapsed.current[span] ? 0 : 1;
    setRevision((r) => r + 1);
  };
  const setAll = (collapse: boolean) => {
    collapsed.current = collapse ? allCollapsed(tree) : new Uint8Array(tree.spans.length);
    if (collapse && cursor >= 0) {
      // Keep the cursor on what still shows: its root.
      let root = cursor;
      while (tree.parent[root] >= 0) root = tree.parent[root];
      setCursor(root);
    }
    setRevision((r) => r + 1);
  };

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.ctrlKey || e.metaKey || e.altKey || rows.length === 0) return;
    const row = cursor >= 0 ? rowOf(rows, cursor) : -1;
    const move = (to: number) => {
      e.preventDefault();
      const r = Math.max(0, Math.min(rows.length - 1, to));
      setCursor(rows[r]);
      scrollToRow(r);
    };
    switch (e.key) {
      case "ArrowDown":
      case "j":
        return move(row + 1);
      case "ArrowUp":
      case "k":
        return move(row < 0 ? 0 : row - 1);
      case "PageDown":
        return move(row + perScreen - 1);
      case "PageUp":
        return move(row - perScreen + 1);
      case "Home":
        return move(0);
      case "End":
        return move(rows.length - 1);
      case "ArrowLeft":
      case "h":
        if (cursor < 0) return;
        e.preventDefault();
        if (tree.childCount[cursor] > 0 && !collapsed.current[cursor]) toggle(cursor);
        else if (tree.parent[cursor] >= 0) goTo(tree.parent[cursor]);
        return;
      case "ArrowRight":
      case "l":
        if (cursor < 0) return;
        e.preventDefault();
        if (tree.childCount[cursor] > 0 && collapsed.current[cursor]) toggle(cursor);
        else if (tree.childCount[cursor] > 0) move(row + 1);
        return;
      case "Enter":
      case " ":
        if (cursor < 0) return;
        e.preventDefault();
        select(cursor);
        return;
      case "Escape":
        if (selected >= 0) {
          e.preventDefault();
          setInternalSelected(-1);
          props.onClear?.();
        }
        return;
    }
  };

  // Once per trace: tell the caller the rows are on screen.
  const painted = useRef<SpanTree | null>(null);
  useLayoutEffect(() => {
    if (!onPainted || painted.current === tree || rows.length === 0) return;
    painted.current = tree;
    const count = tree.spans.length;
    requestAnimationFrame(() => onPainted(count));
  });

  const total = tree.end - tree.start;
  const axis = useMemo(() => ticks(total, 6), [total]);
  const from = Math.max(0, firstRow - OVERSCAN);
  const to = Math.min(rows.length, firstRow + perScreen + OVERSCAN);

  const onScroll = (e: Event) => setFirstRow(Math.floor((e.currentTarget as HTMLElement).scrollTop / ROW_HEIGHT));

  // Rows are keyed by slot (row number modulo the window's size): scrolling reuses the
  // DOM of the rows that left for the rows that came, instead of building new ones.
  const slots = perScreen + 2 * OVERSCAN + 1;
  const rowElements = [];
  for (let r = from; r < to; r++) {
    const i = rows[r];
    const span = tree.spans[i];
    const depth = tree.depth[i];
    const hasChildren = tree.childCount[i] > 0;
    const isCollapsed = hasChildren && collapsed.current[i] === 1;
    const { left, width } = barExtent(tree, span);
    const colour = serviceColor(tree, i);
    const err = tree.error[i] === 1;
    const classes = ["wf-row"];
    if (i === cursor) classes.push("cursor");
    if (i === selected) classes.push("selected");
    if (isMatch[i]) classes.push("match");
    if (matchAt >= 0 && matches[matchAt] === i) classes.push("current-match");
    if (err) classes.push("err");
    if (markSpanIds?.has(span.span_id)) classes.push("marked");
    if (onCritical) classes.push(onCritical[i] ? "crit" : "off-crit");
    // The duration goes after the bar, else before it, else inside its end.
    const labelAt = left + width < 0.72 ? "after" : left > 0.12 ? "before" : "inside";
    const events = span.events ?? [];
    rowElements.push(
      <div
        key={r % slots}
        class={classes.join(" ")}
        style={{ top: `${r * ROW_HEIGHT}px` }}
        role="treeitem"
        aria-level={depth + 1}
        aria-expanded={hasChildren ? !isCollapsed : undefined}
        aria-selected={i === selected}
        data-span-id={span.span_id}
        data-depth={depth}
        data-error={err ? "" : undefined}
        onClick={() => select(i)}
      >
        <div class="wf-name" style={{ paddingLeft: `min(${4 + Math.min(depth, MAX_INDENT_DEPTH) * INDENT}px, 16%)` }}>
          {hasChildren ? (
            <button
              type="button"
              class="wf-caret"
              tabIndex={-1}
              aria-label={isCollapsed ? "expand" : "collapse"}
              onClick={(e) => {
                e.stopPropagation();
                setCursor(i);
                toggle(i);
              }}
            >
              {isCollapsed ? "▸" : "▾"}
            </button>
          ) : (
            <span class="wf-caret" />
          )}
          {depth >= SHOW_DEPTH_FROM ? (
            <span class="wf-depth" title="depth">
              {depth}
            </span>
          ) : null}
          <span class="wf-swatch" style={{ background: colour }} />
          {err ? (
            <span class="wf-err" title="status error">
              !
            </span>
          ) : null}
          {oneService ? null : <span class="wf-service">{span.service}</span>}
          <span class="wf-op" title={span.name}>
            {span.name}
          </span>
          {isCollapsed ? <span class="wf-hidden">+{tree.descendants[i].toLocaleString()}</span> : null}
          {tree.orphan[i] ? (
            <span class="wf-orphan" title={`parent ${span.parent_span_id} is not in this trace`}>
              orphan
            </span>
          ) : null}
        </div>
        <div class="wf-time">
          <div class="wf-bar" style={{ left: `${left * 100}%`, width: `max(2px, ${width * 100}%)`, background: colour }}>
            {events.length && total > 0
              ? events.slice(0, MAX_EVENT_MARKS).map((ev, k) => (
                  <i
                    key={k}
                    class="wf-event"
                    style={{
                      left: `${Math.min(100, Math.max(0, ((ev.time_unix_nano - span.start_unix_nano) / Math.max(1, span.end_unix_nano - span.start_unix_nano)) * 100))}%`,
                    }}
                  />
                ))
              : null}
          </div>
          <span
            class={labelAt === "inside" ? "wf-dur inside" : "wf-dur"}
            style={
              labelAt === "after"
                ? { left: `calc(${(left + width) * 100}% + 4px)` }
                : labelAt === "before"
                  ? { right: `calc(${(1 - left) * 100}% + 4px)` }
                  : { right: `calc(${(1 - left - width) * 100}% + 4px)` }
            }
          >
            {duration(span.end_unix_nano - span.start_unix_nano)}
          </span>
        </div>
      </div>,
    );
  }

  const shown = rows.length;
  return (
    <div class="wf" data-testid="waterfall" data-spans={tree.spans.length} data-rows={shown}>
      <div class="wf-toolbar">
        <input
          type="search"
          placeholder="Find in trace: name, service, attribute…"
          value={query}
          onInput={(e) => setQuery((e.currentTarget as HTMLInputElement).value)}
          onKeyDown={(e) => {
            if (e.key === "Enter") {
              e.preventDefault();
              nextMatch(!e.shiftKey);
            } else if (e.key === "Escape" && query) {
              e.preventDefault();
              e.stopPropagation();
              setQuery("");
            }
          }}
          data-testid="trace-find"
          data-search={props.mainSearch ? "" : undefined}
          aria-label="Find in trace"
        />
        <span class="wf-count muted" data-testid="trace-find-count" aria-live="polite">
          {query.trim() ? (matches.length ? `${matchAt + 1} of ${matches.length.toLocaleString()}` : "no match") : ""}
        </span>
        <button type="button" onClick={() => nextMatch(false)} disabled={!matches.length} title="Previous match (N, Shift+Enter)">
          ↑
        </button>
        <button type="button" onClick={() => nextMatch(true)} disabled={!matches.length} title="Next match (n, Enter)">
          ↓
        </button>
        <span class="wf-spacer" />
        <label class="check" title="The spans the trace's end waited on">
          <input type="checkbox" checked={critical} onChange={(e) => setCritical((e.currentTarget as HTMLInputElement).checked)} data-testid="critical-path" />
          critical path
        </label>
        <button type="button" onClick={() => setAll(true)} data-testid="collapse-all">
          Collapse all
        </button>
        <button type="button" onClick={() => setAll(false)} data-testid="expand-all">
          Expand all
        </button>
        <span class="muted wf-shown">
          {shown === tree.spans.length ? `${shown.toLocaleString()} spans` : `${shown.toLocaleString()} of ${tree.spans.length.toLocaleString()} spans shown`}
        </span>
      </div>
      <div
        class="wf-scroll"
        ref={scroller}
        style={{ height: `${height}px` }}
        tabIndex={0}
        role="tree"
        aria-label={`Spans of trace ${trace.trace_id}`}
        onScroll={onScroll}
        onKeyDown={onKeyDown}
        onFocus={() => {
          if (cursor < 0 && rows.length) setCursor(rows[Math.min(rows.length - 1, firstRow)]);
        }}
      >
        <div class="wf-axis" style={{ height: `${HEADER_HEIGHT}px` }}>
          <div class="wf-name muted">Service · span</div>
          <div class="wf-time">
            {axis.map((t) => (
              <span key={t} class="wf-tick" style={{ left: `${total > 0 ? (t / total) * 100 : 0}%` }}>
                {t === 0 ? "0" : duration(t)}
              </span>
            ))}
          </div>
        </div>
        <div class="wf-body" style={{ height: `${shown * ROW_HEIGHT}px` }}>
          <div class="wf-grid" style={{ top: `${from * ROW_HEIGHT}px`, height: `${(to - from) * ROW_HEIGHT}px` }}>
            {axis.map((t) => (
              <i key={t} style={{ left: `${total > 0 ? (t / total) * 100 : 0}%` }} />
            ))}
          </div>
          {rowElements}
        </div>
      </div>
    </div>
  );
}

/** The waterfall with the selected span's details beside it. */
export function TracePanel(props: {
  trace: Trace;
  tree?: SpanTree;
  selectedSpanId?: string;
  onSelect?: (span: Span | null) => void;
  markSpanIds?: Set<string>;
  height?: number;
  mainSearch?: boolean;
  onPainted?: (rows: number) => void;
}) {
  const tree = useMemo(() => props.tree ?? buildTree(props.trace.spans), [props.tree, props.trace]);
  const [selected, setSelected] = useState<string | undefined>(props.selectedSpanId);
  useEffect(() => setSelected(props.selectedSpanId), [props.selectedSpanId]);
  const index = selected !== undefined ? (tree.index.get(selected) ?? -1) : -1;
  const choose = (span: Span | null) => {
    setSelected(span?.span_id);
    props.onSelect?.(span);
  };
  return (
    <div class={index >= 0 ? "trace-panel with-details" : "trace-panel"}>
      <Waterfall
        trace={props.trace}
        tree={tree}
        selectedSpanId={selected ?? ""}
        onSelect={choose}
        onClear={() => choose(null)}
        markSpanIds={props.markSpanIds}
        height={props.height}
        mainSearch={props.mainSearch}
        onPainted={props.onPainted}
      />
      {index >= 0 ? <SpanDetails tree={tree} span={index} traceId={props.trace.trace_id} onSelect={(i) => choose(tree.spans[i])} onClose={() => choose(null)} height={props.height} /> : null}
    </div>
  );
}

/** Loads a trace by id and shows its waterfall and span details. */
export function TraceWaterfall(props: { traceId: string; selectedSpanId?: string; onSelect?: (span: Span | null) => void; markSpanIds?: Set<string>; height?: number }) {
  const trace = useResource(() => telemetryApi.trace(props.traceId), [props.traceId]);
  if (trace.error) return <ErrorBox error={trace.error} action={`Reading trace ${props.traceId}`} />;
  if (!trace.data) return <Loading what="the trace" />;
  return <TracePanel trace={trace.data} selectedSpanId={props.selectedSpanId} onSelect={props.onSelect} markSpanIds={props.markSpanIds} height={props.height} />;
}
