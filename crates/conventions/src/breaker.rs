//! Circuit breakers: metrics, their attributes and the transition event.
//!
//! Resource attribute `service.name` says which service owns the breaker.

use crate::string_enum;

/// Gauge: the breaker's state as a [`BreakerState::code`].
pub const STATE_METRIC: &str = "breaker.state";
/// Counter: calls through the breaker, by [`CallOutcome`] in [`OUTCOME`].
pub const CALLS_METRIC: &str = "breaker.calls";
/// Gauge: failure rate in percent over the current window.
pub const FAILURE_RATE_METRIC: &str = "breaker.failure_rate";
/// Counter: calls that an observe-only breaker let through but would have
/// rejected. Kept apart from `breaker.calls{breaker.outcome=rejected}` so that
/// a dry run never looks like an outage.
pub const WOULD_REJECT_METRIC: &str = "breaker.would_reject";

/// Attribute: the breaker's name, on every breaker metric and event.
pub const NAME: &str = "breaker.name";
/// Attribute of `breaker.calls`: a [`CallOutcome`].
pub const OUTCOME: &str = "breaker.outcome";

/// Span event or log record emitted on each state change.
pub const TRANSITION_EVENT: &str = "breaker.transition";
/// Attribute of the transition: the state left.
pub const FROM: &str = "breaker.from";
/// Attribute of the transition: the state entered.
pub const TO: &str = "breaker.to";
/// Attribute of the transition: a [`TransitionReason`].
pub const REASON: &str = "breaker.reason";
/// Boolean attribute of the transition: `true` when it happened in the
/// automatic state machine underneath observe-only mode (nothing was enforced).
pub const DRY_RUN: &str = "breaker.dry_run";

/// The breaker of one instance of a gateway's upstream cluster:
/// `upstream.{cluster}.{ip:port}`.
pub fn upstream_breaker_name(cluster: &str, address: &impl std::fmt::Display) -> String {
    format!("upstream.{cluster}.{address}")
}

/// The breaker of a destination a sidecar passes its service's calls through to,
/// one per `host:port` as the service called it: `egress.{host}:{port}`.
pub fn egress_breaker_name(host: &str, port: u16) -> String {
    format!("egress.{host}:{port}")
}

string_enum! {
    /// A breaker's state; the automatic ones (closed, open, half-open) and the
    /// ones an operator sets (forced open, disabled, observe-only).
    "breaker state", BreakerState {
        Closed => "closed",
        Open => "open",
        HalfOpen => "half_open",
        ForcedOpen => "forced_open",
        Disabled => "disabled",
        /// Computes everything, never rejects: a dry run before enforcing.
        ObserveOnly => "observe_only",
    }
}

impl BreakerState {
    /// The value of the `breaker.state` gauge.
    pub const fn code(self) -> i64 {
        match self {
            BreakerState::Closed => 0,
            BreakerState::Open => 1,
            BreakerState::HalfOpen => 2,
            BreakerState::ForcedOpen => 3,
            BreakerState::Disabled => 4,
            BreakerState::ObserveOnly => 5,
        }
    }

    /// The state for a `breaker.state` gauge value.
    pub fn from_code(code: i64) -> Option<Self> {
        Self::ALL.iter().copied().find(|s| s.code() == code)
    }

    /// Whether calls are rejected in this state (half-open admits only probes).
    pub const fn rejects(self) -> bool {
        matches!(self, BreakerState::Open | BreakerState::ForcedOpen)
    }
}

string_enum! {
    /// How one call through a breaker ended.
    "breaker call outcome", CallOutcome {
        Success => "success",
        Failure => "failure",
        Slow => "slow",
        Rejected => "rejected",
    }
}

string_enum! {
    /// Why a breaker changed state.
    "breaker transition reason", TransitionReason {
        /// The failure or slow-call rate crossed its threshold.
        Threshold => "threshold",
        /// The open state's wait elapsed (or half-open waited too long).
        Timeout => "timeout",
        /// Half-open probes decided the outcome.
        Probe => "probe",
        /// An operator command.
        Manual => "manual",
        /// A manual override's time to live ran out.
        Expired => "expired",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_codes_round_trip() {
        for state in BreakerState::ALL {
            assert_eq!(BreakerState::from_code(state.code()), Some(*state));
            assert_eq!(state.as_str().parse::<BreakerState>(), Ok(*state));
        }
        assert_eq!(BreakerState::from_code(99), None);
    }

    #[test]
    fn unknown_names_are_errors() {
        let err = "ajar".parse::<BreakerState>().unwrap_err();
        assert_eq!(err.to_string(), "unknown breaker state: \"ajar\"");
    }
}
