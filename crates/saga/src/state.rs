//! An instance's state, folded from its log entries, and what to do next from it. Pure
//! functions of the log and the definition, so a restarted orchestrator decides exactly
//! what the crashed one would have.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::definition::{SagaDefinition, StepDefinition};
use crate::log::{EntryKind, LogEntry, SagaStatus};

/// One direction of one step.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Phase {
    #[default]
    Pending,
    /// Attempted and not answered in the log: after a crash, attempted again (with the
    /// same idempotency key).
    InFlight,
    Succeeded,
    /// Failed for good, with the error.
    Failed(String),
    /// An operator skipped it.
    Skipped,
}

impl Phase {
    pub fn is_done(&self) -> bool {
        matches!(self, Phase::Succeeded | Phase::Skipped)
    }
}

/// One step's progress in both directions.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StepProgress {
    pub forward: Phase,
    pub compensation: Phase,
    /// Attempts made in the current try (an operator's retry starts a new try).
    pub forward_attempts: u32,
    pub compensation_attempts: u32,
    pub output: Option<Value>,
    /// Input an operator gave for a retry.
    pub step_input: Option<Value>,
    pub last_error: Option<String>,
}

/// The state of one instance after its log entries so far.
#[derive(Debug, Clone, PartialEq)]
pub struct SagaState {
    pub status: SagaStatus,
    pub steps: BTreeMap<String, StepProgress>,
    pub failed_step: Option<String>,
    pub error: Option<String>,
    /// The sequence number of the next entry.
    pub next_seq: i64,
}

impl SagaState {
    pub fn new() -> Self {
        SagaState {
            status: SagaStatus::Running,
            steps: BTreeMap::new(),
            failed_step: None,
            error: None,
            next_seq: 1,
        }
    }

    pub fn from_entries(entries: &[LogEntry]) -> Self {
        let mut state = SagaState::new();
        for entry in entries {
            state.apply(entry);
        }
        state
    }

    pub fn step(&self, name: &str) -> StepProgress {
        self.steps.get(name).cloned().unwrap_or_default()
    }

    pub fn apply(&mut self, entry: &LogEntry) {
        self.next_seq = self.next_seq.max(entry.seq + 1);
        let error = entry.error().map(str::to_owned);
        let step = entry
            .step
            .as_ref()
            .map(|name| self.steps.entry(name.clone()).or_default());
        match (entry.kind, step) {
            (EntryKind::Started, _) => self.status = SagaStatus::Running,
            (EntryKind::StepAttempted, Some(step)) => {
                step.forward = Phase::InFlight;
                step.forward_attempts = entry.attempt.unwrap_or(step.forward_attempts + 1);
            }
            (EntryKind::StepAttemptFailed, Some(step)) => {
                step.forward = Phase::Pending;
                step.last_error = error;
            }
            (EntryKind::StepSucceeded, Some(step)) => {
                step.forward = Phase::Succeeded;
                step.output = Some(entry.data.clone());
            }
            (EntryKind::StepFailed, Some(step)) => {
                let error = error.unwrap_or_default();
                step.forward = Phase::Failed(error.clone());
                self.failed_step = entry.step.clone();
                self.error = Some(error);
            }
            (EntryKind::StepSkipped, Some(step)) => step.forward = Phase::Skipped,
            (EntryKind::Compensating | EntryKind::CompensateRequested, _) => {
                self.status = SagaStatus::Compensating;
            }
            (EntryKind::CompensationAttempted, Some(step)) => {
                step.compensation = Phase::InFlight;
                step.compensation_attempts =
                    entry.attempt.unwrap_or(step.compensation_attempts + 1);
            }
            (EntryKind::CompensationAttemptFailed, Some(step)) => {
                step.compensation = Phase::Pending;
                step.last_error = error;
            }
            (EntryKind::CompensationSucceeded, Some(step)) => {
                step.compensation = Phase::Succeeded;
            }
            (EntryKind::CompensationFailed, Some(step)) => {
                let error = error.unwrap_or_default();
                step.compensation = Phase::Failed(error.clone());
                self.error = Some(error);
            }
            (EntryKind::CompensationSkipped, Some(step)) => step.compensation = Phase::Skipped,
            (EntryKind::Completed, _) => self.status = SagaStatus::Completed,
            (EntryKind::Compensated, _) => self.status = SagaStatus::Compensated,
            (EntryKind::Failed, _) => {
                self.status = SagaStatus::Failed;
                if let Some(error) = error {
                    self.error = Some(error);
                }
            }
            (EntryKind::Resolved, _) => self.status = SagaStatus::Resolved,
            (EntryKind::RetryRequested, step) => {
                let compensating =
                    entry.data.get("phase").and_then(Value::as_str) == Some("compensate");
                if compensating {
                    for progress in self.steps.values_mut() {
                        if matches!(progress.compensation, Phase::Failed(_)) {
                            progress.compensation = Phase::Pending;
                            progress.compensation_attempts = 0;
                        }
                    }
                    self.status = SagaStatus::Compensating;
                } else {
                    if let Some(step) = step {
                        step.forward = Phase::Pending;
                        step.forward_attempts = 0;
                        if let Some(input) = entry.data.get("step_input").filter(|v| !v.is_null()) {
                            step.step_input = Some(input.clone());
                        }
                    }
                    self.status = SagaStatus::Running;
                    self.failed_step = None;
                }
                self.error = None;
            }
            // Recovered, and step kinds without a step (a corrupt entry), change nothing.
            _ => {}
        }
    }
}

