//! The flow of one saga instance: its steps in order, forward and
//! compensating, with the status and timing of every attempt.

use serde::{Deserialize, Serialize};
use switchyard_store::Reader;
use switchyard_store::derived::{SagaSpanKind, SagaSpanRow};

use super::SagaInstance;
use crate::model::{ModelError, Result};

/// OTLP status codes.
const STATUS_OK: i32 = 1;
const STATUS_ERROR: i32 = 2;

/// One instance, step by step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SagaFlow {
    pub instance: SagaInstance,
    /// Steps by index (participants, which have none, by first start).
    pub steps: Vec<FlowStep>,
    /// Every attempt, forward and compensating, in start order: compensations
    /// show up after the failure, in the order they ran.
    pub timeline: Vec<Attempt>,
    /// Runs of the instance (a resumed saga has one root span per run).
    pub runs: Vec<Attempt>,
}

/// One step (or choreography participant) and its attempts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowStep {
    pub name: String,
    pub index: Option<i64>,
    pub service: String,
    pub status: StepStatus,
    pub compensation: CompensationStatus,
    pub forward: Vec<Attempt>,
    pub compensate: Vec<Attempt>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Its last forward attempt succeeded.
    Passed,
    /// Its last forward attempt failed.
    Failed,
    /// No forward attempt seen.
    NotRun,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompensationStatus {
    None,
    Compensated,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptStatus {
    Ok,
    Error,
    /// Status not set: counts as success, as in OTLP.
    Unset,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Forward,
    Compensate,
    /// A root span: one run of the whole instance.
    Run,
}

/// One span of the instance: a step attempt, a participant's span or a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub step: String,
    pub phase: Phase,
    pub attempt: Option<i64>,
    pub status: AttemptStatus,
    pub error: Option<String>,
    pub service: String,
    pub start_unix_nano: i64,
    pub duration_ns: i64,
    /// Link to the trace: 32 and 16 hex digits.
    pub trace_id: String,
    pub span_id: String,
}

impl From<&SagaSpanRow> for Attempt {
    fn from(s: &SagaSpanRow) -> Self {
        Attempt {
            step: s.name.clone(),
            phase: match (s.kind, s.phase) {
                (SagaSpanKind::Root, _) => Phase::Run,
                (_, Some(1)) => Phase::Compensate,
                _ => Phase::Forward,
            },
            attempt: s.attempt,
            status: match s.status_code {
                STATUS_ERROR => AttemptStatus::Error,
                STATUS_OK => AttemptStatus::Ok,
                _ => AttemptStatus::Unset,
            },
            error: s.status_message.clone(),
            service: s.service_name.clone(),
            start_unix_nano: s.start_time,
            duration_ns: (s.end_time - s.start_time).max(0),
            trace_id: const_hex::encode(&s.trace_id),
            span_id: const_hex::encode(&s.span_id),
        }
    }
}

/// The last attempt: highest attempt number, then latest start.
fn last(attempts: &[Attempt]) -> Option<&Attempt> {
    attempts
        .iter()
        .max_by_key(|a| (a.attempt.unwrap_or(0), a.start_unix_nano))
}

/// The flow of instance `saga_id`.
pub async fn flow(reader: &Reader, saga_id: &str) -> Result<SagaFlow> {
    let instance = reader
        .saga_instance(saga_id)
        .await?
        .ok_or_else(|| ModelError::NotFound(format!("no saga {saga_id:?} is stored")))?;
    let spans = reader.saga_spans(saga_id).await?;
    Ok(assemble(SagaInstance::from(instance), &spans))
}

/// Groups an instance's spans (in start order) into steps.
fn assemble(instance: SagaInstance, spans: &[SagaSpanRow]) -> SagaFlow {
    let mut steps: Vec<FlowStep> = Vec::new();
    let mut runs = Vec::new();
    let mut timeline = Vec::new();
    for span in spans {
        let attempt = Attempt::from(span);
        if span.kind == SagaSpanKind::Root {
            runs.push(attempt);
            continue;
        }
        timeline.push(attempt.clone());
        let at = match steps.iter().position(|s| s.name == span.name) {
            Some(at) => at,
            None => {
                steps.push(FlowStep {
                    name: span.name.clone(),
                    index: span.step_index,
                    service: span.service_name.clone(),
                    status: StepStatus::NotRun,
                    compensation: CompensationStatus::None,
                    forward: Vec::new(),
                    compensate: Vec::new(),
                });
                steps.len() - 1
            }
        };
        let step = &mut steps[at];
        step.index = step.index.or(span.step_index);
        match attempt.phase {
            Phase::Compensate => step.compensate.push(attempt),
            _ => step.forward.push(attempt),
        }
    }
    for step in &mut steps {
        step.status = match last(&step.forward).map(|a| a.status) {
            None => StepStatus::NotRun,
            Some(AttemptStatus::Error) => StepStatus::Failed,
            Some(_) => StepStatus::Passed,
        };
        step.compensation = match last(&step.compensate).map(|a| a.status) {
            None => CompensationStatus::None,
            Some(AttemptStatus::Error) => CompensationStatus::Failed,
            Some(_) => CompensationStatus::Compensated,
        };
    }
    // Spans came in start order, so unindexed steps keep that order.
    steps.sort_by_key(|s| s.index.unwrap_or(i64::MAX));
    SagaFlow {
        instance,
        steps,
        timeline,
        runs,
    }
}
