//! Game-day experiments: the reaction comes, or the wait times out; the fault is reverted.

mod support;

use support::{Harness, MemoryBackend, next_change, watch};
use switchyard_control_api::ClientError;
use switchyard_control_api::proto::{self, expectation::Kind, state_change::Change};

fn breaker_experiment(
    service: &str,
    breaker: &str,
    state: &str,
    within_seconds: u32,
) -> proto::RunExperimentRequest {
    proto::RunExperimentRequest {
        reason: "game day".into(),
        fault: Some(proto::Fault {
            service: service.into(),
            error_rate: 0.9,
            added_latency_ms: 0,
        }),
        expectation: Some(proto::Expectation {
            kind: Some(Kind::Breaker(proto::BreakerExpectation {
                name: breaker.into(),
                state: state.into(),
            })),
            within_seconds,
        }),
    }
}

#[tokio::test]
async fn an_expected_reaction_is_reported_with_its_timing() {
    let h = Harness::start(MemoryBackend::new(true)).await;
    let client = h.client().await;
    let (mut stream, _) = watch(&client).await;

    let result = client
        .run_experiment(breaker_experiment("payments", "payments", "open", 5))
        .await
        .expect("experiment");
    assert!(result.met, "{result:?}");
    let after = result.observed_after_ms.expect("timing");
    assert!((100..5000).contains(&after), "observed after {after} ms");
    assert!(
        result.observed.contains("closed -> open"),
        "{}",
        result.observed
    );
    assert_eq!(
        result.expectation,
        "breaker payments reaches open within 5 s"
    );

    // The fault was reverted, and the result was published on the stream.
    let inv = client.inventory().await.expect("inventory");
    let fault = &inv.faults.expect("faults").faults[0];
    assert_eq!(fault.error_rate, 0.0);
    loop {
        if let Change::Experiment(e) = next_change(&mut stream).await {
            assert!(e.met);
            break;
        }
    }
    let audit = client.audit(0).await.expect("audit");
    assert!(
        audit
            .iter()
            .any(|e| e.command == "RunExperiment" && e.outcome == "ok")
    );
}

#[tokio::test]
async fn a_reaction_that_does_not_come_times_out() {
    let h = Harness::start(MemoryBackend::new(true)).await;
    let client = h.client().await;
    // The fault is on payments; the inventory breaker never reacts to it.
    let result = client
        .run_experiment(breaker_experiment("payments", "inventory", "open", 1))
        .await
        .expect("experiment");
    assert!(!result.met);
    assert_eq!(result.observed_after_ms, None);
    assert!(result.duration_ms >= 1000, "{result:?}");
    assert!(
        result.observed.starts_with("timed out"),
        "{}",
        result.observed
    );
}

#[tokio::test]
async fn experiments_are_checked_before_anything_happens() {
    let h = Harness::start(MemoryBackend::new(false)).await;
    let client = h.client().await;
    let err = client
        .run_experiment(breaker_experiment("payments", "payments", "open", 1))
        .await
        .expect_err("faults disabled");
    assert!(matches!(err, ClientError::FailedPrecondition(_)), "{err}");

    let h = Harness::start(MemoryBackend::new(true)).await;
    let client = h.client().await;
    let err = client
        .run_experiment(breaker_experiment("payments", "payments", "ajar", 1))
        .await
        .expect_err("unknown state");
    assert!(
        matches!(err, ClientError::InvalidArgument(ref m) if m.contains("ajar")),
        "{err}"
    );
    assert_eq!(h.backend.commands(), 0);
}
