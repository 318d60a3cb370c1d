//! Errors, scoped to two families: control-plane operations (building things, the
//! registry) return [`Error`]; protected calls return [`CallError`], or a boxed
//! rejection when they go through a tower layer.

use std::sync::Arc;
use std::time::Duration;

use switchyard_conventions::breaker::BreakerState;

/// The error type tower middleware returns, as in `tower`.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Result of control-plane operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A control-plane error: configuration and the breaker registry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The registry has no breaker of that name.
    #[error("no circuit breaker named {name:?} in the registry")]
    UnknownBreaker {
        /// The name that was asked for.
        name: String,
    },
    /// A configuration value is out of range.
    #[error("invalid {component} configuration: {reason}")]
    InvalidConfig {
        /// Which component was being configured (`"breaker"`, `"retry"`, ...).
        component: &'static str,
        /// What is wrong, in words.
        reason: String,
    },
}

impl Error {
    pub(crate) fn config(component: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidConfig {
            component,
            reason: reason.into(),
        }
    }
}

/// A circuit breaker turned a call away.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("circuit breaker {breaker:?} rejected the call: it is {state}")]
pub struct BreakerOpen {
    /// The breaker's name.
    pub breaker: Arc<str>,
    /// The state it was in: open, forced open, or half-open with every probe taken.
    pub state: BreakerState,
}

/// A rate limiter turned a call away.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rate limiter {limiter:?} rejected the call; retry after {retry_after:?}")]
pub struct RateLimited {
    /// The limiter's name.
    pub limiter: Arc<str>,
    /// The earliest time from now at which the same key would be allowed.
    pub retry_after: Duration,
}

/// A bulkhead was full and turned a call away instead of queueing it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bulkhead {bulkhead:?} is full ({max_concurrent} calls in flight)")]
pub struct BulkheadFull {
    /// The bulkhead's name.
    pub bulkhead: Arc<str>,
    /// Its bound.
    pub max_concurrent: usize,
}

/// A call took longer than its timeout and was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("call timed out after {after:?}")]
pub struct Elapsed {
    /// The timeout that ran out.
    pub after: Duration,
}

/// The outcome of a call made through the plain async API: either the call ran and
/// failed with its own error, or a resilience primitive stopped it.
#[derive(Debug, thiserror::Error)]
pub enum CallError<E> {
    /// A circuit breaker rejected the call.
    #[error(transparent)]
    BreakerOpen(#[from] BreakerOpen),
    /// A rate limiter rejected the call.
    #[error(transparent)]
    RateLimited(#[from] RateLimited),
    /// A bulkhead was full.
    #[error(transparent)]
    BulkheadFull(#[from] BulkheadFull),
    /// The call timed out.
    #[error(transparent)]
    Timeout(#[from] Elapsed),
    /// The call ran and returned this error.
    #[error("{0}")]
    Inner(E),
}

impl<E> CallError<E> {
    /// Whether the call was turned away without running (breaker, limiter, bulkhead).
    pub fn is_rejected(&self) -> bool {
        matches!(
            self,
            CallError::BreakerOpen(_) | CallError::RateLimited(_) | CallError::BulkheadFull(_)
        )
    }

    /// The call's own error, if it ran and failed.
    pub fn into_inner(self) -> Option<E> {
        match self {
            CallError::Inner(e) => Some(e),
            _ => None,
        }
    }
}

/// A watcher of transitions fell behind and missed some.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the transition stream skipped {missed} transitions; re-read the breakers' snapshots")]
pub struct Lagged {
    /// How many transitions were missed.
    pub missed: u64,
}
