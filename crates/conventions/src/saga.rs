//! Sagas: span names and attributes of orchestrated and choreographed sagas.
//!
//! One root span `saga {saga.name}` per instance, one `saga.step {saga.step.name}`
//! span per step attempt. Choreography participants carry `saga.id` and
//! `saga.name` on their own spans; the console joins them by `saga.id`.

use crate::string_enum;

/// Prefix of the root span's name: `saga {saga.name}`.
pub const ROOT_SPAN_PREFIX: &str = "saga ";
/// Prefix of a step attempt's span name: `saga.step {saga.step.name}`.
pub const STEP_SPAN_PREFIX: &str = "saga.step ";

/// Attribute: the saga definition's name.
pub const NAME: &str = "saga.name";
/// Attribute: the instance's id, unique across the cluster.
pub const ID: &str = "saga.id";
/// Attribute of the root span, set on end: a [`SagaOutcome`].
pub const OUTCOME: &str = "saga.outcome";
/// Attribute of a step span: the step's name.
pub const STEP_NAME: &str = "saga.step.name";
/// Attribute of a step span: the step's position in the definition, from 0.
pub const STEP_INDEX: &str = "saga.step.index";
/// Attribute of a step span: a [`StepPhase`].
pub const STEP_PHASE: &str = "saga.step.phase";
/// Attribute of a step span: the attempt number, from 1.
pub const STEP_ATTEMPT: &str = "saga.step.attempt";

/// The root span's name for a saga definition.
pub fn root_span_name(saga_name: &str) -> String {
    format!("{ROOT_SPAN_PREFIX}{saga_name}")
}

/// A step attempt's span name.
pub fn step_span_name(step_name: &str) -> String {
    format!("{STEP_SPAN_PREFIX}{step_name}")
}

string_enum! {
    /// How a saga instance ended (or that it has not yet).
    "saga outcome", SagaOutcome {
        Completed => "completed",
        Compensated => "compensated",
        /// Stuck: a compensation failed past its budget; an operator must act.
        Failed => "failed",
        Running => "running",
    }
}

string_enum! {
    /// Whether a step span moves the saga forward or undoes a step.
    "saga step phase", StepPhase {
        Forward => "forward",
        Compensate => "compensate",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_names_follow_the_convention() {
        assert_eq!(root_span_name("checkout"), "saga checkout");
        assert_eq!(step_span_name("charge-card"), "saga.step charge-card");
        assert_eq!(
            "compensated".parse::<SagaOutcome>(),
            Ok(SagaOutcome::Compensated)
        );
        assert!("forwards".parse::<StepPhase>().is_err());
    }
}
