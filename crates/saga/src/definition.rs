//! A saga definition: ordered steps, each with an action, an optional compensation, a retry
//! policy and a timeout; and the saga's deadline and compensation rules. Built in Rust
//! with [`SagaDefinition::builder`], or loaded from TOML (`crate::toml_definition`).

use std::sync::Arc;
use std::time::Duration;

use switchyard_resilience::retry::Backoff;

use crate::step::StepAction;

/// How often a step (or compensation) is attempted and how long to wait between attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, at least 1.
    pub max_attempts: u32,
    /// Exponential backoff with full jitter between attempts.
    pub backoff: Backoff,
}

impl RetryPolicy {
    pub fn new(max_attempts: u32, backoff: Backoff) -> Self {
        RetryPolicy {
            max_attempts: max_attempts.max(1),
            backoff,
        }
    }

    /// One attempt, no retry.
    pub fn none() -> Self {
        RetryPolicy::new(1, Backoff::default())
    }
}

impl Default for RetryPolicy {
    /// 3 attempts, 100 ms doubling up to 5 s.
    fn default() -> Self {
        RetryPolicy::new(
            3,
            Backoff::new(Duration::from_millis(100), Duration::from_secs(5)),
        )
    }
}

/// In which order completed steps are compensated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CompensationOrder {
    /// Last completed first, one at a time.
    #[default]
    Reverse,
    /// All at once (when the compensations do not depend on each other).
    Parallel,
}

/// What happens when a forward step has failed past its retry policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnStepFailure {
    /// Compensate the completed steps at once.
    #[default]
    Compensate,
    /// Stop in status `failed` at that step and wait for an operator (retry, skip,
    /// compensate, resolve).
    Hold,
}

#[derive(Debug, Clone)]
pub struct StepDefinition {
    pub name: String,
    pub action: Arc<dyn StepAction>,
    /// `None`: the step has nothing to undo (a read, a notification).
    pub compensation: Option<Arc<dyn StepAction>>,
    pub retry: RetryPolicy,
    /// A compensation that fails past this budget leaves the saga `failed` for an operator.
    pub compensation_retry: RetryPolicy,
    /// Per attempt; an attempt that takes longer counts as a retryable failure.
    pub timeout: Duration,
}

impl StepDefinition {
    pub fn new(name: impl Into<String>, action: Arc<dyn StepAction>) -> Self {
        StepDefinition {
            name: name.into(),
            action,
            compensation: None,
            retry: RetryPolicy::default(),
            compensation_retry: RetryPolicy::new(
                5,
                Backoff::new(Duration::from_millis(200), Duration::from_secs(10)),
            ),
            timeout: Duration::from_secs(30),
        }
    }

    pub fn compensate_with(mut self, compensation: Arc<dyn StepAction>) -> Self {
        self.compensation = Some(compensation);
        self
    }

    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn compensation_retry(mut self, retry: RetryPolicy) -> Self {
        self.compensation_retry = retry;
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

#[derive(Debug, Clone)]
pub struct SagaDefinition {
    pub name: String,
    pub steps: Vec<StepDefinition>,
    /// From start to the end of the forward steps; past it the saga compensates.
    pub deadline: Option<Duration>,
    pub compensation_order: CompensationOrder,
    /// Go on compensating the other steps when one compensation fails past its budget
    /// (the saga still ends `failed`); otherwise stop at the failed compensation.
    pub continue_past_failed_compensation: bool,
    pub on_step_failure: OnStepFailure,
}

/// A definition that cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("saga definition {saga:?}: {reason}")]
pub struct DefinitionError {
    pub saga: String,
    pub reason: String,
}

impl SagaDefinition {
    pub fn builder(name: impl Into<String>) -> SagaBuilder {
        SagaBuilder {
            definition: SagaDefinition {
                name: name.into(),
                steps: Vec::new(),
                deadline: None,
                compensation_order: CompensationOrder::Reverse,
                continue_past_failed_compensation: false,
                on_step_failure: OnStepFailure::Compensate,
            },
        }
    }

    pub fn step(&self, name: &str) -> Option<(usize, &StepDefinition)> {
        self.steps
            .iter()
            .enumerate()
            .find(|(_, step)| step.name == name)
    }

    /// Checks names: non-empty, steps unique, at least one step.
    pub fn validate(&self) -> Result<(), DefinitionError> {
        let error = |reason: String| DefinitionError {
            saga: self.name.clone(),
            reason,
        };
        if self.name.trim().is_empty() {
            return Err(error("the saga has no name".into()));
        }
        if self.steps.is_empty() {
            return Err(error("the saga has no steps".into()));
        }
        for (index, step) in self.steps.iter().enumerate() {
            if step.name.trim().is_empty() {
                return Err(error(format!("step {index} has no name")));
            }
            if self.steps[..index]
                .iter()
                .any(|other| other.name == step.name)
            {
                return Err(error(format!("step name {:?} is used twice", step.name)));
            }
            if step.timeout.is_zero() {
                return Err(error(format!("step {:?} has a zero timeout", step.name)));
            }
        }
        Ok(())
    }
}

/// Builds a [`SagaDefinition`].
#[derive(Debug)]
pub struct SagaBuilder {
    definition: SagaDefinition,
}

impl SagaBuilder {
    pub fn step(mut self, step: StepDefinition) -> Self {
        self.definition.steps.push(step);
        self
    }

    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.definition.deadline = Some(deadline);
        self
    }

    pub fn compensation_order(mut self, order: CompensationOrder) -> Self {
        self.definition.compensation_order = order;
        self
    }

    pub fn continue_past_failed_compensation(mut self, yes: bool) -> Self {
        self.definition.continue_past_failed_compensation = yes;
        self
    }

    pub fn on_step_failure(mut self, policy: OnStepFailure) -> Self {
        self.definition.on_step_failure = policy;
        self
    }

    pub fn build(self) -> Result<SagaDefinition, DefinitionError> {
        self.definition.validate()?;
        Ok(self.definition)
    }
}
