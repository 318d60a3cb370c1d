// The saga's trace beside its flow: for now a plain list of the trace's spans (the
// Traces view's waterfall takes its place when the two meet). Spans of the selected
// step are marked.

import { api } from "../api";
import { Empty, ErrorBox, Loading } from "../components/feedback";
import { duration } from "../format";
import { useResource } from "../hooks";
import { href } from "../router";

interface SpanRow {
  span_id: string;
  parent_span_id: string;
  name: string;
  service: string;
  start_unix_nano: number;
  end_unix_nano: number;
  status: { code: string; message?: string | null };
}

interface TraceAnswer {
  trace_id: string;
  spans: SpanRow[];
}

/** Spans in tree order (parents before children), each with its depth. */
function ordered(spans: SpanRow[]): { span: SpanRow; depth: number }[] {
  const ids = new Set(spans.map((s) => s.span_id));
  const children = new Map<string, SpanRow[]>();
  for (const s of spans) {
    const parent = s.parent_span_id && ids.has(s.parent_span_id) ? s.parent_span_id : "";
    children.set(parent, [...(children.get(parent) ?? []), s]);
  }
  const out: { span: SpanRow; depth: number }[] = [];
  const walk = (parent: string, depth: number) => {
    for (const s of (children.get(parent) ?? []).sort((a, b) => a.start_unix_nano - b.start_unix_nano)) {
      out.push({ span: s, depth });
      walk(s.span_id, depth + 1);
    }
  };
  walk("", 0);
  return out;
}

export function SagaTrace({ traceId, markSpanIds = [] }: { traceId: string; markSpanIds?: string[] }) {
  const trace = useResource(() => api.get<TraceAnswer>(`/traces/${encodeURIComponent(traceId)}`), [traceId]);
  if (trace.error) return <ErrorBox error={trace.error} action="Reading the trace" />;
  if (!trace.data) return <Loading what="the trace" />;
  const rows = ordered(trace.data.spans);
  if (!rows.length) return <Empty>The trace has no spans stored.</Empty>;
  const start = Math.min(...rows.map((r) => r.span.start_unix_nano));
  const end = Math.max(...rows.map((r) => r.span.end_unix_nano));
  const total = Math.max(1, end - start);
  return (
    <div class="saga-trace" data-testid="saga-trace">
      <table>
        <thead>
          <tr>
            <th>Span</th>
            <th>Service</th>
            <th class="bar-col">Timing</th>
            <th class="num">Duration</th>
          </tr>
        </thead>
        <tbody>
          {rows.map(({ span, depth }) => {
            const error = span.status?.code === "error";
            const left = ((span.start_unix_nano - start) / total) * 100;
            const width = Math.max(0.5, ((span.end_unix_nano - span.start_unix_nano) / total) * 100);
            return (
              <tr key={span.span_id} data-span-id={span.span_id} class={markSpanIds.includes(span.span_id) ? "marked" : undefined}>
                <td style={{ paddingLeft: `${10 + depth * 14}px` }} title={span.status?.message ?? undefined}>
                  {error ? <span class="state error">error</span> : null} {span.name}
                </td>
                <td class="muted">{span.service}</td>
                <td class="bar-col">
                  <div class="span-bar-track">
                    <div class={`span-bar${error ? " is-error" : ""}`} style={{ left: `${left}%`, width: `${width}%` }} />
                  </div>
                </td>
                <td class="num">{duration(span.end_unix_nano - span.start_unix_nano)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <p class="muted">
        <a href={href("traces", traceId)}>Open the trace</a> ({rows.length} spans, {duration(total)}).
      </p>
    </div>
  );
}
