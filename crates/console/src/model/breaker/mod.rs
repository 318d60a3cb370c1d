//! Circuit breakers over time, from the stored `breaker.state`,
//! `breaker.calls` and `breaker.failure_rate` metrics and the derived table of
//! `breaker.transition` events.

mod board;
mod calls;
mod history;
mod state_at;

use serde::{Deserialize, Serialize};
use switchyard_conventions::breaker::BreakerState;
use switchyard_store::TransitionRecord;

pub use board::{BreakerSummary, board};
pub use calls::CallCounts;
pub use history::{BreakerHistory, CallInterval, HistoryQuery, RatePoint, StateSpan, history};
pub use state_at::{StateAt, state_at, state_for_span};

/// One stored state change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    pub time_unix_nano: i64,
    pub service: String,
    pub from: Option<String>,
    pub to: String,
    pub reason: Option<String>,
    /// Happened underneath observe-only mode: nothing was enforced.
    pub dry_run: bool,
    /// The span it was recorded on, when it came as a span event.
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
}

impl From<TransitionRecord> for Transition {
    fn from(t: TransitionRecord) -> Self {
        Transition {
            time_unix_nano: t.time,
            service: t.service_name,
            from: t.from_state,
            to: t.to_state,
            reason: t.reason,
            dry_run: t.dry_run,
            trace_id: t.trace_id.map(const_hex::encode),
            span_id: t.span_id.map(const_hex::encode),
        }
    }
}

/// The state name for a `breaker.state` gauge value.
pub(crate) fn state_name(code: f64) -> String {
    BreakerState::from_code(code as i64)
        .map_or_else(|| format!("unknown({code})"), |s| s.as_str().to_owned())
}

/// Whether a state (by name) rejects calls.
pub(crate) fn rejects(state: &str) -> bool {
    state
        .parse::<BreakerState>()
        .is_ok_and(BreakerState::rejects)
}
