//! Spans to rows.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};

use super::{Batch, check_id, id_bytes, non_empty, time};
use crate::attributes::StoredJsonWriter;
use crate::derived::{self, SagaSpanRow, TransitionRow};
use crate::error::InvalidRequest;

/// One span as the `spans` table stores it (ids and the row's segment are
/// assigned by the writer). Public so benchmarks can insert the very same
/// rows through a raw SQLite loop.
#[derive(Debug)]
pub struct SpanRow {
    pub trace_id: Vec<u8>,
    pub span_id: Vec<u8>,
    pub parent_span_id: Option<Vec<u8>>,
    pub trace_state: Option<String>,
    pub flags: u32,
    pub name: String,
    pub kind: i32,
    pub start_time: i64,
    pub end_time: i64,
    pub status_code: i32,
    pub status_message: Option<String>,
    /// Index into the batch's resources, then scopes.
    pub resource: u32,
    pub scope: u32,
    pub attributes: Option<String>,
    pub events: Option<String>,
    pub links: Option<String>,
    pub dropped_attributes_count: u32,
    pub dropped_events_count: u32,
    pub dropped_links_count: u32,
}

impl SpanRow {
    fn approx_bytes(&self) -> usize {
        fn len(s: &Option<String>) -> usize {
            s.as_ref().map_or(0, String::len)
        }
        96 + self.name.len()
            + len(&self.trace_state)
            + len(&self.status_message)
            + len(&self.attributes)
            + len(&self.events)
            + len(&self.links)
    }
}

impl Batch {
    /// Validates and encodes a trace export request. A malformed id anywhere
    /// refuses the whole request; spans with timestamps SQLite cannot hold are
    /// refused one by one (partial success).
    pub fn from_traces(request: ExportTraceServiceRequest) -> Result<Batch, InvalidRequest> {
        let mut batch = Batch::default();
        let mut json = StoredJsonWriter::new();
        for (ri, resource_spans) in request.resource_spans.into_iter().enumerate() {
            let resource = batch.push_resource(
                &mut json,
                resource_spans.resource,
                resource_spans.schema_url,
            );
            for (si, scope_spans) in resource_spans.scope_spans.into_iter().enumerate() {
                let scope = batch.push_scope(&mut json, scope_spans.scope, scope_spans.schema_url);
                for (i, span) in scope_spans.spans.into_iter().enumerate() {
                    let at = || format!("resource_spans[{ri}].scope_spans[{si}].spans[{i}]");
                    let derived = derived_rows(
                        &batch.resources[resource as usize].service_name,
                        &span,
                        batch.spans.len() as i64,
                    );
                    match span_row(&mut json, span, resource, scope, at)? {
                        Ok(row) => {
                            batch.approx_bytes += row.approx_bytes();
                            batch.spans.push(row);
                            if let Some((saga, transitions)) = derived {
                                batch.derived.saga_spans.extend(saga);
                                batch.derived.transitions.extend(transitions);
                            }
                        }
                        Err(why) => {
                            batch.rejected.spans += 1;
                            batch.rejected.add(&at(), why);
                        }
                    }
                }
            }
        }
        Ok(batch)
    }
}

/// What a span adds to the derived tables, if anything: its saga row and the
/// breaker transitions among its events. Most spans have neither, and pay for
/// one scan of attribute keys and event names.
fn derived_rows(
    service_name: &str,
    span: &Span,
    index: i64,
) -> Option<(Option<SagaSpanRow>, Vec<TransitionRow>)> {
    let saga = derived::saga_span(span, service_name, index);
    let transitions: Vec<TransitionRow> = span
        .events
        .iter()
        .filter_map(|e| {
            derived::from_event(
                &e.name,
                &e.attributes,
                e.time_unix_nano as i64,
                service_name,
                &span.trace_id,
                &span.span_id,
            )
        })
        .collect();
    (saga.is_some() || !transitions.is_empty()).then_some((saga, transitions))
}

