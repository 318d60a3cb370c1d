//! Per-route counters, kept across configuration changes (by route name).

use std::sync::atomic::{AtomicU64, Ordering};

use crate::governor::SideCounts;
use crate::split::Side;

/// Counters of one route.
#[derive(Debug, Default)]
pub(crate) struct RouteStats {
    requests: AtomicU64,
    legacy: AtomicU64,
    new: AtomicU64,
    legacy_errors: AtomicU64,
    new_errors: AtomicU64,
    shadowed: AtomicU64,
    differing: AtomicU64,
    unauthorized: AtomicU64,
    forbidden: AtomicU64,
    rate_limited: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

fn read(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

impl RouteStats {
    pub(crate) fn request(&self) {
        bump(&self.requests);
    }

    /// An answer from `side` (`None` for a single-cluster route); `failed` for 5xx,
    /// no instance or timeout.
    pub(crate) fn answered(&self, side: Option<Side>, failed: bool) {
        match (side, failed) {
            (Some(Side::New), false) => bump(&self.new),
            (Some(Side::New), true) => {
                bump(&self.new);
                bump(&self.new_errors);
            }
            (Some(Side::Legacy), false) => bump(&self.legacy),
            (Some(Side::Legacy), true) => {
                bump(&self.legacy);
                bump(&self.legacy_errors);
            }
            (None, _) => {}
        }
    }

    pub(crate) fn shadow(&self, differs: bool) {
        bump(&self.shadowed);
        if differs {
            bump(&self.differing);
        }
    }

    pub(crate) fn unauthorized(&self) {
        bump(&self.unauthorized);
    }

    pub(crate) fn forbidden(&self) {
        bump(&self.forbidden);
    }

    pub(crate) fn rate_limited(&self) {
        bump(&self.rate_limited);
    }

    pub(crate) fn side_counts(&self) -> SideCounts {
        SideCounts {
            new_requests: read(&self.new),
            new_errors: read(&self.new_errors),
            shadowed: read(&self.shadowed),
            differing: read(&self.differing),
        }
    }

    pub(crate) fn snapshot(&self, would_limit: u64) -> crate::RouteCounters {
        crate::RouteCounters {
            requests: read(&self.requests),
            legacy: read(&self.legacy),
            new: read(&self.new),
            legacy_errors: read(&self.legacy_errors),
            new_errors: read(&self.new_errors),
            shadowed: read(&self.shadowed),
            differing: read(&self.differing),
            unauthorized: read(&self.unauthorized),
            forbidden: read(&self.forbidden),
            rate_limited: read(&self.rate_limited),
            would_limit,
        }
    }
}
