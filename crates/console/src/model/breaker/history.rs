//! A breaker's history over a time range: its states, transitions, calls per
//! interval and failure rate.

use serde::{Deserialize, Serialize};
use switchyard_conventions::breaker as names;
use switchyard_store::{BreakerKey, Reader};

use super::calls::{CallCounts, increments};
use super::{Transition, state_name};
use crate::model::{ModelError, Result, TimeRange};

/// How far before the range to look for each counter's last value, the
/// baseline of its first increment in the range (metric exports come every
/// few seconds to a minute).
pub(crate) const BASELINE_LOOKBACK_NS: i64 = 5 * 60 * 1_000_000_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryQuery {
    pub breaker: String,
    /// Only this service's breaker of that name (all of them when `None`).
    pub service: Option<String>,
    pub range: TimeRange,
    /// Width of the call-outcome intervals.
    pub interval_ns: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BreakerHistory {
    pub breaker: String,
    pub service: Option<String>,
    pub range: TimeRange,
    /// Consecutive states covering the range from the first thing known.
    pub states: Vec<StateSpan>,
    pub transitions: Vec<Transition>,
    pub interval_ns: i64,
    /// Calls per interval, every interval of the range (empty ones included).
    pub calls: Vec<CallInterval>,
    pub failure_rate: Vec<RatePoint>,
}

/// The breaker was in `state` over `[since, until)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateSpan {
    pub state: String,
    pub since_unix_nano: i64,
    pub until_unix_nano: i64,
    /// Why it entered the state, when a transition said.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallInterval {
    pub start_unix_nano: i64,
    #[serde(flatten)]
    pub calls: CallCounts,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RatePoint {
    pub time_unix_nano: i64,
    pub service: String,
    pub percent: f64,
}

/// A piece of evidence of the state at a time: a transition or a gauge point.
struct Seen {
    time: i64,
    state: String,
    reason: Option<String>,
}

pub async fn history(reader: &Reader, query: &HistoryQuery) -> Result<BreakerHistory> {
    let range = TimeRange::new(query.range.since_unix_nano, query.range.until_unix_nano)?;
    if query.interval_ns <= 0 {
        return Err(ModelError::InvalidQuery(
            "the interval must be positive".into(),
        ));
    }
    let width = range.until_unix_nano.saturating_sub(range.since_unix_nano);
    let intervals = width / query.interval_ns + i64::from(width % query.interval_ns != 0);
    if intervals > 100_000 {
        return Err(ModelError::InvalidQuery(format!(
            "{intervals} intervals is too many; use a wider interval"
        )));
    }
    let key = BreakerKey {
        name: &query.breaker,
        service: query.service.as_deref(),
    };
    let (since, until) = (range.since_unix_nano, range.until_unix_nano);

    let transitions = reader.breaker_transitions(key, since, until).await?;
    let gauge = reader
        .breaker_points(names::STATE_METRIC, key, since, until)
        .await?;
    let mut seen: Vec<Seen> = Vec::new();
    // What held when the range began: the later of the last transition and
    // the last gauge point before it.
    let before_t = reader.breaker_transition_before(key, since).await?;
    let before_g = reader
        .breaker_point_before(names::STATE_METRIC, key, since)
        .await?;
    let initial = match (before_t, before_g) {
        (Some(t), Some(g)) if g.time > t.time && state_name(g.value) != t.to_state => {
            Some((state_name(g.value), None))
        }
        (Some(t), _) => Some((t.to_state, t.reason)),
        (None, Some(g)) => Some((state_name(g.value), None)),
        (None, None) => None,
    };
    if let Some((state, reason)) = initial {
        seen.push(Seen {
            time: since,
            state,
            reason,
        });
    }
    seen.extend(transitions.iter().map(|t| Seen {
        time: t.time,
        state: t.to_state.clone(),
        reason: t.reason.clone(),
    }));
    seen.extend(gauge.iter().map(|g| Seen {
        time: g.time,
        state: state_name(g.value),
        reason: None,
    }));
    // Stable: at equal times the transition (with its reason) comes first.
    seen.sort_by_key(|s| s.time);
    let states = spans(&seen, until);

    let points = reader
        .breaker_points(
            names::CALLS_METRIC,
            key,
            since.saturating_sub(BASELINE_LOOKBACK_NS),
            until,
        )
        .await?;
    let mut calls: Vec<CallInterval> = (0..intervals)
        .map(|i| CallInterval {
            start_unix_nano: since + i * query.interval_ns,
            calls: CallCounts::default(),
        })
        .collect();
    for inc in increments(&points, since) {
        let i = ((inc.time - since) / query.interval_ns) as usize;
        calls[i].calls.add(inc.outcome.as_deref(), inc.count);
    }

    let failure_rate = reader
        .breaker_points(names::FAILURE_RATE_METRIC, key, since, until)
        .await?
        .into_iter()
        .map(|p| RatePoint {
            time_unix_nano: p.time,
            service: p.service_name,
            percent: p.value,
        })
        .collect();

    Ok(BreakerHistory {
        breaker: query.breaker.clone(),
        service: query.service.clone(),
        range,
        states,
        transitions: transitions.into_iter().map(Transition::from).collect(),
        interval_ns: query.interval_ns,
        calls,
        failure_rate,
    })
}

/// Evidence in time order to consecutive states: a new span starts whenever
/// the state changes. A gauge point that disagrees with the last transition
/// means a change no transition was recorded for; it starts at that point.
fn spans(seen: &[Seen], until: i64) -> Vec<StateSpan> {
    let mut out: Vec<StateSpan> = Vec::new();
    for s in seen {
        match out.last_mut() {
            Some(last) if last.state == s.state => {
                if last.reason.is_none() {
                    last.reason = s.reason.clone();
                }
            }
            _ => {
                if let Some(last) = out.last_mut() {
                    last.until_unix_nano = s.time;
                }
                out.push(StateSpan {
                    state: s.state.clone(),
                    since_unix_nano: s.time,
                    until_unix_nano: until,
                    reason: s.reason.clone(),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(time: i64, state: &str, reason: Option<&str>) -> Seen {
        Seen {
            time,
            state: state.into(),
            reason: reason.map(str::to_owned),
        }
    }

    #[test]
    fn evidence_becomes_consecutive_states() {
        let got = spans(
            &[
                seen(0, "closed", None),
                seen(10, "open", Some("threshold")),
                seen(12, "open", None),
                seen(40, "half_open", None),
                seen(45, "closed", Some("probe")),
            ],
            100,
        );
        let brief: Vec<(&str, i64, i64, Option<&str>)> = got
            .iter()
            .map(|s| {
                (
                    s.state.as_str(),
                    s.since_unix_nano,
                    s.until_unix_nano,
                    s.reason.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            brief,
            [
                ("closed", 0, 10, None),
                ("open", 10, 40, Some("threshold")),
                ("half_open", 40, 45, None),
                ("closed", 45, 100, Some("probe")),
            ]
        );
    }
}
