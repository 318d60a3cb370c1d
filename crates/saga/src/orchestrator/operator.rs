//! Operator commands: list and inspect instances, retry, skip, compensate, resolve, and
//! preview a compensation. Each command is logged with who asked and why.

use serde_json::{Value, json};

use super::{Orchestrator, OrchestratorError};
use crate::log::{EntryKind, InstanceFilter, InstanceWrite, LogEntry, SagaInstance, SagaStatus};
use crate::state::{Phase, SagaState, compensation_plan};
use crate::telemetry::SagaSpan;

/// One step of an instance as an operator sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct StepView {
    pub name: String,
    pub index: usize,
    pub forward: Phase,
    pub compensation: Phase,
    pub forward_attempts: u32,
    pub compensation_attempts: u32,
    pub output: Option<Value>,
    pub last_error: Option<String>,
    pub has_compensation: bool,
}

/// An instance with its steps and its whole log.
#[derive(Debug, Clone, PartialEq)]
pub struct SagaDetails {
    pub instance: SagaInstance,
    pub steps: Vec<StepView>,
    pub entries: Vec<crate::log::LogEntry>,
}

/// One compensation that "compensate now" would run.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedCompensation {
    /// 1 for the first to run; equal orders run together (parallel compensation).
    pub order: usize,
    pub step: String,
    pub index: usize,
    /// The step's forward output, which the compensation receives.
    pub payload: Option<Value>,
}

impl Orchestrator {
    /// Instances matching `filter`, newest first.
    pub async fn list(
        &self,
        filter: &InstanceFilter,
    ) -> Result<Vec<SagaInstance>, OrchestratorError> {
        Ok(self.inner.log.instances(filter).await?)
    }

    pub async fn get(&self, id: &str) -> Result<SagaDetails, OrchestratorError> {
        let instance = self.instance(id).await?;
        let entries = self.inner.log.entries(id).await?;
        let state = SagaState::from_entries(&entries);
        let definition = self.definition(&instance.name).ok();
        let names: Vec<(String, bool)> = match &definition {
            Some(definition) => definition
                .steps
                .iter()
                .map(|step| (step.name.clone(), step.compensation.is_some()))
                .collect(),
            // A definition no longer registered: show the steps the log knows.
            None => state
                .steps
                .keys()
                .map(|name| (name.clone(), false))
                .collect(),
        };
        let steps = names
            .into_iter()
            .enumerate()
            .map(|(index, (name, has_compensation))| {
                let progress = state.step(&name);
                StepView {
                    name,
                    index,
                    forward: progress.forward,
                    compensation: progress.compensation,
                    forward_attempts: progress.forward_attempts,
                    compensation_attempts: progress.compensation_attempts,
                    output: progress.output,
                    last_error: progress.last_error,
                    has_compensation,
                }
            })
            .collect();
        Ok(SagaDetails {
            instance,
            steps,
            entries,
        })
    }

    /// Which completed steps "compensate now" would undo, in which order, with which
    /// payloads — without changing anything.
    pub async fn compensation_plan(
        &self,
        id: &str,
    ) -> Result<Vec<PlannedCompensation>, OrchestratorError> {
        let instance = self.instance(id).await?;
        let definition = self.definition(&instance.name)?;
        let state = SagaState::from_entries(&self.inner.log.entries(id).await?);
        let parallel = definition.compensation_order == crate::CompensationOrder::Parallel;
        Ok(compensation_plan(&definition, &state)
            .into_iter()
            .enumerate()
            .map(|(position, index)| {
                let step = &definition.steps[index];
                PlannedCompensation {
                    order: if parallel { 1 } else { position + 1 },
                    step: step.name.clone(),
                    index,
                    payload: state.step(&step.name).output,
                }
            })
            .collect())
    }

    /// Retries a failed saga from where it stopped: the failed step (with `step_input`
    /// replacing its input, if given) or the failed compensations.
    pub async fn retry(
        &self,
        id: &str,
        actor: &str,
        reason: &str,
        step_input: Option<Value>,
    ) -> Result<SagaStatus, OrchestratorError> {
        self.command(id, "retry", |state| {
            let forward_failed = state
                .steps
                .iter()
                .find(|(_, step)| matches!(step.forward, Phase::Failed(_)))
                .map(|(name, _)| name.clone());
            let compensation_failed = state
                .steps
                .values()
                .any(|step| matches!(step.compensation, Phase::Failed(_)));
            if compensation_failed {
                Ok((
                    vec![
                        LogEntry::new(EntryKind::RetryRequested)
                            .data(json!({ "phase": "compensate" }))
                            .by(actor, reason),
                    ],
                    SagaStatus::Compensating,
                ))
            } else if let Some(step) = forward_failed {
                Ok((
                    vec![
                        LogEntry::new(EntryKind::RetryRequested)
                            .step(&step)
                            .data(json!({ "phase": "forward", "step_input": step_input }))
                            .by(actor, reason),
                    ],
                    SagaStatus::Running,
                ))
            } else {
                Err("it has no failed step or compensation to retry".into())
            }
        })
        .await
    }

