//! Per-thread striping of hot counters.
//!
//! A counter that every thread increments bounces its cache line between cores on
//! every call; striping the counters per thread keeps each line on one core, and
//! readers (which are rare: flushes, snapshots, metric collection) add the stripes up.

use std::cell::Cell;
use std::ops::Deref;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Aligns its content to its own pair of cache lines (adjacent-line prefetch pulls
/// lines in pairs on x86, hence 128 rather than 64).
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct CachePadded<T>(pub(crate) T);

impl<T> Deref for CachePadded<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// How many stripes each striped structure has: a power of two, twice the number
/// of cores (so that a few threads per core rarely share one), at most 64.
pub(crate) fn stripe_count() -> usize {
    static COUNT: OnceLock<usize> = OnceLock::new();
    *COUNT.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(4, |n| n.get());
        (cores * 2).next_power_of_two().clamp(2, 64)
    })
}

/// This thread's stripe index (before masking). Threads are numbered in the order
/// they first ask, so threads started together land on different stripes.
#[inline]
pub(crate) fn thread_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static INDEX: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    INDEX.with(|index| {
        let mut i = index.get();
        if i == usize::MAX {
            i = NEXT.fetch_add(1, Ordering::Relaxed);
            index.set(i);
        }
        i
    })
}
