//! The gate: what the hot path reads, in the style of linkerd2-proxy's `gate.rs`.
//!
//! The controller (under its lock) decides; it publishes its decision here as one
//! atomic word — a generation and an admission mode — plus the next instant at which
//! the decision may change. A call in the closed state reads that word, and when it
//! succeeds, bumps a counter in its thread's stripe. No lock, no allocation, and no
//! cache line written by more than one core, so contended calls cost what single ones do.
//!
//! The generation ties a call to the decision that admitted it: the controller bumps
//! it on every transition, so the outcome of a call admitted before a transition is
//! still counted in the totals but never lands in the window of the next state. Each
//! stripe carries the generation it counts for and whether it may count at all, so a
//! success checks and counts with a single compare-and-swap on its own stripe.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::shard::{CachePadded, stripe_count, thread_index};

/// "No deadline" / "no bucket end".
pub(crate) const NEVER: u64 = u64::MAX;

/// A stripe's pending count goes to the controller before it reaches this.
const PENDING_LIMIT: u64 = 1 << 30;
/// Set in a stripe's count while the mode does not batch successes (closed below its
/// minimum, half-open, open): every success then goes to the controller. Kept in the
/// stripe itself so that the success path reads one word, its stripe's.
const BLOCKED: u64 = 1 << 31;

/// How the gate admits calls, one per distinct behaviour of the hot path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Mode {
    /// Admit; successes wait in the stripes (they cannot raise a rate).
    Closed = 0,
    /// Admit; the window is below its minimum, so every outcome is evaluated at once
    /// (a success can make the rate count).
    ClosedExact = 1,
    /// Reject (the automatic open state).
    Open = 2,
    /// Reject (an operator's trip).
    ForcedOpen = 3,
    /// Admit and count as "would reject" (observe-only over an open breaker).
    ObserveOpen = 4,
    /// Admit and record nothing in the window.
    Disabled = 5,
    /// Ask the controller (half-open: probes are counted one by one).
    Slow = 6,
}

impl Mode {
    #[inline]
    fn from_bits(bits: u64) -> Mode {
        match bits & 0xff {
            0 => Mode::Closed,
            1 => Mode::ClosedExact,
            2 => Mode::Open,
            3 => Mode::ForcedOpen,
            4 => Mode::ObserveOpen,
            5 => Mode::Disabled,
            _ => Mode::Slow,
        }
    }

    /// Whether successes in this mode may wait in the stripes.
    #[inline]
    pub(crate) fn batches_successes(self) -> bool {
        matches!(self, Mode::Closed | Mode::ObserveOpen | Mode::Disabled)
    }
}

#[derive(Debug)]
struct Hot {
    /// `generation << 32 | mode`.
    word: AtomicU64,
    /// The next instant (ns since the epoch) at which the controller must look again:
    /// end of the open wait, of half-open's maximum wait, or of an override's TTL.
    deadline: AtomicU64,
    /// End of a time window's current bucket: a success after it rotates the window.
    bucket_end: AtomicU64,
}

/// Per-thread counters.
#[derive(Debug)]
pub(crate) struct Stripe {
    /// `generation << 32 | BLOCKED? | successes` not yet handed to the controller.
    pending: AtomicU64,
    rejected: AtomicU64,
    would_reject: AtomicU64,
}

/// What became of a success offered to the stripes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Added {
    Yes,
    /// The stripe belongs to a later generation, or is full: ask the controller.
    No,
}

#[derive(Debug)]
pub(crate) struct Gate {
    hot: CachePadded<Hot>,
    stripes: Box<[CachePadded<Stripe>]>,
    mask: usize,
}

impl Gate {
    pub(crate) fn new(mode: Mode) -> Self {
        let count = stripe_count();
        Gate {
            hot: CachePadded(Hot {
                word: AtomicU64::new(mode as u64),
                deadline: AtomicU64::new(NEVER),
                bucket_end: AtomicU64::new(NEVER),
            }),
            stripes: (0..count)
                .map(|_| {
                    CachePadded(Stripe {
                        pending: AtomicU64::new(BLOCKED),
                        rejected: AtomicU64::new(0),
                        would_reject: AtomicU64::new(0),
                    })
                })
                .collect(),
            mask: count - 1,
        }
    }

