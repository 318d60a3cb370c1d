//! Game-day experiments: inject a fault, wait for the expected reaction, revert.

use std::time::Duration;

use switchyard_conventions::breaker::BreakerState;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use crate::backend::{FaultControl, StateSource};
use crate::command::Command;
use crate::error::{BackendError, Result};
use crate::proto::{self, expectation::Kind, state_change::Change};

/// Saga statuses on the wire (those of `switchyard-saga`'s log, whose
/// `saga.outcome` values are `switchyard_conventions::saga::SagaOutcome`).
pub const SAGA_STATUSES: &[&str] = &[
    "running",
    "compensating",
    "completed",
    "compensated",
    "failed",
    "resolved",
];

/// The longest an experiment may wait, so a typo cannot hold a fault for hours.
pub const MAX_WITHIN: Duration = Duration::from_secs(600);

/// The reaction an experiment expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expectation {
    /// Breaker `name` enters `state`.
    Breaker {
        /// The breaker's name.
        name: String,
        /// The state it should reach.
        state: BreakerState,
    },
    /// A saga of definition `name` reaches `status` (one of [`SAGA_STATUSES`]).
    Saga {
        /// The saga definition's name.
        name: String,
        /// The status one of its instances should reach.
        status: String,
    },
}

impl Expectation {
    fn describe(&self, within: Duration) -> String {
        match self {
            Expectation::Breaker { name, state } => {
                format!(
                    "breaker {name} reaches {state} within {} s",
                    within.as_secs()
                )
            }
            Expectation::Saga { name, status } => {
                format!("sagas {name} reach {status} within {} s", within.as_secs())
            }
        }
    }

    /// Whether `change` concerns this expectation; `Some(true)` when it fulfils it.
    fn judge(&self, change: &Change) -> Option<(bool, String)> {
        match (self, change) {
            (Expectation::Breaker { name, state }, Change::Breaker(t)) if &t.name == name => {
                let seen = format!("breaker {}: {} -> {} ({})", t.name, t.from, t.to, t.reason);
                Some((t.to == state.as_str(), seen))
            }
            (Expectation::Saga { name, status }, Change::Saga(s)) if &s.name == name => {
                let seen = format!("saga {} {}: {}", s.name, s.id, s.status);
                Some((&s.status == status, seen))
            }
            _ => None,
        }
    }
}

/// A fault to inject and the reaction expected within a time.
#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    /// The fault, applied through [`FaultControl::set_fault`] and reverted after.
    pub fault: proto::Fault,
    /// What should happen.
    pub expectation: Expectation,
    /// How long to wait for it.
    pub within: Duration,
}

impl Experiment {
    /// Validates a request's experiment.
    pub fn from_request(request: &proto::RunExperimentRequest) -> Result<Self> {
        let fault = request
            .fault
            .clone()
            .ok_or_else(|| BackendError::InvalidArgument("experiment without a fault".into()))?;
        validate_fault(&fault)?;
        let expected = request.expectation.as_ref().ok_or_else(|| {
            BackendError::InvalidArgument("experiment without an expectation".into())
        })?;
        let within = Duration::from_secs(expected.within_seconds.into());
        if within.is_zero() || within > MAX_WITHIN {
            return Err(BackendError::InvalidArgument(format!(
                "within_seconds must be 1..={}",
                MAX_WITHIN.as_secs()
            )));
        }
        let expectation = match &expected.kind {
            Some(Kind::Breaker(b)) => Expectation::Breaker {
                name: b.name.clone(),
                state: b
                    .state
                    .parse()
                    .map_err(|e: switchyard_conventions::UnknownValue| {
                        BackendError::InvalidArgument(e.to_string())
                    })?,
            },
            Some(Kind::Saga(s)) => {
                check_saga_status(&s.status)?;
                Expectation::Saga {
                    name: s.name.clone(),
                    status: s.status.clone(),
                }
            }
            None => {
                return Err(BackendError::InvalidArgument(
                    "expectation names neither a breaker nor a saga".into(),
                ));
            }
        };
        Ok(Experiment {
            fault,
            expectation,
            within,
        })
    }
}

