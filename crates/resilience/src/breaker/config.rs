//! A breaker's policy: its window, thresholds and timings.

use std::time::Duration;

use crate::error::{Error, Result};

/// Which calls the failure and slow-call rates are computed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlidingWindow {
    /// The last `calls` calls.
    Count {
        /// How many calls the window holds.
        calls: u32,
    },
    /// The calls of the last `length`, kept in `buckets` buckets of `length / buckets`
    /// each; a whole bucket leaves the window at once.
    Time {
        /// How far back the window reaches.
        length: Duration,
        /// How many buckets it is split into.
        buckets: u32,
    },
}

/// When an open breaker moves to half-open once its wait is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HalfOpenTransition {
    /// At the end of the wait, by itself (a tokio timer; without a tokio runtime or
    /// with a non-tokio clock, on the next call or snapshot).
    Automatic,
    /// On the first call after the wait; that call becomes the first probe.
    OnNextCall,
}

/// Growth of the open-state wait on repeated failed probes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OpenBackoff {
    /// Each failed round of probes multiplies the wait by this (at least 1).
    pub multiplier: f64,
    /// The wait never grows beyond this.
    pub max_wait: Duration,
}

/// A circuit breaker's configuration. Build it from [`BreakerConfig::default`] with
/// the setters; [`Breaker::builder`](super::Breaker::builder) validates it.
///
/// Defaults: a count window of 100 calls, failure rate threshold 50%, at least 20
/// calls before the rate counts, no slow-call detection, 30 s open, 5 probes in
/// half-open with no limit on how long they take, automatic half-open.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerConfig {
    pub(crate) window: SlidingWindow,
    pub(crate) failure_rate_threshold: f64,
    pub(crate) slow_call_rate_threshold: f64,
    pub(crate) slow_call_duration: Option<Duration>,
    pub(crate) minimum_calls: u32,
    pub(crate) wait_in_open: Duration,
    pub(crate) open_backoff: Option<OpenBackoff>,
    pub(crate) half_open_transition: HalfOpenTransition,
    pub(crate) permitted_probes: u32,
    pub(crate) max_wait_in_half_open: Option<Duration>,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            window: SlidingWindow::Count { calls: 100 },
            failure_rate_threshold: 50.0,
            slow_call_rate_threshold: 100.0,
            slow_call_duration: None,
            minimum_calls: 20,
            wait_in_open: Duration::from_secs(30),
            open_backoff: None,
            half_open_transition: HalfOpenTransition::Automatic,
            permitted_probes: 5,
            max_wait_in_half_open: None,
        }
    }
}

impl BreakerConfig {
    /// Rates over the last `calls` calls.
    pub fn count_window(mut self, calls: u32) -> Self {
        self.window = SlidingWindow::Count { calls };
        self
    }

    /// Rates over the last `length` of time, in `buckets` buckets.
    pub fn time_window(mut self, length: Duration, buckets: u32) -> Self {
        self.window = SlidingWindow::Time { length, buckets };
        self
    }

    /// Opens when at least this percentage of the window's calls failed (0 < p ≤ 100).
    pub fn failure_rate_threshold(mut self, percent: f64) -> Self {
        self.failure_rate_threshold = percent;
        self
    }

    /// Counts calls that take at least `duration` as slow, and opens when at least
    /// `percent` of the window's calls were slow.
    pub fn slow_calls(mut self, duration: Duration, percent: f64) -> Self {
        self.slow_call_duration = Some(duration);
        self.slow_call_rate_threshold = percent;
        self
    }

    /// The rates count only once the window holds this many calls. For a count window
    /// a minimum above its size is taken as its size.
    pub fn minimum_calls(mut self, calls: u32) -> Self {
        self.minimum_calls = calls;
        self
    }

    /// How long the breaker stays open before probing.
    pub fn wait_in_open(mut self, wait: Duration) -> Self {
        self.wait_in_open = wait;
        self
    }

    /// Multiplies the open wait by `multiplier` after each failed round of probes,
    /// up to `max_wait`; a successful round resets it.
    pub fn open_backoff(mut self, multiplier: f64, max_wait: Duration) -> Self {
        self.open_backoff = Some(OpenBackoff {
            multiplier,
            max_wait,
        });
        self
    }

    /// When open moves to half-open.
    pub fn half_open_transition(mut self, transition: HalfOpenTransition) -> Self {
        self.half_open_transition = transition;
        self
    }

    /// How many probe calls half-open lets through; their outcome closes or re-opens
    /// the breaker. Callers beyond them are rejected, not queued.
    pub fn permitted_probes(mut self, probes: u32) -> Self {
        self.permitted_probes = probes;
        self
    }

    /// Re-opens if the probes have not decided within `wait` of entering half-open.
    pub fn max_wait_in_half_open(mut self, wait: Duration) -> Self {
        self.max_wait_in_half_open = Some(wait);
        self
    }

