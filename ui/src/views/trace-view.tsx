// One trace: what it is (root, services, duration, spans, errors), its waterfall with
// the selected span's details, and export as OTLP JSON. The selected span is in the
// link (`#/traces/ID?span=SPAN`).

import { useEffect, useMemo, useState } from "preact/hooks";
import { telemetryApi, type Span } from "../api/telemetry";
import { ErrorBox, Loading } from "../components/feedback";
import { instant } from "../components/span-details";
import { TracePanel } from "../components/waterfall";
import { duration } from "../format";
import { useResource } from "../hooks";
import { href, type Route } from "../router";
import { buildTree, serviceHue } from "../waterfall";
import { ExportButton } from "../components/export-button";

/** Where "← Traces" goes: the last search made (set by the search view). */
export const LAST_SEARCH = "traces:last-search";


function useAvailableHeight(reserve: number): number {
  const [height, setHeight] = useState(() => Math.max(320, innerHeight - reserve));
  useEffect(() => {
    const onResize = () => setHeight(Math.max(320, innerHeight - reserve));
    addEventListener("resize", onResize);
    return () => removeEventListener("resize", onResize);
  }, [reserve]);
  return height;
}

/** The benchmark's marks: `trace-open` when loading starts, the measure once rows paint. */
function markOpen() {
  performance.clearMarks();
  performance.clearMeasures();
  performance.mark("trace-open");
  delete document.body.dataset.waterfallPainted;
}

function markPainted(spans: number) {
  try {
    performance.measure("waterfall-first-paint", "trace-open");
  } catch {
    // No `trace-open` mark (cleared by someone else): nothing to measure.
  }
  document.body.dataset.waterfallPainted = String(spans);
}

export function TraceView({ id, route }: { id: string; route: Route }) {
  const trace = useResource(() => {
    markOpen();
    return telemetryApi.trace(id);
  }, [id]);
  const tree = useMemo(() => (trace.data ? buildTree(trace.data.spans) : undefined), [trace.data]);
  const spanInLink = route.query.get("span") ?? undefined;
  const height = useAvailableHeight(250);


  const onSelect = (span: Span | null) => {
    // Keep the link current without a new history entry or a route change.
    const to = href("traces", id, { span: span?.span_id });
    history.replaceState(history.state, "", to);
  };

  const back = (
    <a href={sessionStorage.getItem(LAST_SEARCH) ?? "#/traces"} class="muted" data-testid="back-to-search">
      ← Traces
    </a>
  );

  if (trace.error)
    return (
      <section>
        {back}
        <h1>Trace <span class="mono">{id}</span></h1>
        <ErrorBox error={trace.error} action="Reading the trace" />
      </section>
    );
  if (!trace.data || !tree)
    return (
      <section>
        {back}
        <h1>Trace <span class="mono">{id}</span></h1>
        <Loading what="the trace" />
      </section>
    );

  const root = tree.roots.length ? tree.spans[tree.roots[0]] : undefined;
  return (
    <section class="trace-view" data-trace-id={trace.data.trace_id}>
      {back}
      <div class="trace-head">
        <div class="trace-title">
          <h1 title={root?.name}>{root ? `${root.service}: ${root.name}` : "Empty trace"}</h1>
          <div class="mono muted" data-testid="trace-id">{trace.data.trace_id}</div>
        </div>
        <div class="trace-actions">
          <ExportButton
            what="the trace"
            fileName={`trace-${id}.json`}
            load={() => telemetryApi.exportTrace(id)}
            testId="export-trace"
            title="Download this trace as OTLP JSON (an ExportTraceServiceRequest)"
          />
        </div>
      </div>
      <dl class="trace-facts" data-testid="trace-header">
        <div>
          <dt>Duration</dt>
          <dd>{duration(tree.end - tree.start)}</dd>
        </div>
        <div>
          <dt>Spans</dt>
          <dd data-testid="trace-span-count">{tree.spans.length.toLocaleString()}</dd>
        </div>
        <div>
          <dt>Errors</dt>
          <dd class={tree.errorCount ? "bad" : ""} data-testid="trace-error-count">{tree.errorCount.toLocaleString()}</dd>
        </div>
        <div>
          <dt>Depth</dt>
          <dd>{(tree.maxDepth + 1).toLocaleString()}</dd>
        </div>
        <div>
          <dt>Started</dt>
          <dd>{tree.spans.length ? instant(tree.start) : "—"}</dd>
        </div>
        <div class="trace-services">
          <dt>Services ({tree.services.length})</dt>
          <dd>
            {tree.services.map((s, k) => (
              <span class="svc" key={s}>
                <i style={{ background: `hsl(${serviceHue(k).toFixed(0)} 62% 52%)` }} />
                {s || "unknown"}
              </span>
            ))}
          </dd>
        </div>
        {tree.roots.length > 1 ? (
          <div>
            <dt>Roots</dt>
            <dd title="spans with no parent in this trace (their parent was not received)">{tree.roots.length}</dd>
          </div>
        ) : null}
      </dl>
      <TracePanel trace={trace.data} tree={tree} selectedSpanId={spanInLink} onSelect={onSelect} height={height} mainSearch onPainted={markPainted} />
    </section>
  );
}
