//! Observe-only (dry-run) mode of circuit breakers: what lets an operator see what a
//! breaker *would* have done before it is allowed to reject anything.
//!
//! (Rate limiters have the same mode; theirs shows as the `would_reject` outcome of
//! `ratelimit.calls`.)

/// Counter: calls that an observe-only breaker let through but would have rejected.
/// Attribute `breaker.name`. Kept apart from `breaker.calls{breaker.outcome=rejected}`
/// so that a dry run never looks like an outage.
pub const BREAKER_WOULD_REJECT_METRIC: &str = "breaker.would_reject";

/// Boolean attribute of `breaker.transition`: `true` when the change happened in the
/// automatic state machine underneath observe-only mode (nothing was enforced).
pub const BREAKER_DRY_RUN: &str = "breaker.dry_run";