    /// The generation and mode in force.
    #[inline]
    pub(crate) fn load(&self) -> (u32, Mode) {
        let word = self.hot.word.load(Ordering::Acquire);
        ((word >> 32) as u32, Mode::from_bits(word))
    }

    #[inline]
    pub(crate) fn deadline(&self) -> u64 {
        self.hot.deadline.load(Ordering::Relaxed)
    }

    #[inline]
    pub(crate) fn bucket_end(&self) -> u64 {
        self.hot.bucket_end.load(Ordering::Relaxed)
    }

    /// Publishes a decision. The times are stored first, so a reader that sees the new
    /// word also sees the times that go with it.
    pub(crate) fn publish(&self, generation: u32, mode: Mode, deadline: u64, bucket_end: u64) {
        self.hot.deadline.store(deadline, Ordering::Relaxed);
        self.hot.bucket_end.store(bucket_end, Ordering::Relaxed);
        self.hot
            .word
            .store(u64::from(generation) << 32 | mode as u64, Ordering::Release);
    }

    #[inline]
    fn stripe(&self) -> &Stripe {
        &self.stripes[thread_index() & self.mask]
    }

    /// Counts a success of generation `generation` in this thread's stripe, if the
    /// stripe is counting for that generation and not blocked.
    #[inline]
    pub(crate) fn add_success(&self, generation: u32) -> Added {
        let pending = &self.stripe().pending;
        let mut current = pending.load(Ordering::Relaxed);
        loop {
            if (current >> 32) as u32 != generation || current & 0xffff_ffff >= PENDING_LIMIT {
                return Added::No;
            }
            match pending.compare_exchange_weak(
                current,
                current + 1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Added::Yes,
                Err(actual) => current = actual,
            }
        }
    }

    /// Takes every stripe's pending successes of `generation` and resets the stripes
    /// for generation `next` (the same one for a flush, the next one on a transition),
    /// counting or blocked. One swap per stripe, so a success added concurrently is
    /// either taken or refused, never lost.
    pub(crate) fn drain(&self, generation: u32, next: u32, batching: bool) -> u64 {
        let fresh = u64::from(next) << 32 | if batching { 0 } else { BLOCKED };
        self.stripes
            .iter()
            .map(|stripe| {
                let old = stripe.pending.swap(fresh, Ordering::Relaxed);
                if (old >> 32) as u32 == generation {
                    old & (BLOCKED - 1)
                } else {
                    0
                }
            })
            .sum()
    }

    #[inline]
    pub(crate) fn count_rejected(&self) {
        self.stripe().rejected.fetch_add(1, Ordering::Relaxed);
    }

    #[inline]
    pub(crate) fn count_would_reject(&self) {
        self.stripe().would_reject.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn rejected(&self) -> u64 {
        self.stripes
            .iter()
            .map(|s| s.rejected.load(Ordering::Relaxed))
            .sum()
    }

    pub(crate) fn would_reject(&self) -> u64 {
        self.stripes
            .iter()
            .map(|s| s.would_reject.load(Ordering::Relaxed))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successes_of_an_old_generation_are_refused() {
        let gate = Gate::new(Mode::Closed);
        assert_eq!(gate.add_success(0), Added::No, "stripes start blocked");
        assert_eq!(gate.drain(0, 0, true), 0);
        assert_eq!(gate.add_success(0), Added::Yes);
        assert_eq!(gate.add_success(0), Added::Yes);
        assert_eq!(gate.drain(0, 1, true), 2);
        assert_eq!(gate.add_success(0), Added::No);
        assert_eq!(gate.add_success(1), Added::Yes);
        assert_eq!(gate.drain(1, 1, false), 1);
        assert_eq!(gate.add_success(1), Added::No, "blocked");
        assert_eq!(gate.drain(1, 1, true), 0);
    }

    #[test]
    fn publish_round_trips() {
        let gate = Gate::new(Mode::Closed);
        gate.publish(7, Mode::ObserveOpen, 42, NEVER);
        assert_eq!(gate.load(), (7, Mode::ObserveOpen));
        assert_eq!(gate.deadline(), 42);
        assert_eq!(gate.bucket_end(), NEVER);
        gate.count_rejected();
        gate.count_would_reject();
        gate.count_would_reject();
        assert_eq!((gate.rejected(), gate.would_reject()), (1, 2));
    }
}
