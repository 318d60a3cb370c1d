//! Sagas from their spans (`saga {name}` roots, `saga.step {step}` attempts
//! and choreography participants), via the store's derived tables.

mod aggregate;
mod flow;
mod search;

use serde::{Deserialize, Serialize};

pub use aggregate::{AggregateFlow, AggregateStep, aggregate_flow};
pub use flow::{
    Attempt, AttemptStatus, CompensationStatus, FlowStep, Phase, SagaFlow, StepStatus, flow,
};
pub use search::{SagaInstance, SagaOrder, SagaSearch, search};

/// How an instance ended, or that it has not (yet) said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Completed,
    Compensated,
    /// A compensation failed past its budget: an operator must act.
    Failed,
    Running,
    /// No root span seen: a choreography, or an orchestrated saga whose root
    /// has not been exported yet.
    Unknown,
}

impl Outcome {
    pub fn from_stored(outcome: &str) -> Self {
        match outcome {
            "completed" => Outcome::Completed,
            "compensated" => Outcome::Compensated,
            "failed" => Outcome::Failed,
            "running" => Outcome::Running,
            _ => Outcome::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Compensated => "compensated",
            Outcome::Failed => "failed",
            Outcome::Running => "running",
            Outcome::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
