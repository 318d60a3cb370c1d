// The saga's trace beside its flow: the Traces view's waterfall (with span details),
// the selected step's spans marked.

import { TraceWaterfall } from "../components/waterfall";
import { href } from "../router";

export function SagaTrace({ traceId, markSpanIds = [] }: { traceId: string; markSpanIds?: string[] }) {
  return (
    <div class="saga-trace" data-testid="saga-trace">
      <TraceWaterfall traceId={traceId} markSpanIds={new Set(markSpanIds)} height={420} />
      <p class="muted">
        <a href={href("traces", traceId)}>Open the trace</a>
      </p>
    </div>
  );
}
