//! The orchestrator on SQLite and on PostgreSQL: forward, compensation, stuck sagas,
//! operator commands, timeouts, concurrency, telemetry.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;
use support::{Behaviour, Participants, orchestrator};
use switchyard_conventions::saga::StepPhase;
use switchyard_saga::log::EntryKind;
use switchyard_saga::state::Phase;
use switchyard_saga::{
    CompensationOrder, InstanceFilter, OnStepFailure, OrchestratorError, SagaDefinition,
    SagaStatus, StepAction, StepDefinition, StepError, action_fn,
};
use switchyard_testkit::{TestDatabase, on_both_databases};

on_both_databases!(
    happy_path_runs_every_step_in_order,
    failure_at_each_step_compensates_the_completed_ones_in_reverse,
    retryable_failures_are_retried_with_the_same_idempotency_key,
    failing_compensation_leaves_the_saga_failed_for_an_operator,
    retry_from_the_failed_step_after_the_participant_recovers,
    skip_compensate_and_resolve_are_logged_with_who_and_why,
    compensate_now_stops_a_running_saga,
    step_timeout_and_saga_deadline_compensate,
    parallel_compensation_runs_together,
    concurrency_is_bounded,
    starting_one_id_twice_runs_it_once,
);

const WAIT: Duration = Duration::from_secs(30);

fn checkout(participants: &Arc<Participants>) -> switchyard_saga::SagaBuilder {
    SagaDefinition::builder("checkout")
        .step(participants.step("reserve"))
        .step(participants.step("charge"))
        .step(participants.step("ship"))
}

/// A checkout that holds (rather than compensates) when a step fails, with the payment
/// participant down.
async fn held_at_charge(db: &TestDatabase) -> (Arc<Participants>, switchyard_saga::Orchestrator) {
    let participants = Participants::new();
    let down = Behaviour {
        down: true,
        ..Behaviour::default()
    };
    participants.set("charge", StepPhase::Forward, down);
    let orchestrator = orchestrator(db, 16).await;
    let definition = checkout(&participants)
        .on_step_failure(OnStepFailure::Hold)
        .build()
        .unwrap();
    orchestrator.register(definition).unwrap();
    (participants, orchestrator)
}

async fn happy_path_runs_every_step_in_order(db: TestDatabase) {
    let participants = Participants::new();
    let orchestrator = orchestrator(&db, 16).await;
    orchestrator
        .register(checkout(&participants).build().unwrap())
        .unwrap();
    let done = orchestrator
        .run("checkout", json!({ "order": 7 }), WAIT)
        .await
        .unwrap();
    assert_eq!(done.status, SagaStatus::Completed);
    assert_eq!(
        participants.trail(),
        ["reserve:forward", "charge:forward", "ship:forward"]
    );
    let calls = participants.calls();
    assert_eq!(calls[0].key, format!("{}:reserve:forward", done.id));
    assert_eq!(calls[2].input, json!({ "order": 7 }));
    assert_eq!(
        calls[2].outputs,
        ["charge", "reserve"],
        "later steps see earlier outputs"
    );

    let details = orchestrator.get(&done.id).await.unwrap();
    let kinds: Vec<EntryKind> = details.entries.iter().map(|e| e.kind).collect();
    use EntryKind::*;
    assert_eq!(
        kinds,
        [
            Started,
            StepAttempted,
            StepSucceeded,
            StepAttempted,
            StepSucceeded,
            StepAttempted,
            StepSucceeded,
            Completed
        ]
    );
    let seqs: Vec<i64> = details.entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=8).collect::<Vec<_>>());
    assert_eq!(details.steps[1].output.as_ref().unwrap()["step"], "charge");
    let unknown = orchestrator.start("no-such-saga", json!({})).await;
    assert!(
        matches!(unknown, Err(OrchestratorError::UnknownDefinition(_))),
        "{unknown:?}"
    );
}

