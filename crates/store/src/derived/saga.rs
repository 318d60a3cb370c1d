//! Picking the spans of sagas out of a request (the conventions' `saga.*`
//! attributes and span names).

use opentelemetry_proto::tonic::trace::v1::Span;
use switchyard_conventions::saga as names;

use super::attrs;

/// What kind of saga span a row is; the numbers are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SagaSpanKind {
    /// `saga {name}`: one run of an instance, with its outcome.
    Root = 0,
    /// `saga.step {step}`: one attempt of a step or of its compensation.
    Step = 1,
    /// Any other span carrying `saga.id`: a choreography participant.
    Participant = 2,
}

impl SagaSpanKind {
    pub fn from_stored(code: i64) -> Self {
        match code {
            0 => SagaSpanKind::Root,
            1 => SagaSpanKind::Step,
            _ => SagaSpanKind::Participant,
        }
    }
}

/// One span of a saga as `saga_spans` stores it: a root, a step attempt or a
/// participant's span.
#[derive(Debug, Clone, PartialEq)]
pub struct SagaSpanRow {
    pub saga_id: String,
    pub span_id: Vec<u8>,
    pub trace_id: Vec<u8>,
    pub kind: SagaSpanKind,
    pub saga_name: String,
    pub name: String,
    pub service_name: String,
    pub step_index: Option<i64>,
    /// 0 forward, 1 compensate.
    pub phase: Option<i64>,
    pub attempt: Option<i64>,
    pub outcome: Option<String>,
    pub start_time: i64,
    pub end_time: i64,
    pub status_code: i32,
    pub status_message: Option<String>,
    /// The span's row id in `spans` (while in a batch: its index among the
    /// batch's spans; the writer adds where the batch's rows start).
    pub span_row: i64,
}

/// The saga row of a span, when it carries `saga.id`. Called on every span
/// before it is encoded: spans without the attribute cost one scan of keys.
/// The span's ids and times must already be valid.
pub(crate) fn saga_span(span: &Span, service_name: &str, span_row: i64) -> Option<SagaSpanRow> {
    let saga_id = attrs::string(&span.attributes, names::ID)?;
    let a = &span.attributes;
    let kind = if span.name.starts_with(names::STEP_SPAN_PREFIX) || attrs::has(a, names::STEP_NAME)
    {
        SagaSpanKind::Step
    } else if span.name.starts_with(names::ROOT_SPAN_PREFIX) {
        SagaSpanKind::Root
    } else {
        SagaSpanKind::Participant
    };
    // A participant is known by both attributes (the conventions put both on
    // every participant span); `saga.id` alone is too common a word to trust.
    let saga_name = match (attrs::string(a, names::NAME), kind) {
        (Some(name), _) => name,
        (None, SagaSpanKind::Root) => &span.name[names::ROOT_SPAN_PREFIX.len()..],
        (None, SagaSpanKind::Step) => "",
        (None, SagaSpanKind::Participant) => return None,
    }
    .to_owned();
    let name = match kind {
        SagaSpanKind::Root => saga_name.clone(),
        SagaSpanKind::Step => attrs::string(a, names::STEP_NAME)
            .or_else(|| span.name.strip_prefix(names::STEP_SPAN_PREFIX))
            .unwrap_or(&span.name)
            .to_owned(),
        SagaSpanKind::Participant => span.name.clone(),
    };
    let phase = (kind == SagaSpanKind::Step).then(|| {
        match attrs::string(a, names::STEP_PHASE).and_then(|p| p.parse().ok()) {
            Some(names::StepPhase::Compensate) => 1,
            _ => 0,
        }
    });
    let status = span.status.clone().unwrap_or_default();
    Some(SagaSpanRow {
        saga_id: saga_id.to_owned(),
        span_id: span.span_id.clone(),
        trace_id: span.trace_id.clone(),
        kind,
        saga_name,
        name,
        service_name: service_name.to_owned(),
        step_index: attrs::int(a, names::STEP_INDEX),
        phase,
        attempt: attrs::int(a, names::STEP_ATTEMPT),
        outcome: attrs::string(a, names::OUTCOME).map(str::to_owned),
        start_time: span.start_time_unix_nano as i64,
        end_time: span.end_time_unix_nano as i64,
        status_code: status.code,
        status_message: (!status.message.is_empty()).then_some(status.message),
        span_row,
    })
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
    use opentelemetry_proto::tonic::trace::v1::Status;

    use super::*;

    fn kv(key: &str, value: Value) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        }
    }

    fn span(name: &str, attributes: Vec<KeyValue>) -> Span {
        Span {
            name: name.into(),
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            start_time_unix_nano: 10,
            end_time_unix_nano: 20,
            attributes,
            ..Default::default()
        }
    }

    #[test]
    fn spans_without_a_saga_id_are_not_saga_spans() {
        assert_eq!(saga_span(&span("GET /", vec![]), "web", 0), None);
    }

    #[test]
    fn a_step_attempt_keeps_its_step_fields() {
        let mut s = span(
            "saga.step charge-card",
            vec![
                kv("saga.id", Value::StringValue("o-1".into())),
                kv("saga.name", Value::StringValue("checkout".into())),
                kv("saga.step.name", Value::StringValue("charge-card".into())),
                kv("saga.step.index", Value::IntValue(2)),
                kv("saga.step.phase", Value::StringValue("compensate".into())),
                kv("saga.step.attempt", Value::IntValue(3)),
            ],
        );
        s.status = Some(Status {
            code: 2,
            message: "declined".into(),
        });
        let row = saga_span(&s, "orders", 0).unwrap();
        assert_eq!(row.kind, SagaSpanKind::Step);
        assert_eq!(
            (row.name.as_str(), row.step_index, row.phase, row.attempt),
            ("charge-card", Some(2), Some(1), Some(3))
        );
        assert_eq!(row.status_message.as_deref(), Some("declined"));
        assert_eq!(row.service_name, "orders");
    }

    #[test]
    fn roots_and_participants_are_told_apart() {
        let id = || kv("saga.id", Value::StringValue("o-1".into()));
        let root = saga_span(
            &span(
                "saga checkout",
                vec![
                    id(),
                    kv("saga.outcome", Value::StringValue("completed".into())),
                ],
            ),
            "orders",
            0,
        )
        .unwrap();
        assert_eq!(root.kind, SagaSpanKind::Root);
        assert_eq!(root.saga_name, "checkout", "from the span name");
        assert_eq!(root.outcome.as_deref(), Some("completed"));
        assert_eq!(
            saga_span(&span("GET /", vec![id()]), "web", 0),
            None,
            "saga.id alone does not make a participant"
        );
        let name = kv("saga.name", Value::StringValue("checkout".into()));
        let participant = saga_span(&span("reserve stock", vec![id(), name]), "stock", 0).unwrap();
        assert_eq!(participant.kind, SagaSpanKind::Participant);
        assert_eq!(participant.name, "reserve stock");
    }
}
