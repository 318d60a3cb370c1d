//! One instance's run: decide from the state (folded from the log), log the transition,
//! make the effect, log its result, repeat. Every effect is preceded by a committed entry,
//! so a restart knows what may have happened and repeats it under the same idempotency key.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use switchyard_conventions::saga::StepPhase;
use tokio::sync::{broadcast, watch};

use super::SagaEvent;
use crate::definition::{OnStepFailure, SagaDefinition, StepDefinition};
use crate::log::{EntryKind, InstanceWrite, LogEntry, LogError, SagaInstance, SagaLog, SagaStatus};
use crate::state::{Next, Phase, SagaState, next};
use crate::step::{StepContext, StepError};
use crate::telemetry::{SagaSpan, StepSpan, StepSpanInfo};

pub(super) struct Executor {
    pub(super) log: SagaLog,
    pub(super) events: broadcast::Sender<SagaEvent>,
    pub(super) definition: Arc<SagaDefinition>,
    pub(super) instance: SagaInstance,
    pub(super) state: SagaState,
    pub(super) root: SagaSpan,
    pub(super) abort: watch::Receiver<Option<(String, String)>>,
    pub(super) status: watch::Sender<SagaStatus>,
}

impl Executor {
    pub(super) async fn run(mut self) {
        if let Err(error) = self.drive().await {
            // The log refused a write (database down, or another orchestrator took the
            // saga over): stop here; the log still says where it was, and a restart or
            // the other orchestrator carries on.
            tracing::error!(saga = %self.instance.id, %error, "saga execution stopped");
        }
        let error = self.state.error.clone();
        let status = self.state.status;
        self.root.end(status, error.as_deref());
    }

    async fn drive(&mut self) -> Result<(), LogError> {
        loop {
            let abort = self.abort.borrow_and_update().clone();
            if self.state.status == SagaStatus::Running
                && let Some((actor, reason)) = abort
            {
                let entry = LogEntry::new(EntryKind::CompensateRequested).by(&actor, &reason);
                self.record(vec![entry], Some(SagaStatus::Compensating))
                    .await?;
                continue;
            }
            match next(&self.definition, &self.state) {
                Next::Forward(index) => {
                    if self.deadline_passed() {
                        let step = self.definition.steps[index].name.clone();
                        let entry = LogEntry::new(EntryKind::StepFailed).step(&step).data(
                            json!({ "error": "the saga's deadline passed", "deadline": true }),
                        );
                        self.record(vec![entry], None).await?;
                        self.record(
                            vec![LogEntry::new(EntryKind::Compensating)],
                            Some(SagaStatus::Compensating),
                        )
                        .await?;
                        continue;
                    }
                    self.forward(index).await?;
                }
                Next::ForwardFailed(_) => {
                    let status = match self.definition.on_step_failure {
                        OnStepFailure::Compensate => SagaStatus::Compensating,
                        OnStepFailure::Hold => SagaStatus::Failed,
                    };
                    let entry = match status {
                        SagaStatus::Compensating => LogEntry::new(EntryKind::Compensating),
                        _ => LogEntry::new(EntryKind::Failed)
                            .data(json!({ "error": self.state.error })),
                    };
                    self.record(vec![entry], Some(status)).await?;
                }
                Next::Complete => {
                    self.record(
                        vec![LogEntry::new(EntryKind::Completed)],
                        Some(SagaStatus::Completed),
                    )
                    .await?;
                }
                Next::Compensate(indexes) => {
                    if indexes.len() == 1 {
                        self.compensate(indexes[0]).await?;
                    } else {
                        // Parallel: the attempts run together; their entries are logged in
                        // the order they finish, one writer at a time (this task).
                        self.compensate_parallel(indexes).await?;
                    }
                }
                Next::Compensated => {
                    self.record(
                        vec![LogEntry::new(EntryKind::Compensated)],
                        Some(SagaStatus::Compensated),
                    )
                    .await?;
                }
                Next::Stuck { step, error } => {
                    let entry = LogEntry::new(EntryKind::Failed).step(&step).data(json!({
                        "error": format!("compensation of {step} failed: {error}"),
                    }));
                    self.record(vec![entry], Some(SagaStatus::Failed)).await?;
                }
                Next::Idle => return Ok(()),
            }
        }
    }

    fn deadline_passed(&self) -> bool {
        self.instance
            .deadline_at
            .is_some_and(|deadline| SystemTime::now() >= deadline)
    }

    /// How long an attempt may take: the step's timeout, cut short by the saga's deadline.
    fn attempt_timeout(&self, step: &StepDefinition) -> Duration {
        let until_deadline = self.instance.deadline_at.map(|deadline| {
            deadline
                .duration_since(SystemTime::now())
                .unwrap_or_default()
        });
        match until_deadline {
            Some(left) => step.timeout.min(left),
            None => step.timeout,
        }
    }