/// `INVALID_ARGUMENT` unless `status` is a saga status.
pub fn check_saga_status(status: &str) -> Result<()> {
    if SAGA_STATUSES.contains(&status) {
        Ok(())
    } else {
        Err(BackendError::InvalidArgument(format!(
            "unknown saga status {status:?} (expected one of {})",
            SAGA_STATUSES.join(", ")
        )))
    }
}

/// `INVALID_ARGUMENT` unless the fault names a service and its error rate is a share.
pub fn validate_fault(fault: &proto::Fault) -> Result<()> {
    if fault.service.is_empty() {
        return Err(BackendError::InvalidArgument(
            "fault without a service".into(),
        ));
    }
    if !(0.0..=1.0).contains(&fault.error_rate) {
        return Err(BackendError::InvalidArgument(format!(
            "error_rate {} is not within 0..=1",
            fault.error_rate
        )));
    }
    Ok(())
}

/// What an experiment found.
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentReport {
    /// Whether the expected reaction came in time.
    pub met: bool,
    /// From the fault's injection to the reaction, when met.
    pub observed_after: Option<Duration>,
    /// The reaction, or the last related change seen, in words.
    pub observed: String,
    /// The expectation, in words.
    pub expectation: String,
    /// From injection to the end of the wait.
    pub duration: Duration,
    /// The fault injected.
    pub fault: proto::Fault,
}

impl From<ExperimentReport> for proto::ExperimentResult {
    fn from(r: ExperimentReport) -> Self {
        proto::ExperimentResult {
            met: r.met,
            observed_after_ms: r.observed_after.map(duration_ms),
            observed: r.observed,
            expectation: r.expectation,
            duration_ms: duration_ms(r.duration),
            fault: Some(r.fault),
        }
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Runs `experiment`: remembers the service's current fault, injects the new one,
/// watches `states` for the expected change until the deadline, and puts the old
/// fault back whatever happened. Only changes after the injection count: a breaker
/// already open does not fulfil "opens".
pub async fn run_experiment(
    faults: &dyn FaultControl,
    states: &dyn StateSource,
    experiment: Experiment,
    command: &Command,
) -> Result<ExperimentReport> {
    if !faults.faults_enabled() {
        return Err(BackendError::NotAllowed(
            "fault injection is disabled on this agent".into(),
        ));
    }
    let service = experiment.fault.service.clone();
    let previous = faults
        .faults()
        .await?
        .into_iter()
        .find(|f| f.service == service)
        .unwrap_or_else(|| proto::Fault {
            service: service.clone(),
            ..proto::Fault::default()
        });
    // Subscribe before injecting so that a fast reaction is not missed.
    let mut changes = states.subscribe();
    faults
        .set_fault(experiment.fault.clone(), command.clone())
        .await?;
    let started = Instant::now();
    let deadline = started + experiment.within;

    let mut observed = None;
    let mut last_seen = String::from("no related change");
    loop {
        let next = tokio::time::timeout_at(deadline, changes.recv()).await;
        match next {
            Err(_elapsed) => break,
            Ok(Ok(change)) => {
                let Some(change) = change.change else {
                    continue;
                };
                if let Some((fulfils, seen)) = experiment.expectation.judge(&change) {
                    if fulfils {
                        observed = Some((started.elapsed(), seen));
                        break;
                    }
                    last_seen = seen;
                }
            }
            // Missed some changes: keep watching the ones that follow.
            Ok(Err(RecvError::Lagged(_))) => continue,
            Ok(Err(RecvError::Closed)) => break,
        }
    }
    let duration = started.elapsed();

    let revert = Command::new(
        command.by.clone(),
        format!("experiment ended: {}", command.reason),
    );
    if let Err(err) = faults.set_fault(previous, revert).await {
        tracing::error!(%service, %err, "could not revert an experiment's fault");
        return Err(BackendError::Internal(format!(
            "experiment ran but its fault on {service} could not be reverted: {err}"
        )));
    }

    let expectation = experiment.expectation.describe(experiment.within);
    Ok(match observed {
        Some((after, seen)) => ExperimentReport {
            met: true,
            observed_after: Some(after),
            observed: seen,
            expectation,
            duration,
            fault: experiment.fault,
        },
        None => ExperimentReport {
            met: false,
            observed_after: None,
            observed: format!("timed out; last: {last_seen}"),
            expectation,
            duration,
            fault: experiment.fault,
        },
    })
}
