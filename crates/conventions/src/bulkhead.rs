//! Bulkheads (concurrency limits): admissions and the calls in flight.

use crate::string_enum;

/// Counter: calls that reached a bulkhead, by [`BulkheadOutcome`] in [`OUTCOME`].
pub const CALLS_METRIC: &str = "bulkhead.calls";
/// Gauge: calls inside the bulkhead right now.
pub const IN_FLIGHT_METRIC: &str = "bulkhead.in_flight";

/// Attribute: the bulkhead's name, on every bulkhead metric.
pub const NAME: &str = "bulkhead.name";
/// Attribute of `bulkhead.calls`: a [`BulkheadOutcome`].
pub const OUTCOME: &str = "bulkhead.outcome";

string_enum! {
    /// What a bulkhead decided for one call.
    "bulkhead outcome", BulkheadOutcome {
        Admitted => "admitted",
        /// The bulkhead was full; the call was turned away, not queued.
        Rejected => "rejected",
    }
}