/// The outer error refuses the request, the inner one only this span.
fn span_row(
    json: &mut StoredJsonWriter,
    span: Span,
    resource: u32,
    scope: u32,
    at: impl Fn() -> String,
) -> Result<Result<SpanRow, &'static str>, InvalidRequest> {
    let trace_id = id_bytes(span.trace_id, 16, true, "trace_id", &at)?.expect("required");
    let span_id = id_bytes(span.span_id, 8, true, "span_id", &at)?.expect("required");
    let parent_span_id = id_bytes(span.parent_span_id, 8, false, "parent_span_id", &at)?;
    for (li, link) in span.links.iter().enumerate() {
        let at_link = || format!("{}.links[{li}]", at());
        check_id(&link.trace_id, 16, true, "trace_id", at_link)?;
        check_id(&link.span_id, 8, true, "span_id", at_link)?;
    }
    let (start_time, end_time) = match (
        time(span.start_time_unix_nano),
        time(span.end_time_unix_nano),
    ) {
        (Ok(start), Ok(end)) => (start, end),
        (Err(why), _) | (_, Err(why)) => return Ok(Err(why)),
    };
    let mut event_times = Vec::with_capacity(span.events.len());
    for event in &span.events {
        match time(event.time_unix_nano) {
            Ok(t) => event_times.push(t),
            Err(why) => return Ok(Err(why)),
        }
    }
    let status = span.status.unwrap_or_default();
    Ok(Ok(SpanRow {
        trace_id,
        span_id,
        parent_span_id,
        trace_state: non_empty(span.trace_state),
        flags: span.flags,
        name: span.name,
        kind: span.kind,
        start_time,
        end_time,
        status_code: status.code,
        status_message: non_empty(status.message),
        resource,
        scope,
        attributes: json.attributes(&span.attributes),
        events: events_json(json, &span.events, &event_times),
        links: links_json(json, &span.links),
        dropped_attributes_count: span.dropped_attributes_count,
        dropped_events_count: span.dropped_events_count,
        dropped_links_count: span.dropped_links_count,
    }))
}

/// Stored form of events: `[{"t":ns,"n":name,"a":{..},"d":dropped}]`, with
/// `a` and `d` left out when empty. Short keys: this is on every span.
fn events_json(json: &mut StoredJsonWriter, events: &[Event], times: &[i64]) -> Option<String> {
    if events.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(64 * events.len());
    out.push(b'[');
    for (i, (event, t)) in events.iter().zip(times).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"t\":");
        out.extend_from_slice(t.to_string().as_bytes());
        out.extend_from_slice(b",\"n\":");
        out.extend_from_slice(
            serde_json::to_string(&event.name)
                .expect("a str always serializes")
                .as_bytes(),
        );
        if !event.attributes.is_empty() {
            out.extend_from_slice(b",\"a\":");
            json.write_kvs_into(&mut out, &event.attributes);
        }
        if event.dropped_attributes_count > 0 {
            out.extend_from_slice(b",\"d\":");
            out.extend_from_slice(event.dropped_attributes_count.to_string().as_bytes());
        }
        out.push(b'}');
    }
    out.push(b']');
    Some(String::from_utf8(out).expect("JSON writer emits UTF-8"))
}

/// Stored form of links: `[{"tr":hex,"sp":hex,"ts":state,"f":flags,"a":{..},"d":n}]`,
/// with empty members left out.
fn links_json(json: &mut StoredJsonWriter, links: &[Link]) -> Option<String> {
    if links.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(96 * links.len());
    out.push(b'[');
    for (i, link) in links.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"tr\":\"");
        out.extend_from_slice(const_hex::encode(&link.trace_id).as_bytes());
        out.extend_from_slice(b"\",\"sp\":\"");
        out.extend_from_slice(const_hex::encode(&link.span_id).as_bytes());
        out.push(b'"');
        if !link.trace_state.is_empty() {
            out.extend_from_slice(b",\"ts\":");
            out.extend_from_slice(
                serde_json::to_string(&link.trace_state)
                    .expect("a str always serializes")
                    .as_bytes(),
            );
        }
        if link.flags != 0 {
            out.extend_from_slice(b",\"f\":");
            out.extend_from_slice(link.flags.to_string().as_bytes());
        }
        if !link.attributes.is_empty() {
            out.extend_from_slice(b",\"a\":");
            json.write_kvs_into(&mut out, &link.attributes);
        }
        if link.dropped_attributes_count > 0 {
            out.extend_from_slice(b",\"d\":");
            out.extend_from_slice(link.dropped_attributes_count.to_string().as_bytes());
        }
        out.push(b'}');
    }
    out.push(b']');
    Some(String::from_utf8(out).expect("JSON writer emits UTF-8"))
}
