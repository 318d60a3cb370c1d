// One span in full: status, kind, service and scope, ids, timing (with self time),
// attributes, events with their times, and links (to other traces, or within this one).

import type { AttrValue, Span } from "../api/telemetry";
import { duration } from "../format";
import { href } from "../router";
import { selfTime, type SpanTree } from "../waterfall";

/** `12:04:05.123` local time of a Unix-ns instant, with the date when not today. */
export function instant(unixNano: number): string {
  const d = new Date(unixNano / 1e6);
  const time = d.toLocaleTimeString(undefined, { hour12: false }) + "." + String(d.getMilliseconds()).padStart(3, "0");
  return d.toDateString() === new Date().toDateString() ? time : `${d.toLocaleDateString()} ${time}`;
}

function valueText(value: AttrValue): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

function AttributeTable({ attributes, testid }: { attributes: Record<string, AttrValue>; testid?: string }) {
  const keys = Object.keys(attributes ?? {});
  if (keys.length === 0) return <p class="muted sd-none">none</p>;
  return (
    <table class="sd-attrs" data-testid={testid}>
      <tbody>
        {keys.map((k) => (
          <tr key={k}>
            <th class="mono">{k}</th>
            <td class={`mono ${typeof attributes[k] === "string" ? "" : "sd-typed"}`}>{valueText(attributes[k])}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function SpanDetails({
  tree,
  span: index,
  traceId,
  onSelect,
  onClose,
  height,
}: {
  tree: SpanTree;
  span: number;
  traceId?: string;
  onSelect?: (span: number) => void;
  onClose?: () => void;
  height?: number;
}) {
  const span: Span = tree.spans[index];
  const parent = tree.parent[index];
  const length = span.end_unix_nano - span.start_unix_nano;
  const status = span.status?.code ?? "unset";
  return (
    <aside class="span-details panel" data-testid="span-details" data-span-id={span.span_id} style={height ? { maxHeight: `${height + 40}px` } : undefined} aria-label="Span details">
      <div class="sd-head">
        <h2 title={span.name}>{span.name}</h2>
        {onClose ? (
          <button type="button" class="link" onClick={onClose} aria-label="Close the details" title="Close (Esc in the waterfall)">
            ✕
          </button>
        ) : null}
      </div>
      <div class="sd-chips">
        <span class={`state ${status === "error" ? "error" : status === "ok" ? "ok" : "unknown"}`} data-testid="span-status">
          {status}
        </span>
        <span class="sd-kind">{span.kind}</span>
        <span>{duration(length)}</span>
      </div>
      {span.status?.message ? (
        <p class="sd-message" data-testid="span-status-message">
          {span.status.message}
        </p>
      ) : null}
      <dl class="sd-facts">
        <dt>Service</dt>
        <dd>{span.service || <span class="muted">unknown</span>}</dd>
        <dt>Scope</dt>
        <dd class="mono">
          {span.scope?.name || "—"}
          {span.scope?.version ? ` ${span.scope.version}` : ""}
        </dd>
        <dt>Starts</dt>
        <dd>
          +{duration(span.start_unix_nano - tree.start)} <span class="muted">at {instant(span.start_unix_nano)}</span>
        </dd>
        <dt>Duration</dt>
        <dd>
          {duration(length)} <span class="muted">(self {duration(selfTime(tree, index))})</span>
        </dd>
        <dt>Span id</dt>
        <dd class="mono">{span.span_id}</dd>
        <dt>Parent</dt>
        <dd class="mono">
          {parent >= 0 ? (
            <button type="button" class="link mono" onClick={() => onSelect?.(parent)} title={tree.spans[parent].name}>
              {span.parent_span_id}
            </button>
          ) : span.parent_span_id ? (
            <>
              {span.parent_span_id} <span class="muted">(not in this trace)</span>
            </>
          ) : (
            <span class="muted">none (root)</span>
          )}
        </dd>
        <dt>Children</dt>
        <dd>
          {tree.childCount[index].toLocaleString()}
          {tree.descendants[index] > tree.childCount[index] ? <span class="muted"> ({tree.descendants[index].toLocaleString()} below)</span> : null}
        </dd>
        {traceId ? (
          <>
            <dt>Trace id</dt>
            <dd class="mono">{traceId}</dd>
          </>
        ) : null}
        <dt>Flags</dt>
        <dd class="mono">
          {span.flags}
          {span.trace_state ? ` · ${span.trace_state}` : ""}
        </dd>
      </dl>

      <h3>Attributes</h3>
      <AttributeTable attributes={span.attributes} testid="span-attributes" />
      {span.dropped_attributes_count ? <p class="muted">{span.dropped_attributes_count} attributes dropped</p> : null}

      <h3>Events {span.events?.length ? <span class="muted">({span.events.length})</span> : null}</h3>
      {span.events?.length ? (
        <ol class="sd-events" data-testid="span-events">
          {span.events.map((ev, k) => (
            <li key={k}>
              <div>
                <span class="mono muted">+{duration(ev.time_unix_nano - span.start_unix_nano)}</span> <strong>{ev.name}</strong>
              </div>
              {Object.keys(ev.attributes ?? {}).length ? <AttributeTable attributes={ev.attributes} /> : null}
            </li>
          ))}
        </ol>
      ) : (
        <p class="muted sd-none">none</p>
      )}
      {span.dropped_events_count ? <p class="muted">{span.dropped_events_count} events dropped</p> : null}

      <h3>Links {span.links?.length ? <span class="muted">({span.links.length})</span> : null}</h3>
      {span.links?.length ? (
        <ul class="sd-links" data-testid="span-links">
          {span.links.map((link, k) => {
            const here = tree.index.get(link.span_id);
            const sameTrace = here !== undefined && (!traceId || link.trace_id === traceId);
            return (
              <li key={k}>
                {sameTrace && onSelect ? (
                  <button type="button" class="link mono" onClick={() => onSelect(here!)}>
                    span {link.span_id} (this trace)
                  </button>
                ) : (
                  <a class="mono" href={href("traces", link.trace_id, { span: link.span_id })} data-link-trace={link.trace_id}>
                    {link.trace_id.slice(0, 16)}… / {link.span_id}
                  </a>
                )}
                {Object.keys(link.attributes ?? {}).length ? <AttributeTable attributes={link.attributes} /> : null}
              </li>
            );
          })}
        </ul>
      ) : (
        <p class="muted sd-none">none</p>
      )}
    </aside>
  );
}
