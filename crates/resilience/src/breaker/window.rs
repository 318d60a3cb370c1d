//! Sliding windows of call outcomes: the last N calls, or the last N seconds in buckets.
//!
//! Only the controller touches a window, under its lock; the hot path never does
//! (successes wait in striped counters and arrive here in bulk, see `gate.rs`).

use super::config::SlidingWindow;

/// Outcome bit: the call failed.
pub(crate) const FAILURE: u8 = 1;
/// Outcome bit: the call was slow.
pub(crate) const SLOW: u8 = 2;

/// Calls, failures and slow calls in a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) calls: u64,
    pub(crate) failures: u64,
    pub(crate) slow: u64,
}

impl Counts {
    fn add(&mut self, bits: u8, n: u64) {
        self.calls += n;
        if bits & FAILURE != 0 {
            self.failures += n;
        }
        if bits & SLOW != 0 {
            self.slow += n;
        }
    }

    fn remove(&mut self, other: Counts) {
        self.calls -= other.calls;
        self.failures -= other.failures;
        self.slow -= other.slow;
    }

    /// Percentage of failed calls; 0 for an empty window.
    pub(crate) fn failure_rate(&self) -> f64 {
        percent(self.failures, self.calls)
    }

    /// Percentage of slow calls; 0 for an empty window.
    pub(crate) fn slow_rate(&self) -> f64 {
        percent(self.slow, self.calls)
    }
}

pub(crate) fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        // Exact for any count a breaker sees (< 2^53).
        part as f64 * 100.0 / whole as f64
    }
}

/// A sliding window of either kind.
#[derive(Debug)]
pub(crate) enum Window {
    Count(CountWindow),
    Time(TimeWindow),
}

impl Window {
    pub(crate) fn new(config: SlidingWindow) -> Self {
        match config {
            SlidingWindow::Count { calls } => Window::Count(CountWindow::new(calls as usize)),
            SlidingWindow::Time { length, buckets } => Window::Time(TimeWindow::new(
                u64::try_from((length / buckets).as_nanos()).unwrap_or(u64::MAX),
                buckets as usize,
            )),
        }
    }

    /// Adds `n` calls with the outcome `bits`, all at the window's current time.
    pub(crate) fn push(&mut self, bits: u8, n: u64) {
        match self {
            Window::Count(w) => w.push(bits, n),
            Window::Time(w) => w.push(bits, n),
        }
    }

    /// Moves a time window to `now` (nanoseconds since the breaker's epoch), dropping
    /// the buckets that fell out of it.
    pub(crate) fn advance(&mut self, now: u64) {
        if let Window::Time(w) = self {
            w.advance(now);
        }
    }

    pub(crate) fn counts(&self) -> Counts {
        match self {
            Window::Count(w) => w.counts,
            Window::Time(w) => w.counts,
        }
    }

    /// The counts the window would hold at `now`, without moving it. Snapshots use this:
    /// a window only moves when a call is recorded, so that every move is followed by
    /// an evaluation.
    pub(crate) fn counts_at(&self, now: u64) -> Counts {
        match self {
            Window::Count(w) => w.counts,
            Window::Time(w) => w.counts_at(now),
        }
    }

    pub(crate) fn clear(&mut self) {
        match self {
            Window::Count(w) => w.clear(),
            Window::Time(w) => w.clear(),
        }
    }

    /// When the current bucket of a time window ends; `None` for a count window.
    pub(crate) fn bucket_end(&self) -> Option<u64> {
        match self {
            Window::Count(_) => None,
            Window::Time(w) => Some(w.current.saturating_add(1).saturating_mul(w.bucket_nanos)),
        }
    }
}

/// The last `capacity` outcomes in a ring.
#[derive(Debug)]
pub(crate) struct CountWindow {
    ring: Box<[u8]>,
    next: usize,
    len: usize,
    counts: Counts,
}

impl CountWindow {
    fn new(capacity: usize) -> Self {
        CountWindow {
            ring: vec![0; capacity].into_boxed_slice(),
            next: 0,
            len: 0,
            counts: Counts::default(),
        }
    }

    fn push(&mut self, bits: u8, n: u64) {
        let capacity = self.ring.len();
        if n >= capacity as u64 {
            // The whole window is replaced by these calls.
            self.ring.fill(bits);
            self.next = 0;
            self.len = capacity;
            self.counts = Counts::default();
            self.counts.add(bits, capacity as u64);
            return;
        }
        for _ in 0..n {
            if self.len == capacity {
                let mut evicted = Counts::default();
                evicted.add(self.ring[self.next], 1);
                self.counts.remove(evicted);
            } else {
                self.len += 1;
            }
            self.ring[self.next] = bits;
            self.counts.add(bits, 1);
            self.next = (self.next + 1) % capacity;
        }
    }