async fn failure_at_each_step_compensates_the_completed_ones_in_reverse(db: TestDatabase) {
    let orchestrator = orchestrator(&db, 16).await;
    let expected_compensations: [&[&str]; 3] = [
        &[],
        &["reserve:compensate"],
        &["charge:compensate", "reserve:compensate"],
    ];
    for (failing, step) in ["reserve", "charge", "ship"].iter().enumerate() {
        let participants = Participants::new();
        participants.set(
            step,
            StepPhase::Forward,
            Behaviour {
                refuse: true,
                ..Behaviour::default()
            },
        );
        let name = format!("checkout-{failing}");
        let definition = SagaDefinition::builder(&name)
            .step(participants.step("reserve"))
            .step(participants.step("charge"))
            .step(participants.step("ship"))
            .build()
            .unwrap();
        orchestrator.register(definition).unwrap();
        let done = orchestrator.run(&name, json!({}), WAIT).await.unwrap();
        assert_eq!(done.status, SagaStatus::Compensated, "failing at {step}");
        assert_eq!(done.failed_step.as_deref(), Some(*step));
        assert!(
            done.error.as_deref().unwrap().contains("refused"),
            "{:?}",
            done.error
        );
        let trail = participants.trail();
        let compensations: Vec<&str> = trail
            .iter()
            .filter(|t| t.ends_with("compensate"))
            .map(String::as_str)
            .collect();
        assert_eq!(
            compensations, expected_compensations[failing],
            "failing at {step}"
        );
        // A permanent failure is not retried.
        assert_eq!(
            trail
                .iter()
                .filter(|t| **t == format!("{step}:forward"))
                .count(),
            1
        );
    }
    let compensated = orchestrator
        .list(&InstanceFilter {
            statuses: vec![SagaStatus::Compensated],
            ..InstanceFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(compensated.len(), 3);
}

async fn retryable_failures_are_retried_with_the_same_idempotency_key(db: TestDatabase) {
    let participants = Participants::new();
    participants.set(
        "charge",
        StepPhase::Forward,
        Behaviour {
            fail_times: 2,
            ..Behaviour::default()
        },
    );
    let orchestrator = orchestrator(&db, 16).await;
    orchestrator
        .register(checkout(&participants).build().unwrap())
        .unwrap();
    let done = orchestrator.run("checkout", json!({}), WAIT).await.unwrap();
    assert_eq!(done.status, SagaStatus::Completed);
    let charges: Vec<_> = participants
        .calls()
        .into_iter()
        .filter(|c| c.step == "charge")
        .collect();
    assert_eq!(
        charges.iter().map(|c| c.attempt).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(
        charges.iter().all(|c| c.key == charges[0].key),
        "one key for every attempt"
    );
    let details = orchestrator.get(&done.id).await.unwrap();
    assert_eq!(details.steps[1].forward_attempts, 3);
    let failures = details
        .entries
        .iter()
        .filter(|e| e.kind == EntryKind::StepAttemptFailed)
        .count();
    assert_eq!(failures, 2);
}

async fn failing_compensation_leaves_the_saga_failed_for_an_operator(db: TestDatabase) {
    let orchestrator = orchestrator(&db, 16).await;
    for continue_past in [false, true] {
        let participants = Participants::new();
        participants.set(
            "ship",
            StepPhase::Forward,
            Behaviour {
                refuse: true,
                ..Behaviour::default()
            },
        );
        participants.set(
            "charge",
            StepPhase::Compensate,
            Behaviour {
                down: true,
                ..Behaviour::default()
            },
        );
        let name = format!("checkout-{continue_past}");
        let definition = SagaDefinition::builder(&name)
            .step(participants.step("reserve"))
            .step(participants.step("charge"))
            .step(participants.step("ship"))
            .continue_past_failed_compensation(continue_past)
            .build()
            .unwrap();
        orchestrator.register(definition).unwrap();
        let done = orchestrator.run(&name, json!({}), WAIT).await.unwrap();
        assert_eq!(done.status, SagaStatus::Failed);
        assert!(
            done.error
                .as_deref()
                .unwrap()
                .contains("compensation of charge failed"),
            "{:?}",
            done.error
        );
        let trail = participants.trail();
        assert_eq!(
            trail.iter().filter(|t| *t == "charge:compensate").count(),
            3,
            "the budget was used"
        );
        assert_eq!(
            trail.contains(&"reserve:compensate".to_owned()),
            continue_past
        );
    }
    let failed = orchestrator
        .list(&InstanceFilter {
            statuses: vec![SagaStatus::Failed],
            ..InstanceFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(failed.len(), 2, "both are listed for an operator");
}

async fn retry_from_the_failed_step_after_the_participant_recovers(db: TestDatabase) {
    let (participants, orchestrator) = held_at_charge(&db).await;
    let held = orchestrator
        .run("checkout", json!({ "amount": 10 }), WAIT)
        .await
        .unwrap();
    assert_eq!(held.status, SagaStatus::Failed);
    assert_eq!(held.failed_step.as_deref(), Some("charge"));
    assert!(
        !participants
            .trail()
            .iter()
            .any(|t| t.ends_with("compensate")),
        "held, not compensated"
    );

    participants.set("charge", StepPhase::Forward, Behaviour::default());
    let status = orchestrator
        .retry(
            &held.id,
            "ops@example.com",
            "card processor is back",
            Some(json!({ "amount": 9 })),
        )
        .await
        .unwrap();
    assert_eq!(status, SagaStatus::Running);
    let done = orchestrator.wait(&held.id, WAIT).await.unwrap();
    assert_eq!(done.status, SagaStatus::Completed);
    assert_eq!(done.failed_step, None);
    let last_charge = participants
        .calls()
        .into_iter()
        .rfind(|c| c.step == "charge")
        .unwrap();
    assert_eq!(
        last_charge.step_input,
        Some(json!({ "amount": 9 })),
        "the edited input was used"
    );
    assert_eq!(last_charge.attempt, 1, "a retry starts a fresh budget");
    let details = orchestrator.get(&held.id).await.unwrap();
    let retry = details
        .entries
        .iter()
        .find(|e| e.kind == EntryKind::RetryRequested)
        .unwrap();
    assert_eq!(retry.actor.as_deref(), Some("ops@example.com"));
    assert_eq!(retry.reason.as_deref(), Some("card processor is back"));
    let again = orchestrator.retry(&held.id, "ops", "twice", None).await;
    assert!(
        matches!(
            again,
            Err(OrchestratorError::NotAllowed {
                status: SagaStatus::Completed,
                ..
            })
        ),
        "{again:?}"
    );
    let unknown = orchestrator.retry("nope", "ops", "why", None).await;
    assert!(
        matches!(unknown, Err(OrchestratorError::UnknownSaga(_))),
        "{unknown:?}"
    );
}

async fn skip_compensate_and_resolve_are_logged_with_who_and_why(db: TestDatabase) {
    let (participants, orchestrator) = held_at_charge(&db).await;

    // Skip: the step is marked skipped and the saga goes on.
    let first = orchestrator.run("checkout", json!({}), WAIT).await.unwrap();
    assert_eq!(
        orchestrator
            .skip(&first.id, "ana", "charged by phone")
            .await
            .unwrap(),
        SagaStatus::Running
    );
    let done = orchestrator.wait(&first.id, WAIT).await.unwrap();
    assert_eq!(done.status, SagaStatus::Completed);
    let details = orchestrator.get(&first.id).await.unwrap();
    assert_eq!(details.steps[1].forward, Phase::Skipped);
    assert_eq!(details.steps[2].forward, Phase::Succeeded);

    // Compensate now, after a preview of what it would undo.
    let second = orchestrator.run("checkout", json!({}), WAIT).await.unwrap();
    let plan = orchestrator.compensation_plan(&second.id).await.unwrap();
    assert_eq!(plan.len(), 1);
    assert_eq!((plan[0].order, plan[0].step.as_str()), (1, "reserve"));
    assert_eq!(plan[0].payload.as_ref().unwrap()["step"], "reserve");
    assert_eq!(
        orchestrator
            .compensate(&second.id, "ben", "customer cancelled")
            .await
            .unwrap(),
        SagaStatus::Compensating
    );
    assert_eq!(
        orchestrator.wait(&second.id, WAIT).await.unwrap().status,
        SagaStatus::Compensated
    );

    let undone: Vec<String> = participants
        .trail()
        .into_iter()
        .filter(|t| t.ends_with(":compensate"))
        .collect();
    assert_eq!(
        undone,
        ["reserve:compensate"],
        "only the completed step was undone"
    );

    // Resolve: closed by hand with a comment.
    let third = orchestrator.run("checkout", json!({}), WAIT).await.unwrap();
    assert_eq!(
        orchestrator
            .resolve(&third.id, "cy", "refunded manually, ticket 42")
            .await
            .unwrap(),
        SagaStatus::Resolved
    );
    let details = orchestrator.get(&third.id).await.unwrap();
    assert_eq!(details.instance.status, SagaStatus::Resolved);
    let resolved = details.entries.last().unwrap();
    assert_eq!(
        (resolved.kind, resolved.actor.as_deref()),
        (EntryKind::Resolved, Some("cy"))
    );
    assert_eq!(resolved.data["comment"], "refunded manually, ticket 42");
    let late = orchestrator.resolve(&third.id, "cy", "again").await;
    assert!(
        matches!(late, Err(OrchestratorError::NotAllowed { .. })),
        "{late:?}"
    );
}

async fn compensate_now_stops_a_running_saga(db: TestDatabase) {
    let participants = Participants::new();
    participants.set(
        "charge",
        StepPhase::Forward,
        Behaviour {
            delay: Some(Duration::from_millis(300)),
            ..Behaviour::default()
        },
    );
    let orchestrator = orchestrator(&db, 16).await;
    orchestrator
        .register(checkout(&participants).build().unwrap())
        .unwrap();
    let id = orchestrator.start("checkout", json!({})).await.unwrap();
    // Wait until the charge is under way, then ask to compensate.
    for _ in 0..200 {
        if orchestrator.get(&id).await.unwrap().steps[1].forward == Phase::InFlight {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        orchestrator
            .compensate(&id, "dan", "fraud suspected")
            .await
            .unwrap(),
        SagaStatus::Compensating
    );
    let done = orchestrator.wait(&id, WAIT).await.unwrap();
    assert_eq!(done.status, SagaStatus::Compensated);
    // The charge in flight finished (its outcome is known) and was undone; ship never ran.
    assert_eq!(
        participants.trail(),
        [
            "reserve:forward",
            "charge:forward",
            "charge:compensate",
            "reserve:compensate"
        ]
    );
    let details = orchestrator.get(&id).await.unwrap();
    let request = details
        .entries
        .iter()
        .find(|e| e.kind == EntryKind::CompensateRequested)
        .unwrap();
    assert_eq!(request.reason.as_deref(), Some("fraud suspected"));
}

async fn step_timeout_and_saga_deadline_compensate(db: TestDatabase) {
    let participants = Participants::new();
    participants.set(
        "ship",
        StepPhase::Forward,
        Behaviour {
            delay: Some(Duration::from_secs(10)),
            ..Behaviour::default()
        },
    );
    let orchestrator = orchestrator(&db, 16).await;
    let definition = SagaDefinition::builder("slow-ship")
        .step(participants.step("reserve"))
        .step(participants.step("ship").timeout(Duration::from_millis(50)))
        .build()
        .unwrap();
    orchestrator.register(definition).unwrap();
    let done = orchestrator
        .run("slow-ship", json!({}), WAIT)
        .await
        .unwrap();
    assert_eq!(done.status, SagaStatus::Compensated);
    assert!(
        done.error.as_deref().unwrap().contains("timed out"),
        "{:?}",
        done.error
    );
    let details = orchestrator.get(&done.id).await.unwrap();
    assert_eq!(details.steps[1].forward_attempts, 3, "a timeout is retried");

    let deadline = SagaDefinition::builder("deadline")
        .step(participants.step("reserve"))
        .step(participants.step("ship").timeout(Duration::from_secs(20)))
        .step(participants.step("notify"))
        .deadline(Duration::from_millis(300))
        .build()
        .unwrap();
    orchestrator.register(deadline).unwrap();
    let done = orchestrator.run("deadline", json!({}), WAIT).await.unwrap();
    assert_eq!(done.status, SagaStatus::Compensated);
    assert_eq!(done.failed_step.as_deref(), Some("ship"));
    assert!(!participants.trail().contains(&"notify:forward".to_owned()));
}

/// An action that takes `delay`, and the most calls of it that ever ran at once.
fn overlapping(delay: Duration) -> (Arc<dyn StepAction>, Arc<AtomicUsize>) {
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let action = {
        let most = most.clone();
        action_fn(move |_| {
            let (running, most) = (running.clone(), most.clone());
            async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                running.fetch_sub(1, Ordering::SeqCst);
                Ok(json!({}))
            }
        })
    };
    (action, most)
}

async fn parallel_compensation_runs_together(db: TestDatabase) {
    let (undo, most) = overlapping(Duration::from_millis(100));
    let ok = action_fn(|_| async { Ok(json!({})) });
    let fail = action_fn(|_| async { Err(StepError::permanent("no")) });
    let mut builder =
        SagaDefinition::builder("fan-out").compensation_order(CompensationOrder::Parallel);
    for name in ["a", "b", "c"] {
        builder = builder.step(StepDefinition::new(name, ok.clone()).compensate_with(undo.clone()));
    }
    let definition = builder
        .step(StepDefinition::new("last", fail))
        .build()
        .unwrap();
    let orchestrator = orchestrator(&db, 16).await;
    orchestrator.register(definition).unwrap();
    let done = orchestrator.run("fan-out", json!({}), WAIT).await.unwrap();
    assert_eq!(done.status, SagaStatus::Compensated);
    assert_eq!(
        most.load(Ordering::SeqCst),
        3,
        "the three compensations overlapped"
    );
    let plan_order: Vec<usize> = orchestrator
        .get(&done.id)
        .await
        .unwrap()
        .steps
        .iter()
        .map(|s| s.compensation_attempts as usize)
        .collect();
    assert_eq!(plan_order, [1, 1, 1, 0]);
}

async fn concurrency_is_bounded(db: TestDatabase) {
    let (work, most) = overlapping(Duration::from_millis(20));
    let orchestrator = orchestrator(&db, 2).await;
    orchestrator
        .register(
            SagaDefinition::builder("bounded")
                .step(StepDefinition::new("work", work))
                .build()
                .unwrap(),
        )
        .unwrap();
    let mut ids = Vec::new();
    for n in 0..10 {
        ids.push(
            orchestrator
                .start("bounded", json!({ "n": n }))
                .await
                .unwrap(),
        );
    }
    for id in ids {
        assert_eq!(
            orchestrator.wait(&id, WAIT).await.unwrap().status,
            SagaStatus::Completed
        );
    }
    assert_eq!(most.load(Ordering::SeqCst), 2);
}

async fn starting_one_id_twice_runs_it_once(db: TestDatabase) {
    let participants = Participants::new();
    let orchestrator = orchestrator(&db, 16).await;
    orchestrator
        .register(checkout(&participants).build().unwrap())
        .unwrap();
    let input = json!({ "order": 1 });
    let (first, second) = tokio::join!(
        orchestrator.start_with_id("checkout", "order-1", input.clone()),
        orchestrator.start_with_id("checkout", "order-1", input.clone()),
    );
    first.unwrap();
    second.unwrap();
    let done = orchestrator.wait("order-1", WAIT).await.unwrap();
    assert_eq!(done.status, SagaStatus::Completed);
    orchestrator
        .start_with_id("checkout", "order-1", input)
        .await
        .unwrap();
    assert_eq!(
        participants.trail(),
        ["reserve:forward", "charge:forward", "ship:forward"]
    );
}
