//! Retries: the counters a retry policy reports.
//!
//! In the spirit of the OpenTelemetry resilience proposal (semantic-conventions#2355:
//! `retry.name`, `retry.result`, `retry.attempt`), with `outcome` for the result so
//! every resilience counter reads alike.

use crate::string_enum;

/// Counter: protected calls, by [`RetryOutcome`] in [`OUTCOME`] (one per call, however
/// many attempts it took).
pub const CALLS_METRIC: &str = "retry.calls";
/// Counter: attempts made after the first one (the extra load retries added).
pub const ATTEMPTS_METRIC: &str = "retry.attempts";

/// Attribute: the retry policy's name, on every retry metric.
pub const NAME: &str = "retry.name";
/// Attribute of `retry.calls`: a [`RetryOutcome`].
pub const OUTCOME: &str = "retry.outcome";

string_enum! {
    /// How a call under a retry policy ended.
    "retry outcome", RetryOutcome {
        /// The last attempt succeeded (whether or not earlier ones failed).
        Success => "success",
        /// The result was not retryable and was returned as it was.
        Failure => "failure",
        /// Every allowed attempt failed.
        Exhausted => "exhausted",
        /// A retry was wanted but the retry budget had no room for it.
        BudgetExhausted => "budget_exhausted",
    }
}