    fn clear(&mut self) {
        self.next = 0;
        self.len = 0;
        self.counts = Counts::default();
    }
}

/// Buckets of `bucket_nanos` each; bucket `i` holds the calls of
/// `[i * bucket_nanos, (i + 1) * bucket_nanos)`, and the window is the `len` buckets
/// up to and including the current one.
#[derive(Debug)]
pub(crate) struct TimeWindow {
    bucket_nanos: u64,
    buckets: Box<[Counts]>,
    current: u64,
    counts: Counts,
}

impl TimeWindow {
    fn new(bucket_nanos: u64, len: usize) -> Self {
        TimeWindow {
            bucket_nanos,
            buckets: vec![Counts::default(); len].into_boxed_slice(),
            current: 0,
            counts: Counts::default(),
        }
    }

    fn slot(&self, index: u64) -> usize {
        (index % self.buckets.len() as u64) as usize
    }

    fn advance(&mut self, now: u64) {
        let index = now / self.bucket_nanos;
        if index <= self.current {
            return;
        }
        if index - self.current >= self.buckets.len() as u64 {
            self.buckets.fill(Counts::default());
            self.counts = Counts::default();
        } else {
            for i in self.current + 1..=index {
                let slot = self.slot(i);
                let expired = std::mem::take(&mut self.buckets[slot]);
                self.counts.remove(expired);
            }
        }
        self.current = index;
    }

    fn counts_at(&self, now: u64) -> Counts {
        let index = now / self.bucket_nanos;
        if index <= self.current {
            return self.counts;
        }
        if index - self.current >= self.buckets.len() as u64 {
            return Counts::default();
        }
        let mut counts = self.counts;
        for i in self.current + 1..=index {
            counts.remove(self.buckets[self.slot(i)]);
        }
        counts
    }

    fn push(&mut self, bits: u8, n: u64) {
        let slot = self.slot(self.current);
        self.buckets[slot].add(bits, n);
        self.counts.add(bits, n);
    }

    fn clear(&mut self) {
        self.buckets.fill(Counts::default());
        self.counts = Counts::default();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn count_window_keeps_the_last_n() {
        let mut w = Window::new(SlidingWindow::Count { calls: 4 });
        w.push(FAILURE, 3);
        w.push(0, 1);
        assert_eq!(
            w.counts(),
            Counts {
                calls: 4,
                failures: 3,
                slow: 0
            }
        );
        w.push(SLOW, 2);
        assert_eq!(
            w.counts(),
            Counts {
                calls: 4,
                failures: 1,
                slow: 2
            }
        );
        assert_eq!(w.counts().failure_rate(), 25.0);
        w.push(0, 100);
        assert_eq!(
            w.counts(),
            Counts {
                calls: 4,
                failures: 0,
                slow: 0
            }
        );
        w.push(FAILURE | SLOW, 1);
        assert_eq!(
            w.counts(),
            Counts {
                calls: 4,
                failures: 1,
                slow: 1
            }
        );
        w.clear();
        assert_eq!(w.counts(), Counts::default());
        assert_eq!(w.bucket_end(), None);
    }

    #[test]
    fn time_window_drops_whole_buckets() {
        let second = Duration::from_secs(1).as_nanos() as u64;
        let mut w = Window::new(SlidingWindow::Time {
            length: Duration::from_secs(3),
            buckets: 3,
        });
        w.push(FAILURE, 2); // bucket 0
        w.advance(second + 5);
        w.push(0, 1); // bucket 1
        assert_eq!(w.bucket_end(), Some(2 * second));
        w.advance(2 * second);
        w.push(SLOW, 1); // bucket 2
        assert_eq!(
            w.counts(),
            Counts {
                calls: 4,
                failures: 2,
                slow: 1
            }
        );
        assert_eq!(
            w.counts_at(3 * second),
            Counts {
                calls: 2,
                failures: 0,
                slow: 1
            }
        );
        assert_eq!(w.counts_at(9 * second), Counts::default());
        w.advance(3 * second); // bucket 0 leaves
        assert_eq!(
            w.counts(),
            Counts {
                calls: 2,
                failures: 0,
                slow: 1
            }
        );
        w.advance(100 * second);
        assert_eq!(w.counts(), Counts::default());
        assert_eq!(w.counts().failure_rate(), 0.0);
    }
}
