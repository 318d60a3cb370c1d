//! What the saga log holds: instances with a status, and their transitions in order.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use switchyard_conventions::saga::SagaOutcome;

macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!("unknown {} {other:?}", stringify!($name))),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum! {
    /// Where a saga instance is.
    SagaStatus {
        /// Moving forward through its steps.
        Running => "running",
        /// Undoing its completed steps.
        Compensating => "compensating",
        /// Every step succeeded (or was skipped by an operator).
        Completed => "completed",
        /// A step failed and every completed step was undone.
        Compensated => "compensated",
        /// Stuck: a step failed and the saga holds for an operator, or a compensation
        /// failed past its budget. Never left like this silently: it is listed until an
        /// operator retries, skips, compensates or resolves it.
        Failed => "failed",
        /// An operator closed a failed saga by hand, with a comment.
        Resolved => "resolved",
    }
}

impl SagaStatus {
    /// Whether the orchestrator has work to do on it (recovery resumes these).
    pub fn is_active(self) -> bool {
        matches!(self, SagaStatus::Running | SagaStatus::Compensating)
    }

    /// The `saga.outcome` attribute of the root span.
    pub fn outcome(self) -> SagaOutcome {
        match self {
            SagaStatus::Running | SagaStatus::Compensating => SagaOutcome::Running,
            SagaStatus::Completed => SagaOutcome::Completed,
            SagaStatus::Compensated => SagaOutcome::Compensated,
            SagaStatus::Failed | SagaStatus::Resolved => SagaOutcome::Failed,
        }
    }
}

wire_enum! {
    /// One transition in the log.
    EntryKind {
        Started => "started",
        StepAttempted => "step_attempted",
        StepSucceeded => "step_succeeded",
        /// One attempt failed; `data.error`, `data.retryable`.
        StepAttemptFailed => "step_attempt_failed",
        /// The step failed for good (retries used up, permanent error, deadline).
        StepFailed => "step_failed",
        StepSkipped => "step_skipped",
        Compensating => "compensating",
        CompensationAttempted => "compensation_attempted",
        CompensationSucceeded => "compensation_succeeded",
        CompensationAttemptFailed => "compensation_attempt_failed",
        /// A compensation failed past its budget.
        CompensationFailed => "compensation_failed",
        CompensationSkipped => "compensation_skipped",
        Completed => "completed",
        Compensated => "compensated",
        /// The saga stopped for an operator (`data.error` says why).
        Failed => "failed",
        /// An operator retried the failed step or compensation (`data.step_input`).
        RetryRequested => "retry_requested",
        /// An operator asked to compensate now.
        CompensateRequested => "compensate_requested",
        Resolved => "resolved",
        /// A restarted orchestrator picked the saga up from the log.
        Recovered => "recovered",
    }
}

/// One committed transition.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    pub seq: i64,
    pub at: SystemTime,
    pub kind: EntryKind,
    pub step: Option<String>,
    pub attempt: Option<u32>,
    /// Output, error, edited input or comment, by kind.
    pub data: Value,
    /// Operator commands: who asked.
    pub actor: Option<String>,
    /// Operator commands: why.
    pub reason: Option<String>,
}

impl LogEntry {
    pub fn new(kind: EntryKind) -> Self {
        LogEntry {
            seq: 0,
            at: SystemTime::now(),
            kind,
            step: None,
            attempt: None,
            data: Value::Null,
            actor: None,
            reason: None,
        }
    }

    pub fn step(mut self, step: &str) -> Self {
        self.step = Some(step.to_owned());
        self
    }

    pub fn attempt(mut self, attempt: u32) -> Self {
        self.attempt = Some(attempt);
        self
    }

    pub fn data(mut self, data: Value) -> Self {
        self.data = data;
        self
    }

    pub fn by(mut self, actor: &str, reason: &str) -> Self {
        self.actor = Some(actor.to_owned());
        self.reason = Some(reason.to_owned());
        self
    }

    /// `data.error` of a failure entry.
    pub fn error(&self) -> Option<&str> {
        self.data.get("error").and_then(Value::as_str)
    }
}

/// The summary row of one instance.
#[derive(Debug, Clone, PartialEq)]
pub struct SagaInstance {
    pub id: String,
    pub name: String,
    pub status: SagaStatus,
    pub input: Value,
    /// The step whose failure started compensation or holds the saga.
    pub failed_step: Option<String>,
    pub error: Option<String>,
    /// The root span's `traceparent` (and `tracestate`).
    pub trace_context: BTreeMap<String, String>,
    pub deadline_at: Option<SystemTime>,
    pub created_at: SystemTime,
    pub updated_at: SystemTime,
}

/// Which instances to list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InstanceFilter {
    pub statuses: Vec<SagaStatus>,
    pub name: Option<String>,
    /// Created at or after.
    pub since: Option<SystemTime>,
    /// Created before.
    pub until: Option<SystemTime>,
    /// At most this many, newest first (0: 100).
    pub limit: usize,
}

pub(crate) fn to_micros(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

pub(crate) fn from_micros(micros: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(micros.max(0) as u64)
}
