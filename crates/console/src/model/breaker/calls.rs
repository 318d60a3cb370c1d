//! Calls through a breaker from the `breaker.calls` counter: per-point
//! increments of cumulative (or delta) series, with counter restarts handled.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use switchyard_conventions::breaker::CallOutcome;
use switchyard_store::BreakerPointRecord;

/// OTLP aggregation temporality DELTA.
const DELTA: i64 = 1;

/// Calls by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallCounts {
    pub success: i64,
    pub failure: i64,
    pub slow: i64,
    pub rejected: i64,
}

impl CallCounts {
    pub(crate) fn add(&mut self, outcome: Option<&str>, n: i64) {
        match outcome.and_then(|o| o.parse::<CallOutcome>().ok()) {
            Some(CallOutcome::Success) => self.success += n,
            Some(CallOutcome::Failure) => self.failure += n,
            Some(CallOutcome::Slow) => self.slow += n,
            Some(CallOutcome::Rejected) => self.rejected += n,
            None => {}
        }
    }

    pub fn total(&self) -> i64 {
        self.success + self.failure + self.slow + self.rejected
    }
}

/// One increment: at `time`, `count` more calls ended with `outcome`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Increment {
    pub(crate) time: i64,
    pub(crate) outcome: Option<String>,
    pub(crate) count: i64,
}

/// The increments within `[since, ..)` of points sorted by time. Points
/// before `since` only serve as each series' baseline. A cumulative series
/// whose start time changes, or whose value drops, restarted from zero: its
/// new value is all increment. A series' first point with no baseline counts
/// whole only when the series started inside the range.
pub(crate) fn increments(points: &[BreakerPointRecord], since: i64) -> Vec<Increment> {
    let mut last: HashMap<(&str, Option<&str>), &BreakerPointRecord> = HashMap::new();
    let mut out = Vec::new();
    for p in points {
        let key = (p.service_name.as_str(), p.outcome.as_deref());
        let previous = last.insert(key, p);
        if p.time < since {
            continue;
        }
        let count = if p.temporality == DELTA {
            p.value
        } else {
            match previous {
                Some(prev) if prev.start_time == p.start_time && p.value >= prev.value => {
                    p.value - prev.value
                }
                Some(_) => p.value,
                None if p.start_time >= since => p.value,
                None => 0.0,
            }
        };
        if count > 0.0 {
            out.push(Increment {
                time: p.time,
                outcome: p.outcome.clone(),
                count: count.round() as i64,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(time: i64, start: i64, outcome: &str, value: f64) -> BreakerPointRecord {
        BreakerPointRecord {
            service_name: "shop".into(),
            time,
            start_time: start,
            value,
            outcome: Some(outcome.into()),
            temporality: 2,
        }
    }

    #[test]
    fn cumulative_points_become_increments_across_a_restart() {
        let points = [
            point(5, 0, "success", 10.0),  // baseline, before the range
            point(15, 0, "success", 14.0), // +4
            point(15, 0, "rejected", 3.0), // no baseline, started before: baseline only
            point(25, 0, "rejected", 5.0), // +2
            point(25, 20, "success", 1.0), // restarted (new start time): +1
            point(35, 20, "success", 0.0), // value dropped without a new start: +0
        ];
        let got: Vec<(i64, i64)> = increments(&points, 10)
            .iter()
            .map(|i| (i.time, i.count))
            .collect();
        assert_eq!(got, [(15, 4), (25, 2), (25, 1)]);
    }

    #[test]
    fn a_series_that_starts_in_the_range_counts_whole() {
        let got = increments(&[point(15, 12, "failure", 3.0)], 10);
        assert_eq!(got[0].count, 3);
    }
}
