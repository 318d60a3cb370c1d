//! An instance's state as the tracker knows it, and how the status follows from the set of
//! events seen — never from their order, so late, early and repeated events end the same.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use switchyard_conventions::saga::SagaOutcome;

use super::definition::{ChoreographyDefinition, EventRole};

/// Where a choreographed instance stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChoreographyStatus {
    /// Started (or some step event seen); no failure, not completed.
    Running,
    /// A step failed (or a compensation was seen): waiting for the done steps to be undone.
    Compensating,
    /// A completion event was seen and nothing failed.
    Completed,
    /// A step failed and every done step that can be undone was.
    Compensated,
    /// A compensation gave up: an operator must act.
    Failed,
}

impl ChoreographyStatus {
    pub const ALL: [ChoreographyStatus; 5] = [
        ChoreographyStatus::Running,
        ChoreographyStatus::Compensating,
        ChoreographyStatus::Completed,
        ChoreographyStatus::Compensated,
        ChoreographyStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChoreographyStatus::Running => "running",
            ChoreographyStatus::Compensating => "compensating",
            ChoreographyStatus::Completed => "completed",
            ChoreographyStatus::Compensated => "compensated",
            ChoreographyStatus::Failed => "failed",
        }
    }

    /// Nothing more is expected (so it cannot be stuck).
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            ChoreographyStatus::Completed
                | ChoreographyStatus::Compensated
                | ChoreographyStatus::Failed
        )
    }

    /// The `saga.outcome` of the telemetry conventions.
    pub fn outcome(self) -> SagaOutcome {
        match self {
            ChoreographyStatus::Running | ChoreographyStatus::Compensating => SagaOutcome::Running,
            ChoreographyStatus::Completed => SagaOutcome::Completed,
            ChoreographyStatus::Compensated => SagaOutcome::Compensated,
            ChoreographyStatus::Failed => SagaOutcome::Failed,
        }
    }
}

impl fmt::Display for ChoreographyStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text is not a [`ChoreographyStatus`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown choreography status {0:?}")]
pub struct UnknownStatus(pub String);

impl FromStr for ChoreographyStatus {
    type Err = UnknownStatus;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        ChoreographyStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
            .ok_or_else(|| UnknownStatus(text.to_owned()))
    }
}

/// One event the tracker recorded for an instance (the first delivery of its type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    pub event_type: String,
    pub message_id: String,
    /// From the message's `traceparent`, when it had one: the participant's trace.
    pub trace_id: Option<String>,
    /// When the tracker recorded it.
    pub at: SystemTime,
    /// Later deliveries of the same event type for this instance (redeliveries and
    /// re-publications under another message id), ignored.
    pub duplicates: u64,
}

/// One step of an instance; `None` where that event was not seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepState {
    pub name: String,
    /// Position in the definition.
    pub index: usize,
    pub done: Option<EventRecord>,
    pub failed: Option<EventRecord>,
    pub compensated: Option<EventRecord>,
    pub compensation_failed: Option<EventRecord>,
}

impl StepState {
    pub(crate) fn pending(name: &str, index: usize) -> Self {
        StepState {
            name: name.to_owned(),
            index,
            done: None,
            failed: None,
            compensated: None,
            compensation_failed: None,
        }
    }
}

/// An instance's row: what lists and the stuck report show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceSummary {
    pub saga_name: String,
    pub saga_id: String,
    pub status: ChoreographyStatus,
    /// The step whose failure event came first.
    pub failed_step: Option<String>,
    /// The step of the latest new step event.
    pub last_step: Option<String>,
    /// The type of the latest new event.
    pub last_event: Option<String>,
    /// The definition's progress deadline when the last event was recorded.
    pub progress_deadline: Duration,
    /// When the tracker recorded the instance's first event.
    pub started_at: SystemTime,
    /// When the tracker last recorded a new event.
    pub last_progress_at: SystemTime,
    /// When the instance reached its finished status.
    pub ended_at: Option<SystemTime>,
    /// Distinct events recorded.
    pub events: u64,
    /// Deliveries of already recorded events, ignored.
    pub duplicates: u64,
}

impl InstanceSummary {
    /// How long since the last new event.
    pub fn quiet_for(&self, now: SystemTime) -> Duration {
        now.duration_since(self.last_progress_at)
            .unwrap_or_default()
    }

    /// Unfinished and quiet for longer than its deadline.
    pub fn is_stuck(&self, now: SystemTime) -> bool {
        !self.status.is_finished() && self.quiet_for(now) > self.progress_deadline
    }
}

/// An instance with every event the tracker recorded for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChoreographyInstance {
    pub summary: InstanceSummary,
    /// The start event, when seen (the first, if the saga has several start types).
    pub started: Option<EventRecord>,
    /// The completion event, when seen.
    pub completed: Option<EventRecord>,
    /// In definition order. From a tracker: every step of its definition, pending ones
    /// with no events; from the store alone: the steps with events.
    pub steps: Vec<StepState>,
}

impl ChoreographyInstance {
    pub fn step(&self, name: &str) -> Option<&StepState> {
        self.steps.iter().find(|step| step.name == name)
    }
}