    async fn forward(&mut self, index: usize) -> Result<(), LogError> {
        let step = self.definition.steps[index].clone();
        loop {
            let progress = self.state.step(&step.name);
            // An attempt interrupted by a crash is repeated under its own number: it may
            // or may not have taken effect, and its idempotency key is the same.
            let attempt = match progress.forward {
                Phase::InFlight => progress.forward_attempts.max(1),
                _ => progress.forward_attempts + 1,
            };
            if progress.forward != Phase::InFlight {
                let entry = LogEntry::new(EntryKind::StepAttempted)
                    .step(&step.name)
                    .attempt(attempt);
                self.record(vec![entry], None).await?;
            }
            let outcome = self
                .attempt(index, &step, StepPhase::Forward, attempt)
                .await;
            match outcome {
                Ok(output) => {
                    let entry = LogEntry::new(EntryKind::StepSucceeded)
                        .step(&step.name)
                        .attempt(attempt)
                        .data(output);
                    return self.record(vec![entry], None).await;
                }
                Err(error) => {
                    let failed = LogEntry::new(EntryKind::StepAttemptFailed)
                        .step(&step.name)
                        .attempt(attempt)
                        .data(
                            json!({ "error": error.reason(), "retryable": error.is_retryable() }),
                        );
                    self.record(vec![failed], None).await?;
                    let give_up = !error.is_retryable()
                        || attempt >= step.retry.max_attempts
                        || self.deadline_passed()
                        || self.abort.borrow().is_some();
                    if give_up {
                        let entry = LogEntry::new(EntryKind::StepFailed).step(&step.name).attempt(attempt).data(json!({
                            "error": format!("{} failed after {attempt} attempt(s): {}", step.name, error.reason()),
                        }));
                        return self.record(vec![entry], None).await;
                    }
                    self.pause(step.retry.backoff.delay(attempt)).await;
                }
            }
        }
    }

    async fn compensate(&mut self, index: usize) -> Result<(), LogError> {
        let step = self.definition.steps[index].clone();
        loop {
            let progress = self.state.step(&step.name);
            let attempt = match progress.compensation {
                Phase::InFlight => progress.compensation_attempts.max(1),
                _ => progress.compensation_attempts + 1,
            };
            if progress.compensation != Phase::InFlight {
                let entry = LogEntry::new(EntryKind::CompensationAttempted)
                    .step(&step.name)
                    .attempt(attempt);
                self.record(vec![entry], None).await?;
            }
            let outcome = self
                .attempt(index, &step, StepPhase::Compensate, attempt)
                .await;
            let done = self.compensation_result(&step, attempt, outcome);
            let finished = done.iter().any(|e| {
                matches!(
                    e.kind,
                    EntryKind::CompensationSucceeded | EntryKind::CompensationFailed
                )
            });
            self.record(done, None).await?;
            if finished {
                return Ok(());
            }
            self.pause(step.compensation_retry.backoff.delay(attempt))
                .await;
        }
    }

    /// Runs the next attempt of each listed compensation at once, then logs the results.
    async fn compensate_parallel(&mut self, indexes: Vec<usize>) -> Result<(), LogError> {
        let mut attempts = Vec::new();
        let mut started = Vec::new();
        for index in &indexes {
            let step = &self.definition.steps[*index];
            let progress = self.state.step(&step.name);
            let attempt = match progress.compensation {
                Phase::InFlight => progress.compensation_attempts.max(1),
                _ => progress.compensation_attempts + 1,
            };
            if progress.compensation != Phase::InFlight {
                started.push(
                    LogEntry::new(EntryKind::CompensationAttempted)
                        .step(&step.name)
                        .attempt(attempt),
                );
            }
            attempts.push((*index, attempt));
        }
        self.record(started, None).await?;
        let runs = attempts.iter().map(|(index, attempt)| {
            let step = self.definition.steps[*index].clone();
            let this = &*self;
            async move {
                let outcome = this
                    .attempt(*index, &step, StepPhase::Compensate, *attempt)
                    .await;
                (step, *attempt, outcome)
            }
        });
        let results = futures::future::join_all(runs).await;
        let mut entries = Vec::new();
        let mut longest_wait = Duration::ZERO;
        for (step, attempt, outcome) in results {
            let done = self.compensation_result(&step, attempt, outcome);
            if !done.iter().any(|e| {
                matches!(
                    e.kind,
                    EntryKind::CompensationSucceeded | EntryKind::CompensationFailed
                )
            }) {
                longest_wait = longest_wait.max(step.compensation_retry.backoff.delay(attempt));
            }
            entries.extend(done);
        }
        self.record(entries, None).await?;
        self.pause(longest_wait).await;
        Ok(())
    }

