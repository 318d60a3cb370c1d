//! A breaker's state at one moment, and the calls it handled around it: why a
//! span that crossed the breaker was (or was not) short-circuited.

use serde::{Deserialize, Serialize};
use switchyard_conventions::breaker as names;
use switchyard_store::{BreakerKey, Reader, parse_trace_id};

use super::calls::{CallCounts, increments};
use super::history::BASELINE_LOOKBACK_NS;
use super::{rejects, state_name};
use crate::model::{ModelError, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateAt {
    pub breaker: String,
    pub service: Option<String>,
    pub at_unix_nano: i64,
    /// `None` when nothing about the breaker was stored before that moment.
    pub state: Option<String>,
    /// Whether calls were being rejected in that state.
    pub rejecting: bool,
    /// When that state was last reported (a transition's time, or a
    /// `breaker.state` point's).
    pub reported_unix_nano: Option<i64>,
    /// Why it entered the state, when a transition said.
    pub reason: Option<String>,
    /// Calls reported in `[at - window, at + window]`.
    pub window_ns: i64,
    pub calls_around: CallCounts,
}

/// The state of `breaker` at `at_unix_nano` and the calls within `window_ns`
/// either side.
pub async fn state_at(
    reader: &Reader,
    breaker: BreakerKey<'_>,
    at_unix_nano: i64,
    window_ns: i64,
) -> Result<StateAt> {
    if window_ns < 0 {
        return Err(ModelError::InvalidQuery(
            "the window must not be negative".into(),
        ));
    }
    // Evidence up to and including `at`.
    let upto = at_unix_nano.saturating_add(1);
    let transition = reader.breaker_transition_before(breaker, upto).await?;
    let gauge = reader
        .breaker_point_before(names::STATE_METRIC, breaker, upto)
        .await?;
    let (state, reported, reason) = match (transition, gauge) {
        // A later gauge point only overrides a transition it disagrees with
        // (a change no transition was recorded for).
        (Some(t), Some(g)) if g.time > t.time && state_name(g.value) != t.to_state => {
            (Some(state_name(g.value)), Some(g.time), None)
        }
        (Some(t), _) => (Some(t.to_state), Some(t.time), t.reason),
        (None, Some(g)) => (Some(state_name(g.value)), Some(g.time), None),
        (None, None) => (None, None, None),
    };

    let since = at_unix_nano.saturating_sub(window_ns);
    let until = at_unix_nano.saturating_add(window_ns).saturating_add(1);
    let points = reader
        .breaker_points(
            names::CALLS_METRIC,
            breaker,
            since.saturating_sub(BASELINE_LOOKBACK_NS),
            until,
        )
        .await?;
    let mut calls_around = CallCounts::default();
    for inc in increments(&points, since) {
        calls_around.add(inc.outcome.as_deref(), inc.count);
    }
    Ok(StateAt {
        breaker: breaker.name.to_owned(),
        service: breaker.service.map(str::to_owned),
        at_unix_nano,
        rejecting: state.as_deref().is_some_and(rejects),
        state,
        reported_unix_nano: reported,
        reason,
        window_ns,
        calls_around,
    })
}

/// The state of `breaker` when span `span_id` of trace `trace_id` (hex)
/// started.
pub async fn state_for_span(
    reader: &Reader,
    trace_id: &str,
    span_id: &str,
    breaker: BreakerKey<'_>,
    window_ns: i64,
) -> Result<StateAt> {
    let trace = reader
        .trace(&parse_trace_id(trace_id)?)
        .await?
        .ok_or_else(|| ModelError::NotFound(format!("no trace {trace_id} is stored")))?;
    let span = trace
        .spans
        .iter()
        .find(|s| s.span_id.eq_ignore_ascii_case(span_id.trim()))
        .ok_or_else(|| ModelError::NotFound(format!("trace {trace_id} has no span {span_id}")))?;
    state_at(reader, breaker, span.start_unix_nano, window_ns).await
}