/// An unfinished instance quiet past its deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StuckInstance {
    pub summary: InstanceSummary,
    /// How long it has been without progress.
    pub quiet_for: Duration,
    /// The last step seen (the step of the latest new step event), if any.
    pub last_step: Option<String>,
}

/// One recorded event, as the derivation needs it.
#[derive(Debug, Clone)]
pub(crate) struct Fact {
    pub(crate) role: EventRole,
    pub(crate) step: Option<String>,
}

/// Status and failed step from the set of recorded events (in the order recorded).
pub(crate) fn derive(
    definition: &ChoreographyDefinition,
    facts: &[Fact],
) -> (ChoreographyStatus, Option<String>) {
    let seen = |role: EventRole, step: &str| {
        facts
            .iter()
            .any(|f| f.role == role && f.step.as_deref() == Some(step))
    };
    let any = |role: EventRole| facts.iter().any(|f| f.role == role);
    let failed_step = facts
        .iter()
        .find(|f| f.role == EventRole::StepFailed)
        .and_then(|f| f.step.clone());

    let status = if any(EventRole::CompensationFailed) {
        ChoreographyStatus::Failed
    } else if failed_step.is_some() {
        // Every step that took effect (a compensation proves it did, even before its
        // `done` arrives) and can be undone must be, except the failed ones themselves.
        let all_undone = definition
            .steps
            .iter()
            .filter(|step| !step.compensated.is_empty())
            .filter(|step| {
                seen(EventRole::StepDone, &step.name)
                    || seen(EventRole::StepCompensated, &step.name)
            })
            .filter(|step| !seen(EventRole::StepFailed, &step.name))
            .all(|step| seen(EventRole::StepCompensated, &step.name));
        if all_undone {
            ChoreographyStatus::Compensated
        } else {
            ChoreographyStatus::Compensating
        }
    } else if any(EventRole::StepCompensated) {
        // The failure that caused it is still on its way.
        ChoreographyStatus::Compensating
    } else if any(EventRole::Completed) {
        ChoreographyStatus::Completed
    } else {
        ChoreographyStatus::Running
    };
    (status, failed_step)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::choreography::definition::ChoreographyStep;

    fn order() -> ChoreographyDefinition {
        ChoreographyDefinition::new(
            "order",
            "OrderPlaced",
            "OrderConfirmed",
            Duration::from_secs(30),
        )
        .step(
            ChoreographyStep::new("payment", "PaymentCaptured")
                .failed("PaymentFailed")
                .compensated("PaymentRefunded")
                .compensation_failed("RefundFailed"),
        )
        .step(
            ChoreographyStep::new("stock", "StockReserved")
                .failed("StockFailed")
                .compensated("StockReleased"),
        )
        .step(ChoreographyStep::new("email", "EmailSent"))
    }

    fn fact(role: EventRole, step: Option<&str>) -> Fact {
        Fact {
            role,
            step: step.map(str::to_owned),
        }
    }

    /// Every order of the events gives the same status once all have arrived.
    #[test]
    fn status_does_not_depend_on_order() {
        let definition = order();
        let failure = [
            fact(EventRole::Started, None),
            fact(EventRole::StepDone, Some("payment")),
            fact(EventRole::StepFailed, Some("stock")),
            fact(EventRole::StepCompensated, Some("payment")),
        ];
        for a in 0..4 {
            for b in 0..4 {
                for c in 0..4 {
                    for d in 0..4 {
                        let order = [a, b, c, d];
                        let mut unique = order.to_vec();
                        unique.sort_unstable();
                        unique.dedup();
                        if unique.len() != 4 {
                            continue;
                        }
                        let facts: Vec<Fact> = order.iter().map(|&i| failure[i].clone()).collect();
                        assert_eq!(
                            derive(&definition, &facts),
                            (ChoreographyStatus::Compensated, Some("stock".into())),
                            "{order:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn statuses() {
        let definition = order();
        let status = |facts: &[Fact]| derive(&definition, facts).0;
        assert_eq!(
            status(&[fact(EventRole::StepDone, Some("payment"))]),
            ChoreographyStatus::Running
        );
        assert_eq!(
            status(&[fact(EventRole::StepCompensated, Some("payment"))]),
            ChoreographyStatus::Compensating
        );
        assert_eq!(
            status(&[
                fact(EventRole::StepDone, Some("payment")),
                fact(EventRole::StepDone, Some("stock")),
                fact(EventRole::StepFailed, Some("email")),
                fact(EventRole::StepCompensated, Some("stock")),
            ]),
            ChoreographyStatus::Compensating,
            "payment is not undone yet"
        );
        assert_eq!(
            status(&[fact(EventRole::StepFailed, Some("payment"))]),
            ChoreographyStatus::Compensated,
            "nothing to undo"
        );
        assert_eq!(
            status(&[
                fact(EventRole::StepFailed, Some("stock")),
                fact(EventRole::CompensationFailed, Some("payment")),
            ]),
            ChoreographyStatus::Failed
        );
        assert_eq!(
            status(&[
                fact(EventRole::Completed, None),
                fact(EventRole::StepDone, Some("payment")),
            ]),
            ChoreographyStatus::Completed
        );
    }
}