    /// The entries that record one compensation attempt's outcome.
    fn compensation_result(
        &self,
        step: &StepDefinition,
        attempt: u32,
        outcome: Result<Value, StepError>,
    ) -> Vec<LogEntry> {
        match outcome {
            Ok(output) => vec![
                LogEntry::new(EntryKind::CompensationSucceeded)
                    .step(&step.name)
                    .attempt(attempt)
                    .data(output),
            ],
            Err(error) => {
                let mut entries =
                    vec![LogEntry::new(EntryKind::CompensationAttemptFailed)
                    .step(&step.name)
                    .attempt(attempt)
                    .data(json!({ "error": error.reason(), "retryable": error.is_retryable() }))];
                // A compensation is retried even on a "permanent" error: giving up on an
                // undo leaves data inconsistent, so only the budget ends it.
                if attempt >= step.compensation_retry.max_attempts {
                    entries.push(LogEntry::new(EntryKind::CompensationFailed).step(&step.name).attempt(attempt).data(json!({
                        "error": format!("compensation {} failed after {attempt} attempt(s): {}", step.name, error.reason()),
                    })));
                }
                entries
            }
        }
    }

    /// Runs one attempt of a step's action or compensation, in its span, with its timeout.
    async fn attempt(
        &self,
        index: usize,
        step: &StepDefinition,
        phase: StepPhase,
        attempt: u32,
    ) -> Result<Value, StepError> {
        let action = match phase {
            StepPhase::Forward => step.action.clone(),
            StepPhase::Compensate => match &step.compensation {
                Some(compensation) => compensation.clone(),
                None => return Ok(Value::Null),
            },
        };
        let span = StepSpan::start(
            &self.root,
            StepSpanInfo {
                saga_name: &self.instance.name,
                saga_id: &self.instance.id,
                step: &step.name,
                index,
                phase,
                attempt,
            },
        );
        let cx = StepContext {
            saga_id: self.instance.id.clone(),
            saga_name: self.instance.name.clone(),
            step_name: step.name.clone(),
            step_index: index,
            phase,
            attempt,
            idempotency_key: format!("{}:{}:{}", self.instance.id, step.name, phase.as_str()),
            input: self.instance.input.clone(),
            step_input: self.state.step(&step.name).step_input,
            outputs: self.outputs(index, phase),
            trace_headers: span.headers(),
        };
        let timeout = match phase {
            StepPhase::Forward => self.attempt_timeout(step),
            StepPhase::Compensate => step.timeout,
        };
        let run =
            opentelemetry::trace::FutureExt::with_context(action.run(cx), span.context().clone());
        let outcome = match tokio::time::timeout(timeout, run).await {
            Ok(outcome) => outcome,
            Err(_) => Err(StepError::retryable(format!("timed out after {timeout:?}"))),
        };
        span.end(outcome.as_ref().err().map(StepError::reason));
        outcome
    }

    /// Outputs of the steps before `index` that succeeded (and the step's own, when
    /// compensating it).
    fn outputs(&self, index: usize, phase: StepPhase) -> BTreeMap<String, Value> {
        let last = match phase {
            StepPhase::Forward => index,
            StepPhase::Compensate => index + 1,
        };
        self.definition.steps[..last]
            .iter()
            .filter_map(|step| {
                let progress = self.state.steps.get(&step.name)?;
                Some((step.name.clone(), progress.output.clone()?))
            })
            .collect()
    }

    /// Waits before a retry, unless an operator asks to compensate meanwhile.
    async fn pause(&mut self, delay: Duration) {
        if delay.is_zero() {
            return;
        }
        let mut abort = self.abort.clone();
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = abort.wait_for(|abort| abort.is_some()) => {}
        }
    }

    /// Numbers, commits and applies entries; a new status also updates the summary row.
    async fn record(
        &mut self,
        mut entries: Vec<LogEntry>,
        status: Option<SagaStatus>,
    ) -> Result<(), LogError> {
        if entries.is_empty() {
            return Ok(());
        }
        for (seq, entry) in (self.state.next_seq..).zip(entries.iter_mut()) {
            entry.seq = seq;
        }
        let mut after = self.state.clone();
        for entry in &entries {
            after.apply(entry);
        }
        let instance = match status {
            Some(status) => InstanceWrite::Status {
                status,
                failed_step: after.failed_step.clone(),
                error: after.error.clone(),
            },
            None => InstanceWrite::Unchanged,
        };
        // Not committed, not applied: the state never runs ahead of the log.
        self.log.write(&self.instance.id, entries, instance).await?;
        self.state = after;
        if let Some(status) = status {
            let _ = self.status.send(status);
            let _ = self.events.send(SagaEvent {
                id: self.instance.id.clone(),
                name: self.instance.name.clone(),
                status,
                failed_step: self.state.failed_step.clone(),
            });
        }
        Ok(())
    }
}
