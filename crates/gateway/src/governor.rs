//! The migration governor: walks a split's ramp schedule, advancing only while the new
//! side stays within its error and difference budgets, and rolls back to legacy when
//! the new side's breaker opens. Pure: the caller feeds it counters and the clock.

use std::time::Duration;

use crate::config::{GovernorConfig, RampStep};

/// Cumulative counts of one split route that the governor judges by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SideCounts {
    /// Requests answered by the new side.
    pub new_requests: u64,
    /// Of those, failures (5xx, no instance, timeouts).
    pub new_errors: u64,
    /// Requests shadowed.
    pub shadowed: u64,
    /// Shadowed requests whose two answers differed.
    pub differing: u64,
}

impl SideCounts {
    fn since(self, base: SideCounts) -> SideCounts {
        SideCounts {
            new_requests: self.new_requests.saturating_sub(base.new_requests),
            new_errors: self.new_errors.saturating_sub(base.new_errors),
            shadowed: self.shadowed.saturating_sub(base.shadowed),
            differing: self.differing.saturating_sub(base.differing),
        }
    }
}

/// What to do with the weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Leave it.
    Hold,
    /// Move to this weight (the next ramp step).
    Advance(u8),
    /// The new side's breaker opened: everything back to legacy, ramp stopped.
    Rollback,
}

/// One route's governor.
#[derive(Debug, Clone)]
pub struct Governor {
    ramp: Vec<RampStep>,
    budget: Option<GovernorConfig>,
    next_step: usize,
    baseline: SideCounts,
    rolled_back: bool,
}

impl Governor {
    /// A governor over `ramp` (sorted by time here), gated by `budget` when given.
    pub fn new(mut ramp: Vec<RampStep>, budget: Option<GovernorConfig>) -> Self {
        ramp.sort_by_key(|step| step.after);
        Governor {
            ramp,
            budget,
            next_step: 0,
            baseline: SideCounts::default(),
            rolled_back: false,
        }
    }

    /// Whether a budget gates the ramp (else it follows the clock alone).
    pub fn gated(&self) -> bool {
        self.budget.is_some()
    }

    /// Whether it has rolled back (it then holds until rebuilt).
    pub fn rolled_back(&self) -> bool {
        self.rolled_back
    }

    /// Decides at `elapsed` since the ramp started, with the counts so far, whether
    /// any of the new side's breakers is open, and the weight in force.
    pub fn tick(
        &mut self,
        elapsed: Duration,
        counts: SideCounts,
        new_breaker_open: bool,
        weight: u8,
    ) -> Decision {
        if self.rolled_back {
            return Decision::Hold;
        }
        if new_breaker_open && weight > 0 {
            self.rolled_back = true;
            return Decision::Rollback;
        }
        let Some(step) = self.ramp.get(self.next_step) else {
            return Decision::Hold;
        };
        if step.after > elapsed {
            return Decision::Hold;
        }
        if let Some(budget) = &self.budget
            && !within_budget(budget, counts.since(self.baseline))
        {
            return Decision::Hold;
        }
        let to = step.weight;
        self.next_step += 1;
        self.baseline = counts;
        Decision::Advance(to)
    }
}

fn within_budget(budget: &GovernorConfig, window: SideCounts) -> bool {
    if window.new_requests < budget.min_requests {
        return false;
    }
    let rate = |part: u64, whole: u64| {
        if whole == 0 {
            0.0
        } else {
            part as f64 * 100.0 / whole as f64
        }
    };
    rate(window.new_errors, window.new_requests) <= budget.max_error_rate
        && rate(window.differing, window.shadowed) <= budget.max_diff_rate
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(secs: u64, weight: u8) -> RampStep {
        RampStep {
            after: Duration::from_secs(secs),
            weight,
        }
    }

    fn budget() -> GovernorConfig {
        GovernorConfig {
            max_error_rate: 5.0,
            max_diff_rate: 10.0,
            min_requests: 10,
            interval: Duration::from_secs(1),
        }
    }

    fn counts(new_requests: u64, new_errors: u64) -> SideCounts {
        SideCounts {
            new_requests,
            new_errors,
            ..SideCounts::default()
        }
    }

    #[test]
    fn a_plain_ramp_follows_the_clock() {
        let mut g = Governor::new(vec![step(20, 50), step(10, 10)], None);
        let zero = SideCounts::default();
        assert_eq!(
            g.tick(Duration::from_secs(5), zero, false, 0),
            Decision::Hold
        );
        assert_eq!(
            g.tick(Duration::from_secs(10), zero, false, 0),
            Decision::Advance(10)
        );
        assert_eq!(
            g.tick(Duration::from_secs(15), zero, false, 10),
            Decision::Hold
        );
        assert_eq!(
            g.tick(Duration::from_secs(21), zero, false, 10),
            Decision::Advance(50)
        );
        assert_eq!(
            g.tick(Duration::from_secs(99), zero, false, 50),
            Decision::Hold
        );
    }

    #[test]
    fn the_budget_gates_each_step() {
        let mut g = Governor::new(vec![step(0, 10), step(0, 20)], Some(budget()));
        // Too few requests yet.
        assert_eq!(
            g.tick(Duration::ZERO, counts(5, 0), false, 0),
            Decision::Hold
        );
        assert_eq!(
            g.tick(Duration::ZERO, counts(10, 0), false, 0),
            Decision::Advance(10)
        );
        // 2 errors in the 10 requests since the last step: 20% is over budget.
        assert_eq!(
            g.tick(Duration::ZERO, counts(20, 2), false, 10),
            Decision::Hold
        );
        // Counted since the last step: 30 requests, 2 errors, under 10%... still over 5%.
        assert_eq!(
            g.tick(Duration::ZERO, counts(40, 2), false, 10),
            Decision::Hold
        );
        assert_eq!(
            g.tick(Duration::ZERO, counts(60, 2), false, 10),
            Decision::Advance(20)
        );
    }

    #[test]
    fn differences_over_budget_hold_the_ramp() {
        let mut g = Governor::new(vec![step(0, 10)], Some(budget()));
        let diffy = SideCounts {
            new_requests: 50,
            new_errors: 0,
            shadowed: 10,
            differing: 5,
        };
        assert_eq!(g.tick(Duration::ZERO, diffy, false, 0), Decision::Hold);
    }

    #[test]
    fn an_open_breaker_rolls_back_once_and_stops_the_ramp() {
        let mut g = Governor::new(vec![step(0, 100)], None);
        let zero = SideCounts::default();
        assert_eq!(g.tick(Duration::ZERO, zero, true, 30), Decision::Rollback);
        assert!(g.rolled_back());
        assert_eq!(
            g.tick(Duration::from_secs(9), zero, false, 0),
            Decision::Hold
        );
    }
}