    /// The sliding window.
    pub fn window(&self) -> SlidingWindow {
        self.window
    }

    /// The open-state wait after `failed_rounds` consecutive failed rounds of probes.
    pub fn open_wait(&self, failed_rounds: u32) -> Duration {
        match self.open_backoff {
            None => self.wait_in_open,
            Some(backoff) => {
                let factor = backoff
                    .multiplier
                    .powi(i32::try_from(failed_rounds).unwrap_or(i32::MAX));
                let secs = self.wait_in_open.as_secs_f64() * factor;
                if !secs.is_finite() || secs >= backoff.max_wait.as_secs_f64() {
                    backoff.max_wait
                } else {
                    Duration::from_secs_f64(secs)
                }
            }
        }
    }

    /// The minimum number of calls, capped at a count window's size.
    pub(crate) fn effective_minimum_calls(&self) -> u64 {
        let min = u64::from(self.minimum_calls);
        match self.window {
            SlidingWindow::Count { calls } => min.min(u64::from(calls)),
            SlidingWindow::Time { .. } => min,
        }
    }

    /// Checks every value; a breaker is only built from a valid configuration.
    pub fn validate(&self) -> Result<()> {
        let bad = |reason: String| Err(Error::config("breaker", reason));
        match self.window {
            SlidingWindow::Count { calls: 0 } => {
                return bad("a count window needs at least 1 call".into());
            }
            SlidingWindow::Time { buckets: 0, .. } => {
                return bad("a time window needs at least 1 bucket".into());
            }
            SlidingWindow::Time { length, buckets }
                if length / buckets < Duration::from_millis(1) =>
            {
                return bad(format!(
                    "time window buckets of {:?} are shorter than 1 ms",
                    length / buckets
                ));
            }
            _ => {}
        }
        let percent = |p: f64| p > 0.0 && p <= 100.0;
        if !percent(self.failure_rate_threshold) {
            return bad(format!(
                "failure rate threshold {} is not in (0, 100]",
                self.failure_rate_threshold
            ));
        }
        if !percent(self.slow_call_rate_threshold) {
            return bad(format!(
                "slow-call rate threshold {} is not in (0, 100]",
                self.slow_call_rate_threshold
            ));
        }
        if self.minimum_calls == 0 {
            return bad("minimum calls must be at least 1".into());
        }
        if self.permitted_probes == 0 {
            return bad("half-open needs at least 1 permitted probe".into());
        }
        // A zero wait would let a breaker bounce between open and half-open without time passing.
        if self.wait_in_open < Duration::from_millis(1) {
            return bad("the open wait must be at least 1 ms".into());
        }
        if matches!(self.max_wait_in_half_open, Some(w) if w < Duration::from_millis(1)) {
            return bad("the maximum wait in half-open must be at least 1 ms".into());
        }
        if let Some(backoff) = self.open_backoff {
            if !(backoff.multiplier >= 1.0 && backoff.multiplier.is_finite()) {
                return bad(format!(
                    "open backoff multiplier {} must be finite and at least 1",
                    backoff.multiplier
                ));
            }
            if backoff.max_wait < self.wait_in_open {
                return bad("open backoff max wait is shorter than the open wait".into());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid() {
        BreakerConfig::default().validate().unwrap();
    }

    #[test]
    fn bad_values_are_named() {
        let err = BreakerConfig::default()
            .failure_rate_threshold(0.0)
            .validate()
            .unwrap_err();
        assert!(
            err.to_string().contains("failure rate threshold 0"),
            "{err}"
        );
        assert!(BreakerConfig::default().count_window(0).validate().is_err());
        assert!(
            BreakerConfig::default()
                .permitted_probes(0)
                .validate()
                .is_err()
        );
        assert!(
            BreakerConfig::default()
                .time_window(Duration::from_millis(5), 10)
                .validate()
                .is_err()
        );
        assert!(
            BreakerConfig::default()
                .open_backoff(0.5, Duration::from_secs(60))
                .validate()
                .is_err()
        );
    }

    #[test]
    fn open_wait_grows_and_caps() {
        let config = BreakerConfig::default()
            .wait_in_open(Duration::from_secs(1))
            .open_backoff(2.0, Duration::from_secs(5));
        let waits: Vec<_> = (0..5).map(|r| config.open_wait(r).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 5, 5]);
        assert_eq!(config.open_wait(10_000), Duration::from_secs(5));
        assert_eq!(
            BreakerConfig::default().open_wait(3),
            Duration::from_secs(30)
        );
    }

    #[test]
    fn minimum_is_capped_by_a_count_window() {
        assert_eq!(
            BreakerConfig::default()
                .count_window(10)
                .minimum_calls(50)
                .effective_minimum_calls(),
            10
        );
        let timed = BreakerConfig::default()
            .time_window(Duration::from_secs(10), 10)
            .minimum_calls(50);
        assert_eq!(timed.effective_minimum_calls(), 50);
    }
}
