//! Spans of the conventions (`shared/DESIGN.md`): one root span `saga {name}` per
//! instance, one `saga.step {step}` span per step attempt and per compensation attempt.

use std::collections::BTreeMap;

use opentelemetry::trace::{SpanKind, Status, TraceContextExt as _, Tracer as _};
use opentelemetry::{Context, KeyValue, global};
use switchyard_conventions::saga::{self, StepPhase};
use switchyard_eventing::bus::{extract_context, inject_context};

use crate::log::SagaStatus;

const TRACER: &str = "switchyard-saga";

/// The root span of one run of an instance; after a restart, a new root span continues
/// the trace of the first (the crashed process never exported its root span).
#[derive(Debug)]
pub(crate) struct SagaSpan {
    cx: Context,
}

impl SagaSpan {
    /// A new instance's root: a child of the caller's current trace, if any.
    pub(crate) fn start(name: &str, id: &str) -> Self {
        Self::start_with_parent(name, id, &Context::current(), false)
    }

    /// A resumed instance's root, continuing the trace recorded in the log.
    pub(crate) fn resume(name: &str, id: &str, trace_context: &BTreeMap<String, String>) -> Self {
        Self::start_with_parent(name, id, &extract_context(trace_context), true)
    }

    fn start_with_parent(name: &str, id: &str, parent: &Context, resumed: bool) -> Self {
        let tracer = global::tracer(TRACER);
        let mut attributes = vec![
            KeyValue::new(saga::NAME, name.to_owned()),
            KeyValue::new(saga::ID, id.to_owned()),
        ];
        if resumed {
            attributes.push(KeyValue::new("saga.resumed", true));
        }
        let span = tracer
            .span_builder(saga::root_span_name(name))
            .with_kind(SpanKind::Internal)
            .with_attributes(attributes)
            .start_with_context(&tracer, parent);
        SagaSpan {
            cx: parent.with_span(span),
        }
    }

    /// `traceparent`/`tracestate` of this root span, to keep in the log.
    pub(crate) fn headers(&self) -> BTreeMap<String, String> {
        let mut headers = BTreeMap::new();
        inject_context(&self.cx, &mut headers);
        headers
    }

    pub(crate) fn context(&self) -> &Context {
        &self.cx
    }

    /// Sets `saga.outcome` and ends the span.
    pub(crate) fn end(self, status: SagaStatus, error: Option<&str>) {
        let span = self.cx.span();
        span.set_attribute(KeyValue::new(saga::OUTCOME, status.outcome().as_str()));
        if let (SagaStatus::Failed | SagaStatus::Compensated, Some(error)) = (status, error) {
            span.set_status(Status::error(error.to_owned()));
        }
        span.end();
    }
}

/// A span for one step attempt, child of the saga's root.
#[derive(Debug)]
pub(crate) struct StepSpan {
    cx: Context,
}

pub(crate) struct StepSpanInfo<'a> {
    pub(crate) saga_name: &'a str,
    pub(crate) saga_id: &'a str,
    pub(crate) step: &'a str,
    pub(crate) index: usize,
    pub(crate) phase: StepPhase,
    pub(crate) attempt: u32,
}

impl StepSpan {
    pub(crate) fn start(root: &SagaSpan, info: StepSpanInfo<'_>) -> Self {
        let tracer = global::tracer(TRACER);
        let span = tracer
            .span_builder(saga::step_span_name(info.step))
            .with_kind(SpanKind::Internal)
            .with_attributes([
                KeyValue::new(saga::ID, info.saga_id.to_owned()),
                KeyValue::new(saga::NAME, info.saga_name.to_owned()),
                KeyValue::new(saga::STEP_NAME, info.step.to_owned()),
                KeyValue::new(saga::STEP_INDEX, info.index as i64),
                KeyValue::new(saga::STEP_PHASE, info.phase.as_str()),
                KeyValue::new(saga::STEP_ATTEMPT, i64::from(info.attempt)),
            ])
            .start_with_context(&tracer, root.context());
        StepSpan {
            cx: root.context().with_span(span),
        }
    }

    /// `traceparent` of this span: participants' spans become its children.
    pub(crate) fn headers(&self) -> BTreeMap<String, String> {
        let mut headers = BTreeMap::new();
        inject_context(&self.cx, &mut headers);
        headers
    }

    pub(crate) fn context(&self) -> &Context {
        &self.cx
    }

    pub(crate) fn end(self, error: Option<&str>) {
        let span = self.cx.span();
        if let Some(error) = error {
            span.set_status(Status::error(error.to_owned()));
        }
        span.end();
    }
}
