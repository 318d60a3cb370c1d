//! Breaker transitions from `breaker.transition` span events and log records.

use opentelemetry_proto::tonic::common::v1::KeyValue;
use switchyard_conventions::breaker as names;

use super::attrs;

/// One row of `breaker_transitions`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TransitionRow {
    pub(crate) breaker_name: String,
    pub(crate) service_name: String,
    pub(crate) time: i64,
    pub(crate) from_state: Option<String>,
    pub(crate) to_state: String,
    pub(crate) reason: Option<String>,
    pub(crate) dry_run: bool,
    pub(crate) trace_id: Option<Vec<u8>>,
    pub(crate) span_id: Option<Vec<u8>>,
    /// Commit time, set by the writer.
    pub(crate) arrived: i64,
}

/// A transition from a span event, when the event is one.
pub(crate) fn from_event(
    event_name: &str,
    attributes: &[KeyValue],
    time: i64,
    service_name: &str,
    trace_id: &[u8],
    span_id: &[u8],
) -> Option<TransitionRow> {
    if event_name != names::TRANSITION_EVENT {
        return None;
    }
    let mut row = row(attributes, time, service_name)?;
    row.trace_id = Some(trace_id.to_vec());
    row.span_id = Some(span_id.to_vec());
    Some(row)
}

/// A transition from a log record: its event name or body says
/// `breaker.transition`, or it simply carries `breaker.name` and `breaker.to`
/// (a `tracing` event bridged to OTLP keeps its fields as attributes).
pub(crate) fn from_log(
    event_name: Option<&str>,
    body_is_transition: bool,
    attributes: &[KeyValue],
    time: i64,
    service_name: &str,
) -> Option<TransitionRow> {
    let named = event_name == Some(names::TRANSITION_EVENT) || body_is_transition;
    if !named && !attrs::has(attributes, names::TO) {
        return None;
    }
    row(attributes, time, service_name)
}

fn row(attributes: &[KeyValue], time: i64, service_name: &str) -> Option<TransitionRow> {
    Some(TransitionRow {
        breaker_name: attrs::string(attributes, names::NAME)?.to_owned(),
        service_name: service_name.to_owned(),
        time,
        from_state: attrs::string(attributes, names::FROM).map(str::to_owned),
        to_state: attrs::string(attributes, names::TO)?.to_owned(),
        reason: attrs::string(attributes, names::REASON).map(str::to_owned),
        dry_run: attrs::bool(attributes, names::DRY_RUN).unwrap_or(false),
        trace_id: None,
        span_id: None,
        arrived: 0,
    })
}
