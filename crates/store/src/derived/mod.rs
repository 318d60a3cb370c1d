//! Derived tables: saga instances and breaker transitions, kept up to date at
//! ingest so the console's views read small tables.
//!
//! - [`SagaSpanRow`]s and [`TransitionRow`]s are picked out of a request while
//!   it is turned into rows (on the receiver's task, like the rest of a batch).
//! - The writer stores them in the same transaction as the telemetry and
//!   recomputes the summary of every saga instance they touch
//!   ([`summary::summarize`]), so rows converge whatever order spans arrive in.

mod attrs;
pub mod buckets;
pub(crate) mod retention;
pub mod rollup;
mod saga;
mod summary;
mod transition;
pub(crate) mod write;

pub(crate) use saga::saga_span;
pub use saga::{SagaSpanKind, SagaSpanRow};
pub use summary::{Compensation, StepResult, UNKNOWN_OUTCOME};
pub(crate) use transition::{TransitionRow, from_event, from_log};

/// What a batch contributes to the derived tables.
#[derive(Debug, Default)]
pub(crate) struct Derived {
    pub(crate) saga_spans: Vec<SagaSpanRow>,
    pub(crate) transitions: Vec<TransitionRow>,
}

impl Derived {
    pub(crate) fn append(&mut self, other: &mut Derived) {
        self.saga_spans.append(&mut other.saga_spans);
        self.transitions.append(&mut other.transitions);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.saga_spans.is_empty() && self.transitions.is_empty()
    }
}
