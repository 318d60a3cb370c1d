//! Spans of saga instances that follow the conventions (`saga {name}` roots,
//! `saga.step {step}` attempts), for tests and benchmarks of the saga views.

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::{Span, Status};

use crate::{kv_int, kv_str};

/// One saga instance being scripted: steps run one after another from
/// `start`, each attempt a span; [`Saga::root`] is the instance's root span.
#[derive(Debug, Clone)]
pub struct Saga {
    pub name: String,
    pub id: String,
    pub trace_id: Vec<u8>,
    pub start: u64,
    /// Where the next attempt starts.
    pub cursor: u64,
    pub steps: Vec<Span>,
    next_span: u16,
}

impl Saga {
    pub fn new(name: &str, id: &str, trace_id: Vec<u8>, start: u64) -> Self {
        Self {
            name: name.into(),
            id: id.into(),
            trace_id,
            start,
            cursor: start + 1_000,
            steps: Vec::new(),
            next_span: 1,
        }
    }

    /// Unique within the trace: the trace id's first bytes and a counter.
    fn span_id(&mut self, n: u16) -> Vec<u8> {
        let mut id = self.trace_id[..6].to_vec();
        id.extend_from_slice(&n.to_be_bytes());
        id[0] |= 1;
        id
    }

    pub fn root_span_id(&mut self) -> Vec<u8> {
        self.span_id(0)
    }

    /// A forward attempt of step `index` lasting `nanos`; `error` fails it.
    pub fn forward(
        &mut self,
        step: &str,
        index: i64,
        attempt: i64,
        nanos: u64,
        error: Option<&str>,
    ) -> &mut Self {
        self.attempt(step, index, "forward", attempt, nanos, error)
    }

    /// A compensation attempt of step `index`.
    pub fn compensate(
        &mut self,
        step: &str,
        index: i64,
        attempt: i64,
        nanos: u64,
        error: Option<&str>,
    ) -> &mut Self {
        self.attempt(step, index, "compensate", attempt, nanos, error)
    }

    fn attempt(
        &mut self,
        step: &str,
        index: i64,
        phase: &str,
        attempt: i64,
        nanos: u64,
        error: Option<&str>,
    ) -> &mut Self {
        let n = self.next_span;
        self.next_span += 1;
        let span_id = self.span_id(n);
        let parent = self.root_span_id();
        let start = self.cursor;
        self.cursor += nanos + 1_000;
        self.steps.push(Span {
            trace_id: self.trace_id.clone(),
            span_id,
            parent_span_id: parent,
            name: format!("saga.step {step}"),
            kind: 1,
            start_time_unix_nano: start,
            end_time_unix_nano: start + nanos,
            attributes: vec![
                kv_str("saga.id", &self.id),
                kv_str("saga.name", &self.name),
                kv_str("saga.step.name", step),
                kv_int("saga.step.index", index),
                kv_str("saga.step.phase", phase),
                kv_int("saga.step.attempt", attempt),
            ],
            status: Some(status(error)),
            ..Default::default()
        });
        self
    }

    /// The root span, ended after the last attempt with `outcome`.
    pub fn root(&mut self, outcome: &str, error: Option<&str>) -> Span {
        let span_id = self.root_span_id();
        Span {
            trace_id: self.trace_id.clone(),
            span_id,
            name: format!("saga {}", self.name),
            kind: 1,
            start_time_unix_nano: self.start,
            end_time_unix_nano: self.cursor,
            attributes: vec![
                kv_str("saga.name", &self.name),
                kv_str("saga.id", &self.id),
                kv_str("saga.outcome", outcome),
            ],
            status: Some(status(error)),
            ..Default::default()
        }
    }

    /// A choreography participant's span: `saga.id` and `saga.name` only.
    pub fn participant(&mut self, name: &str, nanos: u64, error: Option<&str>) -> &mut Self {
        let n = self.next_span;
        self.next_span += 1;
        let span_id = self.span_id(n);
        let start = self.cursor;
        self.cursor += nanos + 1_000;
        let attributes: Vec<KeyValue> =
            vec![kv_str("saga.id", &self.id), kv_str("saga.name", &self.name)];
        self.steps.push(Span {
            trace_id: self.trace_id.clone(),
            span_id,
            name: name.into(),
            kind: 5,
            start_time_unix_nano: start,
            end_time_unix_nano: start + nanos,
            attributes,
            status: Some(status(error)),
            ..Default::default()
        });
        self
    }
}

fn status(error: Option<&str>) -> Status {
    match error {
        Some(message) => Status {
            code: 2,
            message: message.into(),
        },
        None => Status {
            code: 1,
            message: String::new(),
        },
    }
}
