//! The aggregate flow of a saga name over a time range: per step, how many
//! instances passed it, failed at it and were compensated, and how long it
//! took at p50 and p95.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use switchyard_store::derived::{Compensation, StepResult, buckets};
use switchyard_store::{Reader, StepBucketCount};

use crate::model::{Result, TimeRange};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AggregateFlow {
    pub saga_name: String,
    pub range: TimeRange,
    /// Instances that started in the range.
    pub instances: i64,
    /// Instances by outcome (`completed`, `compensated`, ...).
    pub outcomes: BTreeMap<String, i64>,
    /// Steps by index (participants by name, after them).
    pub steps: Vec<AggregateStep>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AggregateStep {
    pub name: String,
    pub index: Option<i64>,
    /// Instances that ran the step forward at all.
    pub reached: i64,
    pub passed: i64,
    /// Instances whose last attempt at this step failed.
    pub failed: i64,
    /// Instances where this step was undone...
    pub compensated: i64,
    /// ...or where undoing it failed.
    pub compensation_failed: i64,
    /// Forward duration (first attempt's start to last attempt's end, so
    /// retries count), over the instances that reached the step; within 3.2 %.
    pub p50_ns: Option<i64>,
    pub p95_ns: Option<i64>,
}

/// The aggregate flow of `saga_name` over instances that started in `range`.
pub async fn aggregate_flow(
    reader: &Reader,
    saga_name: &str,
    range: TimeRange,
) -> Result<AggregateFlow> {
    let counts = reader
        .saga_step_buckets(saga_name, range.since_unix_nano, range.until_unix_nano)
        .await?;
    let outcomes: BTreeMap<String, i64> = reader
        .saga_outcome_counts(saga_name, range.since_unix_nano, range.until_unix_nano)
        .await?
        .into_iter()
        .collect();
    Ok(AggregateFlow {
        saga_name: saga_name.to_owned(),
        range,
        instances: outcomes.values().sum(),
        outcomes,
        steps: steps(&counts),
    })
}

/// Folds bucket counts into steps.
fn steps(counts: &[StepBucketCount]) -> Vec<AggregateStep> {
    let mut by_name: BTreeMap<&str, (AggregateStep, BTreeMap<i64, i64>)> = BTreeMap::new();
    for c in counts {
        let (step, durations) = by_name.entry(&c.step_name).or_insert_with(|| {
            (
                AggregateStep {
                    name: c.step_name.clone(),
                    index: c.step_index,
                    reached: 0,
                    passed: 0,
                    failed: 0,
                    compensated: 0,
                    compensation_failed: 0,
                    p50_ns: None,
                    p95_ns: None,
                },
                BTreeMap::new(),
            )
        });
        step.index = step.index.or(c.step_index);
        match StepResult::from_stored(c.result) {
            StepResult::Passed => step.passed += c.count,
            StepResult::Failed => step.failed += c.count,
            StepResult::Unfinished => {}
        }
        match Compensation::from_stored(c.compensation) {
            Compensation::Done => step.compensated += c.count,
            Compensation::Failed => step.compensation_failed += c.count,
            Compensation::None => {}
        }
        if StepResult::from_stored(c.result) != StepResult::Unfinished {
            step.reached += c.count;
            *durations.entry(c.duration_bucket).or_default() += c.count;
        }
    }
    let mut steps: Vec<AggregateStep> = by_name
        .into_values()
        .map(|(mut step, durations)| {
            step.p50_ns = percentile(&durations, 0.50);
            step.p95_ns = percentile(&durations, 0.95);
            step
        })
        .collect();
    steps.sort_by(|a, b| {
        (a.index.unwrap_or(i64::MAX), &a.name).cmp(&(b.index.unwrap_or(i64::MAX), &b.name))
    });
    steps
}

/// The `q` quantile (nearest rank) of durations given as bucket counts.
fn percentile(buckets_counts: &BTreeMap<i64, i64>, q: f64) -> Option<i64> {
    let total: i64 = buckets_counts.values().sum();
    if total == 0 {
        return None;
    }
    let rank = ((q * total as f64).ceil() as i64).clamp(1, total);
    let mut seen = 0;
    for (bucket, count) in buckets_counts {
        seen += count;
        if seen >= rank {
            return Some(buckets::representative(*bucket));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(
        step: &str,
        index: i64,
        result: i64,
        compensation: i64,
        nanos: i64,
        n: i64,
    ) -> StepBucketCount {
        StepBucketCount {
            step_index: Some(index),
            step_name: step.into(),
            result,
            compensation,
            duration_bucket: buckets::bucket(nanos),
            count: n,
        }
    }

    #[test]
    fn steps_count_instances_and_take_percentiles_from_buckets() {
        let steps = steps(&[
            count("charge", 1, 0, 0, 2_000_000, 90),
            count("charge", 1, 1, 0, 9_000_000, 10),
            count("reserve", 0, 0, 1, 1_000_000, 10),
            count("reserve", 0, 0, 0, 1_000_000, 90),
        ]);
        assert_eq!(steps[0].name, "reserve", "in index order");
        assert_eq!(
            (steps[0].reached, steps[0].passed, steps[0].compensated),
            (100, 100, 10)
        );
        let charge = &steps[1];
        assert_eq!((charge.passed, charge.failed), (90, 10));
        let near = |got: Option<i64>, want: i64| (got.unwrap() - want).abs() <= want / 30;
        assert!(near(charge.p50_ns, 2_000_000), "{:?}", charge.p50_ns);
        assert!(near(charge.p95_ns, 9_000_000), "{:?}", charge.p95_ns);
    }

    #[test]
    fn no_durations_no_percentiles() {
        assert_eq!(percentile(&BTreeMap::new(), 0.5), None);
    }
}
