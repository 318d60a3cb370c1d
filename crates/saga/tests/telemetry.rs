//! The spans of the conventions: a failed saga's trace alone tells which step failed,
//! why, and which compensations ran.

mod support;

use std::time::Duration;

use opentelemetry::Value as AttributeValue;
use opentelemetry::trace::Status;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use serde_json::json;
use support::{Behaviour, Participants, orchestrator};
use switchyard_conventions::saga::{self, StepPhase};
use switchyard_saga::{SagaDefinition, SagaStatus};
use switchyard_testkit::TestDatabase;

fn attribute(span: &SpanData, key: &str) -> Option<AttributeValue> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_sagas_trace_tells_what_failed_and_what_was_undone() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    opentelemetry::global::set_tracer_provider(provider.clone());

    let participants = Participants::new();
    participants.set(
        "charge",
        StepPhase::Forward,
        Behaviour {
            refuse: true,
            ..Behaviour::default()
        },
    );
    let db = TestDatabase::sqlite();
    let orchestrator = orchestrator(&db, 4).await;
    let definition = SagaDefinition::builder("checkout")
        .step(participants.step("reserve"))
        .step(participants.step("charge"))
        .step(participants.step("ship"))
        .build()
        .unwrap();
    orchestrator.register(definition).unwrap();
    let done = orchestrator
        .run("checkout", json!({}), Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(done.status, SagaStatus::Compensated);
    provider.force_flush().unwrap();

    let spans = exporter.get_finished_spans().unwrap();
    let root = spans
        .iter()
        .find(|s| s.name == "saga checkout")
        .expect("the root span");
    assert_eq!(attribute(root, saga::ID), Some(done.id.clone().into()));
    assert_eq!(attribute(root, saga::NAME), Some("checkout".into()));
    assert_eq!(attribute(root, saga::OUTCOME), Some("compensated".into()));
    let trace_id = root.span_context.trace_id();

    let steps: Vec<&SpanData> = spans
        .iter()
        .filter(|s| s.name.starts_with(saga::STEP_SPAN_PREFIX))
        .collect();
    let described: Vec<(String, String)> = steps
        .iter()
        .map(|s| {
            let phase = attribute(s, saga::STEP_PHASE)
                .unwrap()
                .as_str()
                .into_owned();
            (s.name.to_string(), phase)
        })
        .collect();
    assert_eq!(
        described,
        [
            ("saga.step reserve".into(), "forward".into()),
            ("saga.step charge".into(), "forward".into()),
            ("saga.step reserve".into(), "compensate".into()),
        ]
    );
    for step in &steps {
        assert_eq!(step.span_context.trace_id(), trace_id);
        assert_eq!(step.parent_span_id, root.span_context.span_id());
        assert_eq!(attribute(step, saga::ID), Some(done.id.clone().into()));
        assert_eq!(attribute(step, saga::STEP_ATTEMPT), Some(1i64.into()));
    }
    assert_eq!(attribute(steps[1], saga::STEP_INDEX), Some(1i64.into()));
    match &steps[1].status {
        Status::Error { description } => {
            assert!(description.contains("charge refused"), "{description}")
        }
        other => panic!("the failed step's span is not an error: {other:?}"),
    }
    assert_eq!(steps[0].status, Status::Unset);

    // Participants got the step span's context: their spans become its children.
    let reserve_call = participants.calls().into_iter().next().unwrap();
    let traceparent = reserve_call.traceparent.expect("a traceparent");
    assert_eq!(
        traceparent,
        format!("00-{}-{}-01", trace_id, steps[0].span_context.span_id())
    );
}
