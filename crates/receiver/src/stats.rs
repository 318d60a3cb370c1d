//! Counters of what the receiver took in and turned away.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde::Serialize;
use switchyard_store::Rejected;

#[derive(Debug, Default)]
pub(crate) struct Stats {
    spans: AtomicU64,
    data_points: AtomicU64,
    log_records: AtomicU64,
    partially_rejected: AtomicU64,
    invalid_requests: AtomicU64,
    refused_requests: AtomicU64,
    unauthenticated_requests: AtomicU64,
}

/// A copy of the receiver's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StatsSnapshot {
    /// Items stored and acknowledged.
    pub spans: u64,
    pub data_points: u64,
    pub log_records: u64,
    /// Items refused inside otherwise accepted requests.
    pub partially_rejected: u64,
    /// Requests refused as malformed.
    pub invalid_requests: u64,
    /// Requests answered "retry later" (queue full, shutting down, commit failed).
    pub refused_requests: u64,
    /// Requests without a valid API key.
    pub unauthenticated_requests: u64,
}

impl Stats {
    pub(crate) fn stored(&self, (spans, points, logs): (usize, usize, usize), rejected: &Rejected) {
        self.spans.fetch_add(spans as u64, Relaxed);
        self.data_points.fetch_add(points as u64, Relaxed);
        self.log_records.fetch_add(logs as u64, Relaxed);
        self.partially_rejected.fetch_add(
            rejected.spans + rejected.data_points + rejected.log_records,
            Relaxed,
        );
    }

    pub(crate) fn invalid(&self) {
        self.invalid_requests.fetch_add(1, Relaxed);
    }

    pub(crate) fn refused(&self) {
        self.refused_requests.fetch_add(1, Relaxed);
    }

    pub(crate) fn unauthenticated(&self) {
        self.unauthenticated_requests.fetch_add(1, Relaxed);
    }

    pub(crate) fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            spans: self.spans.load(Relaxed),
            data_points: self.data_points.load(Relaxed),
            log_records: self.log_records.load(Relaxed),
            partially_rejected: self.partially_rejected.load(Relaxed),
            invalid_requests: self.invalid_requests.load(Relaxed),
            refused_requests: self.refused_requests.load(Relaxed),
            unauthenticated_requests: self.unauthenticated_requests.load(Relaxed),
        }
    }
}
