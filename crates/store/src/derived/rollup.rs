//! Hourly rollups of saga instances and step results: the changes one
//! recomputation makes to the counts (old rows out, new rows in).

use std::collections::HashMap;

/// Rollup granularity: one hour, in nanoseconds.
pub const HOUR_NANOS: i64 = 3_600_000_000_000;

/// The rollup hour of an instance start time.
pub fn hour_of(start_time: i64) -> i64 {
    start_time.div_euclid(HOUR_NANOS)
}

/// Key of a `saga_step_stats` row (the step index rides along).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct StepKey {
    pub(crate) saga_name: String,
    pub(crate) hour: i64,
    pub(crate) step_name: String,
    pub(crate) result: i64,
    pub(crate) compensation: i64,
    pub(crate) duration_bucket: i64,
}

/// Key of a `saga_outcome_stats` row.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct OutcomeKey {
    pub(crate) saga_name: String,
    pub(crate) hour: i64,
    pub(crate) outcome: String,
}

/// Count changes to apply; entries that cancel out are dropped.
#[derive(Debug, Default)]
pub(crate) struct Deltas {
    pub(crate) steps: HashMap<StepKey, (Option<i64>, i64)>,
    pub(crate) outcomes: HashMap<OutcomeKey, i64>,
}

impl Deltas {
    pub(crate) fn step(&mut self, key: StepKey, step_index: Option<i64>, delta: i64) {
        let entry = self.steps.entry(key).or_insert((step_index, 0));
        entry.0 = entry.0.or(step_index);
        entry.1 += delta;
    }

    pub(crate) fn outcome(&mut self, key: OutcomeKey, delta: i64) {
        *self.outcomes.entry(key).or_insert(0) += delta;
    }

    pub(crate) fn without_zeroes(mut self) -> Self {
        self.steps.retain(|_, (_, d)| *d != 0);
        self.outcomes.retain(|_, d| *d != 0);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_round_down_also_before_1970() {
        assert_eq!(hour_of(0), 0);
        assert_eq!(hour_of(HOUR_NANOS - 1), 0);
        assert_eq!(hour_of(HOUR_NANOS), 1);
        assert_eq!(hour_of(-1), -1);
    }

    #[test]
    fn a_recomputation_that_changes_nothing_has_no_deltas() {
        let key = OutcomeKey {
            saga_name: "checkout".into(),
            hour: 5,
            outcome: "completed".into(),
        };
        let mut d = Deltas::default();
        d.outcome(key.clone(), -1);
        d.outcome(key, 1);
        assert!(d.without_zeroes().outcomes.is_empty());
    }
}
