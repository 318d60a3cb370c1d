//! In-process participants for the orchestrator tests: each step records its calls in a
//! shared journal and misbehaves as a test tells it to.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use switchyard_conventions::saga::StepPhase;
use switchyard_eventing::database::DatabaseOptions;
use switchyard_saga::{Orchestrator, OrchestratorOptions, SagaLog};
use switchyard_saga::{StepAction, StepContext, StepDefinition, StepError, action_fn};
use switchyard_testkit::TestDatabase;

/// One call a participant received.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub step: String,
    pub phase: StepPhase,
    pub attempt: u32,
    pub key: String,
    pub input: Value,
    pub step_input: Option<Value>,
    pub outputs: Vec<String>,
    /// The `traceparent` the step was given for its requests.
    pub traceparent: Option<String>,
}

/// How a participant answers, per step and phase.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// Fail this many calls (retryable) before succeeding.
    pub fail_times: u32,
    /// Fail every call, permanently.
    pub refuse: bool,
    /// Fail every call, retryably (the participant is down).
    pub down: bool,
    /// Take this long per call.
    pub delay: Option<Duration>,
}

#[derive(Debug, Default)]
pub struct Participants {
    pub calls: Mutex<Vec<Call>>,
    behaviours: Mutex<HashMap<(String, &'static str), Behaviour>>,
}

impl Participants {
    pub fn new() -> Arc<Self> {
        Arc::new(Participants::default())
    }

    pub fn set(&self, step: &str, phase: StepPhase, behaviour: Behaviour) {
        self.behaviours
            .lock()
            .unwrap()
            .insert((step.to_owned(), phase.as_str()), behaviour);
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// "step:phase" of every call, in order.
    pub fn trail(&self) -> Vec<String> {
        self.calls()
            .iter()
            .map(|c| format!("{}:{}", c.step, c.phase.as_str()))
            .collect()
    }

    fn action(self: &Arc<Self>, step: &str, phase: StepPhase) -> Arc<dyn StepAction> {
        let participants = self.clone();
        let step = step.to_owned();
        action_fn(move |cx: StepContext| {
            let participants = participants.clone();
            let step = step.clone();
            async move {
                let behaviour = participants
                    .behaviours
                    .lock()
                    .unwrap()
                    .get(&(step.clone(), phase.as_str()))
                    .cloned()
                    .unwrap_or_default();
                if let Some(delay) = behaviour.delay {
                    tokio::time::sleep(delay).await;
                }
                let calls_so_far = {
                    let mut calls = participants.calls.lock().unwrap();
                    calls.push(Call {
                        step: step.clone(),
                        phase,
                        attempt: cx.attempt,
                        key: cx.idempotency_key.clone(),
                        input: cx.input.clone(),
                        step_input: cx.step_input.clone(),
                        outputs: cx.outputs.keys().cloned().collect(),
                        traceparent: cx.trace_headers.get("traceparent").cloned(),
                    });
                    calls
                        .iter()
                        .filter(|c| c.step == step && c.phase == phase)
                        .count() as u32
                };
                if behaviour.refuse {
                    return Err(StepError::permanent(format!("{step} refused")));
                }
                if behaviour.down {
                    return Err(StepError::retryable(format!("{step} is down")));
                }
                if calls_so_far <= behaviour.fail_times {
                    return Err(StepError::retryable(format!("{step} flaked")));
                }
                Ok(json!({ "step": step, "phase": phase.as_str(), "attempt": cx.attempt }))
            }
        })
    }

    /// A step whose action and compensation are these participants.
    pub fn step(self: &Arc<Self>, name: &str) -> StepDefinition {
        StepDefinition::new(name, self.action(name, StepPhase::Forward))
            .compensate_with(self.action(name, StepPhase::Compensate))
            .retry(switchyard_saga::RetryPolicy::new(
                3,
                switchyard_resilience::retry::Backoff::new(
                    Duration::from_millis(5),
                    Duration::from_millis(20),
                ),
            ))
            .compensation_retry(switchyard_saga::RetryPolicy::new(
                3,
                switchyard_resilience::retry::Backoff::new(
                    Duration::from_millis(5),
                    Duration::from_millis(20),
                ),
            ))
            .timeout(Duration::from_secs(5))
    }
}

/// An orchestrator on the test's database.
pub async fn orchestrator(db: &TestDatabase, max_concurrent: usize) -> Orchestrator {
    let log = SagaLog::connect_with(&db.url(), &DatabaseOptions::default())
        .await
        .expect("the saga log opens");
    Orchestrator::new(log, OrchestratorOptions { max_concurrent })
}