impl Default for SagaState {
    fn default() -> Self {
        SagaState::new()
    }
}

/// What the orchestrator does next for a running or compensating instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Attempt the step (forward) at this index.
    Forward(usize),
    /// Every step is done.
    Complete,
    /// A step failed for good while running (policy decides: compensate or hold).
    ForwardFailed(usize),
    /// Compensate these step indexes (one for reverse order, several for parallel).
    Compensate(Vec<usize>),
    /// Every completed step is undone.
    Compensated,
    /// A compensation failed past its budget: stop for an operator.
    Stuck { step: String, error: String },
    /// Nothing to do (a finished or failed instance).
    Idle,
}

pub fn next(definition: &SagaDefinition, state: &SagaState) -> Next {
    match state.status {
        SagaStatus::Running => {
            for (index, step) in definition.steps.iter().enumerate() {
                match state.step(&step.name).forward {
                    Phase::Succeeded | Phase::Skipped => continue,
                    Phase::Failed(_) => return Next::ForwardFailed(index),
                    Phase::Pending | Phase::InFlight => return Next::Forward(index),
                }
            }
            Next::Complete
        }
        SagaStatus::Compensating => {
            let plan = compensation_plan(definition, state);
            let failed = definition.steps.iter().rev().find_map(|step| {
                match state.step(&step.name).compensation {
                    Phase::Failed(error) => Some((step.name.clone(), error)),
                    _ => None,
                }
            });
            match (failed, plan.is_empty()) {
                (Some((step, error)), true) => Next::Stuck { step, error },
                (Some((step, error)), false) if !definition.continue_past_failed_compensation => {
                    Next::Stuck { step, error }
                }
                (_, true) => Next::Compensated,
                (_, false) => match definition.compensation_order {
                    crate::CompensationOrder::Reverse => Next::Compensate(vec![plan[0]]),
                    crate::CompensationOrder::Parallel => Next::Compensate(plan),
                },
            }
        }
        _ => Next::Idle,
    }
}

/// Indexes of the steps still to compensate, in the order they would be: completed
/// steps (not skipped) that have a compensation not yet done or failed, last first.
pub fn compensation_plan(definition: &SagaDefinition, state: &SagaState) -> Vec<usize> {
    definition
        .steps
        .iter()
        .enumerate()
        .rev()
        .filter(|(_, step)| needs_compensation(step, &state.step(&step.name)))
        .map(|(index, _)| index)
        .collect()
}

fn needs_compensation(step: &StepDefinition, progress: &StepProgress) -> bool {
    step.compensation.is_some()
        && progress.forward == Phase::Succeeded
        && matches!(progress.compensation, Phase::Pending | Phase::InFlight)
}
