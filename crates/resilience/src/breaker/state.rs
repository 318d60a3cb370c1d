//! The breaker's states as the outside world sees them: manual commands, the current
//! override, transitions and snapshots.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub use switchyard_conventions::breaker::{BreakerState, TransitionReason};

/// A manual command's provenance: who gave it, why, and for how long.
///
/// Without a time to live an override holds until it is released; with one it expires
/// by itself (transition reason `expired`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// Who gave the command (an operator, a tool).
    pub by: String,
    /// Why, in words.
    pub reason: String,
    /// How long the override lasts; `None` for until released.
    pub ttl: Option<Duration>,
}

impl Command {
    /// A command without a time to live.
    pub fn new(by: impl Into<String>, reason: impl Into<String>) -> Self {
        Command {
            by: by.into(),
            reason: reason.into(),
            ttl: None,
        }
    }

    /// Makes the override expire after `ttl`.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }
}

/// A manual override in force, as a snapshot shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// `ForcedOpen`, `Disabled` or `ObserveOnly`.
    pub state: BreakerState,
    /// Who set it.
    pub by: String,
    /// Why.
    pub reason: String,
    /// When it was set (wall clock).
    pub set_at: SystemTime,
    /// When it expires (wall clock), if it has a time to live.
    pub expires_at: Option<SystemTime>,
    /// How long until it expires, if it has a time to live.
    pub expires_in: Option<Duration>,
}

/// One change of a breaker's state.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// The breaker's name.
    pub breaker: Arc<str>,
    /// The state left.
    pub from: BreakerState,
    /// The state entered.
    pub to: BreakerState,
    /// Why.
    pub reason: TransitionReason,
    /// `true` when the automatic state machine changed underneath observe-only mode:
    /// what the breaker would have done, with nothing enforced.
    pub dry_run: bool,
    /// Who caused it, for manual transitions.
    pub by: Option<String>,
    /// The command's reason, for manual transitions.
    pub note: Option<String>,
    /// When (wall clock).
    pub at: SystemTime,
}

/// Calls counted since the breaker was built, by outcome. Each completed call has
/// exactly one of success, failure (failed, slow or not) and slow (slow success).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallTotals {
    /// Calls that succeeded in time.
    pub success: u64,
    /// Calls that failed.
    pub failure: u64,
    /// Calls that succeeded but slowly.
    pub slow: u64,
    /// Calls rejected.
    pub rejected: u64,
    /// Calls an observe-only breaker let through but would have rejected.
    pub would_reject: u64,
}

/// A breaker's state at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The breaker's name.
    pub name: Arc<str>,
    /// The state in force: a manual override's, if there is one, else the automatic one.
    pub state: BreakerState,
    /// The automatic state machine's state (closed, open or half-open); under
    /// observe-only, what the breaker would be enforcing.
    pub automatic_state: BreakerState,
    /// Calls in the current window.
    pub window_calls: u64,
    /// Failed calls in the current window.
    pub window_failures: u64,
    /// Slow calls in the current window.
    pub window_slow: u64,
    /// Failure rate over the window, in percent.
    pub failure_rate: f64,
    /// Slow-call rate over the window, in percent.
    pub slow_call_rate: f64,
    /// When the breaker entered `state` (wall clock).
    pub since: SystemTime,
    /// How long it has been in `state`.
    pub in_state_for: Duration,
    /// While open: how long until it may probe.
    pub next_probe_in: Option<Duration>,
    /// The manual override in force.
    pub manual: Option<Override>,
    /// Totals since the breaker was built.
    pub totals: CallTotals,
}

/// The automatic state machine's state. Times are nanoseconds since the breaker's epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Auto {
    Closed,
    Open {
        until: u64,
    },
    HalfOpen {
        since: u64,
        /// Probe permits handed out and not given back.
        granted: u32,
        /// Probes that reported an outcome.
        done: u32,
        failures: u32,
        slow: u32,
    },
}

impl Auto {
    pub(crate) fn state(&self) -> BreakerState {
        match self {
            Auto::Closed => BreakerState::Closed,
            Auto::Open { .. } => BreakerState::Open,
            Auto::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    pub(crate) fn half_open(now: u64) -> Self {
        Auto::HalfOpen {
            since: now,
            granted: 0,
            done: 0,
            failures: 0,
            slow: 0,
        }
    }
}

/// A manual override in force, as the controller keeps it.
#[derive(Debug, Clone)]
pub(crate) struct ManualState {
    pub(crate) state: BreakerState,
    pub(crate) by: String,
    pub(crate) reason: String,
    pub(crate) set_at: SystemTime,
    /// Nanoseconds since the breaker's epoch.
    pub(crate) expires_at: Option<u64>,
}
