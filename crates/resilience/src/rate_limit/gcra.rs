//! The generic cell rate algorithm: one number per key, the theoretical arrival time
//! (TAT) of the next call, and a call is allowed when that time is no further ahead
//! of now than the burst allows.

use std::time::Duration;

use crate::error::{Error, Result};

/// How many calls a key may make: `rate` per `per`, with bursts of up to `burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    rate: u32,
    per: Duration,
    burst: u32,
}

impl Quota {
    /// `rate` calls per second, in bursts of up to `rate`.
    pub fn per_second(rate: u32) -> Self {
        Self::new(rate, Duration::from_secs(1))
    }

    /// `rate` calls per `per`, in bursts of up to `rate`.
    pub fn new(rate: u32, per: Duration) -> Self {
        Quota {
            rate,
            per,
            burst: rate,
        }
    }

    /// Allows bursts of up to `burst` calls at once.
    pub fn burst(mut self, burst: u32) -> Self {
        self.burst = burst;
        self
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.rate == 0 || self.burst == 0 {
            return Err(Error::config(
                "rate limiter",
                "rate and burst must be at least 1",
            ));
        }
        if self.per.is_zero() {
            return Err(Error::config(
                "rate limiter",
                "the quota's period must be longer than zero",
            ));
        }
        Ok(())
    }

    pub(crate) fn gcra(&self) -> Gcra {
        let per = u64::try_from(self.per.as_nanos()).unwrap_or(u64::MAX);
        let interval = (per / u64::from(self.rate)).max(1);
        Gcra {
            interval,
            tolerance: interval.saturating_mul(u64::from(self.burst)),
        }
    }
}

/// The algorithm's two constants, in nanoseconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Gcra {
    /// Time between calls at the steady rate.
    interval: u64,
    /// How far ahead of now the TAT may run: `interval * burst`.
    tolerance: u64,
}

impl Gcra {
    /// Decides a call at `now` for a key whose TAT is `tat` (0 for a new key): the
    /// new TAT if allowed, else how long until it would be.
    pub(crate) fn check(&self, tat: u64, now: u64) -> Result<u64, u64> {
        let next = tat.max(now).saturating_add(self.interval);
        let ahead = next - now;
        if ahead <= self.tolerance {
            Ok(next)
        } else {
            Err(ahead - self.tolerance)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_steady_rate() {
        // 10 per second = one per 100 ms, bursts of 3.
        let gcra = Quota::per_second(10).burst(3).gcra();
        let ms = 1_000_000;
        let mut tat = 0;
        for _ in 0..3 {
            tat = gcra.check(tat, 0).unwrap();
        }
        assert_eq!(gcra.check(tat, 0), Err(100 * ms));
        assert_eq!(gcra.check(tat, 50 * ms), Err(50 * ms));
        tat = gcra.check(tat, 100 * ms).unwrap();
        assert!(gcra.check(tat, 100 * ms).is_err());
        // A quiet second later the whole burst is back.
        let mut later = tat;
        for _ in 0..3 {
            later = gcra.check(later, 1_100 * ms).unwrap();
        }
        assert!(gcra.check(later, 1_100 * ms).is_err());
    }

    #[test]
    fn invalid_quotas_are_refused() {
        assert!(Quota::per_second(0).validate().is_err());
        assert!(Quota::per_second(5).burst(0).validate().is_err());
        assert!(Quota::new(5, Duration::ZERO).validate().is_err());
        assert!(Quota::per_second(5).validate().is_ok());
    }
}
