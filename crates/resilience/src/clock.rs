//! Where the primitives read the time.
//!
//! The default, [`TokioClock`], is `tokio::time::Instant`, so tests written with
//! `tokio::time::pause()` drive every timeout, window and expiry deterministically.
//! [`ManualClock`] serves synchronous tests (the property test) that have no runtime.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// A monotonic clock.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current instant.
    fn now(&self) -> Instant;

    /// Whether tokio timers (`tokio::time::sleep_until`) fire on this clock's time,
    /// so that automatic transitions can be scheduled on them. Only tokio's own clock
    /// does; with any other clock, timed transitions happen on the next call or
    /// snapshot.
    fn drives_tokio_timers(&self) -> bool {
        false
    }
}

/// Tokio's clock: real time, or the paused test clock under `tokio::time::pause()`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioClock;

impl Clock for TokioClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn drives_tokio_timers(&self) -> bool {
        true
    }
}

/// A clock that moves only when told to; clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    base: Instant,
    offset_nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock standing at an arbitrary instant.
    pub fn new() -> Self {
        ManualClock {
            base: Instant::from_std(std::time::Instant::now()),
            offset_nanos: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.offset_nanos.fetch_add(nanos, Ordering::SeqCst);
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.base + Duration::from_nanos(self.offset_nanos.load(Ordering::SeqCst))
    }
}

/// The default clock, shared.
pub(crate) fn default_clock() -> Arc<dyn Clock> {
    Arc::new(TokioClock)
}
