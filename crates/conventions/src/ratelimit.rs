//! Rate limiters: the counter of decisions.
//!
//! In the spirit of the OpenTelemetry resilience proposal (semantic-conventions#2355:
//! `ratelimiter.name`, `ratelimiter.result`).

use crate::string_enum;

/// Counter: calls through a rate limiter, by [`RateLimitOutcome`] in [`OUTCOME`].
pub const CALLS_METRIC: &str = "ratelimit.calls";

/// Attribute: the limiter's name (never the per-call key, to bound cardinality).
pub const NAME: &str = "ratelimit.name";
/// Attribute of `ratelimit.calls`: a [`RateLimitOutcome`].
pub const OUTCOME: &str = "ratelimit.outcome";

string_enum! {
    /// What a rate limiter decided for one call.
    "rate limit outcome", RateLimitOutcome {
        Allowed => "allowed",
        Rejected => "rejected",
        /// Over the limit, but the limiter is observe-only: the call went through.
        WouldReject => "would_reject",
    }
}