    /// Marks the failed step (or failed compensations) as skipped by an operator and goes
    /// on as if it had succeeded.
    pub async fn skip(
        &self,
        id: &str,
        actor: &str,
        reason: &str,
    ) -> Result<SagaStatus, OrchestratorError> {
        self.command(id, "skip", |state| {
            let failed_compensations: Vec<String> = state
                .steps
                .iter()
                .filter(|(_, step)| matches!(step.compensation, Phase::Failed(_)))
                .map(|(name, _)| name.clone())
                .collect();
            if !failed_compensations.is_empty() {
                let mut entries: Vec<LogEntry> = failed_compensations
                    .iter()
                    .map(|step| {
                        LogEntry::new(EntryKind::CompensationSkipped)
                            .step(step)
                            .by(actor, reason)
                    })
                    .collect();
                entries.push(LogEntry::new(EntryKind::Compensating).by(actor, reason));
                return Ok((entries, SagaStatus::Compensating));
            }
            let failed_step = state
                .steps
                .iter()
                .find(|(_, step)| matches!(step.forward, Phase::Failed(_)))
                .map(|(name, _)| name.clone());
            match failed_step {
                Some(step) => Ok((
                    vec![
                        LogEntry::new(EntryKind::StepSkipped)
                            .step(&step)
                            .by(actor, reason),
                        // Back to running: the next step follows the skipped one.
                        LogEntry::new(EntryKind::RetryRequested)
                            .data(json!({ "phase": "forward" }))
                            .by(actor, reason),
                    ],
                    SagaStatus::Running,
                )),
                None => Err("it has no failed step or compensation to skip".into()),
            }
        })
        .await
    }

    /// Compensates the completed steps now: a running saga stops after its current
    /// attempt; a failed one starts compensating.
    pub async fn compensate(
        &self,
        id: &str,
        actor: &str,
        reason: &str,
    ) -> Result<SagaStatus, OrchestratorError> {
        {
            let live = self.inner.live.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(live) = live.get(id)
                && *live.status.borrow() == SagaStatus::Running
            {
                live.abort
                    .send_replace(Some((actor.to_owned(), reason.to_owned())));
                return Ok(SagaStatus::Compensating);
            }
        }
        self.command(id, "compensate", |state| match state.status {
            SagaStatus::Failed => Ok((
                vec![LogEntry::new(EntryKind::CompensateRequested).by(actor, reason)],
                SagaStatus::Compensating,
            )),
            _ => Err("only a running or failed saga can be compensated".into()),
        })
        .await
    }

    /// Closes a failed saga by hand, with a comment saying what was done.
    pub async fn resolve(
        &self,
        id: &str,
        actor: &str,
        comment: &str,
    ) -> Result<SagaStatus, OrchestratorError> {
        self.command(id, "resolve", |state| match state.status {
            SagaStatus::Failed => Ok((
                vec![
                    LogEntry::new(EntryKind::Resolved)
                        .data(json!({ "comment": comment }))
                        .by(actor, comment),
                ],
                SagaStatus::Resolved,
            )),
            _ => Err("only a failed saga can be resolved".into()),
        })
        .await
    }

    /// A command on an instance that is not executing here: checks it is `failed`, logs
    /// the entries `decide` gives, and resumes the saga if it becomes active.
    async fn command(
        &self,
        id: &str,
        command: &'static str,
        decide: impl FnOnce(&SagaState) -> Result<(Vec<LogEntry>, SagaStatus), String>,
    ) -> Result<SagaStatus, OrchestratorError> {
        let instance = self.instance(id).await?;
        let not_allowed = |hint: String| OrchestratorError::NotAllowed {
            id: id.to_owned(),
            command,
            status: instance.status,
            hint,
        };
        if self.is_live(id) || instance.status != SagaStatus::Failed {
            return Err(not_allowed(match instance.status {
                SagaStatus::Failed => " and executing".into(),
                _ => String::new(),
            }));
        }
        let definition = self.definition(&instance.name)?;
        let entries = self.inner.log.entries(id).await?;
        let mut state = SagaState::from_entries(&entries);
        let (mut new_entries, status) =
            decide(&state).map_err(|hint| not_allowed(format!(": {hint}")))?;
        for (offset, entry) in new_entries.iter_mut().enumerate() {
            entry.seq = state.next_seq + offset as i64;
        }
        for entry in &new_entries {
            state.apply(entry);
        }
        let write = InstanceWrite::Status {
            status,
            failed_step: state.failed_step.clone(),
            error: state.error.clone(),
        };
        self.inner.log.write(id, new_entries, write).await?;
        let _ = self.inner.events.send(super::SagaEvent {
            id: id.to_owned(),
            name: instance.name.clone(),
            status,
            failed_step: state.failed_step.clone(),
        });
        if status.is_active() {
            let root = SagaSpan::resume(&instance.name, id, &instance.trace_context);
            let mut instance = instance;
            instance.status = status;
            self.spawn(definition, instance, state, root);
        }
        Ok(status)
    }
}
