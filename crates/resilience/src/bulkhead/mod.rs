//! A bulkhead: at most N calls in flight; the next one is rejected at once with
//! [`BulkheadFull`] rather than queued, so a slow dependency cannot tie up every task.

mod future;
mod layer;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub use self::future::ResponseFuture;
pub use self::layer::{BulkheadLayer, ConcurrencyLimit};

use crate::error::{BulkheadFull, CallError, Error, Result};
use crate::telemetry::{BulkheadSample, Source, Telemetry};

/// A concurrency bound shared by every caller that holds a clone.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use switchyard_resilience::bulkhead::Bulkhead;
///
/// let bulkhead = Bulkhead::new("db", 2)?;
/// let held = bulkhead.try_enter()?;
/// let _also = bulkhead.try_enter()?;
/// assert!(bulkhead.try_enter().is_err()); // full: rejected, not queued
/// drop(held);
/// assert_eq!(bulkhead.call(|| async { Ok::<_, std::io::Error>(1) }).await?, 1);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Bulkhead {
    inner: Arc<Inner>,
}

struct Inner {
    name: Arc<str>,
    max_concurrent: usize,
    semaphore: Arc<Semaphore>,
    admitted: AtomicU64,
    rejected: AtomicU64,
    _telemetry: Telemetry,
}

impl std::fmt::Debug for Bulkhead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bulkhead")
            .field("name", &self.inner.name)
            .field("max_concurrent", &self.inner.max_concurrent)
            .field("in_flight", &self.in_flight())
            .finish()
    }
}

/// A place in the bulkhead, given back when dropped.
#[derive(Debug)]
pub struct BulkheadPermit {
    _permit: OwnedSemaphorePermit,
}

impl Bulkhead {
    /// At most `max_concurrent` calls at once; metrics to [`Telemetry::global`].
    pub fn new(name: impl Into<Arc<str>>, max_concurrent: usize) -> Result<Self> {
        Self::with_telemetry(name, max_concurrent, Telemetry::global())
    }

    /// At most `max_concurrent` calls at once; metrics to `telemetry`.
    pub fn with_telemetry(
        name: impl Into<Arc<str>>,
        max_concurrent: usize,
        telemetry: Telemetry,
    ) -> Result<Self> {
        if max_concurrent == 0 || max_concurrent > Semaphore::MAX_PERMITS {
            return Err(Error::config(
                "bulkhead",
                format!(
                    "max_concurrent {max_concurrent} is not in 1..={}",
                    Semaphore::MAX_PERMITS
                ),
            ));
        }
        let inner = Arc::new(Inner {
            name: name.into(),
            max_concurrent,
            semaphore: Arc::new(Semaphore::new(max_concurrent)),
            admitted: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            _telemetry: telemetry.clone(),
        });
        let source: Weak<dyn Source<BulkheadSample>> =
            Arc::downgrade(&inner) as Weak<dyn Source<BulkheadSample>>;
        telemetry.register_bulkhead(source);
        Ok(Bulkhead { inner })
    }

    /// The bulkhead's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Its bound.
    pub fn max_concurrent(&self) -> usize {
        self.inner.max_concurrent
    }

    /// Calls inside now.
    pub fn in_flight(&self) -> usize {
        self.inner.max_concurrent - self.inner.semaphore.available_permits()
    }

    /// Takes a place, or says the bulkhead is full.
    pub fn try_enter(&self) -> Result<BulkheadPermit, BulkheadFull> {
        match self.inner.semaphore.clone().try_acquire_owned() {
            Ok(permit) => {
                self.inner.admitted.fetch_add(1, Ordering::Relaxed);
                Ok(BulkheadPermit { _permit: permit })
            }
            Err(_) => {
                self.inner.rejected.fetch_add(1, Ordering::Relaxed);
                Err(BulkheadFull {
                    bulkhead: self.inner.name.clone(),
                    max_concurrent: self.inner.max_concurrent,
                })
            }
        }
    }

    /// Runs `f` inside the bulkhead, or rejects it if full.
    pub async fn call<F, Fut, T, E>(&self, f: F) -> Result<T, CallError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let _permit = self.try_enter()?;
        f().await.map_err(CallError::Inner)
    }
}

impl Source<BulkheadSample> for Inner {
    fn sample(&self) -> BulkheadSample {
        BulkheadSample {
            name: self.name.clone(),
            calls: [
                self.admitted.load(Ordering::Relaxed),
                self.rejected.load(Ordering::Relaxed),
            ],
            in_flight: (self.max_concurrent - self.semaphore.available_permits()) as u64,
        }
    }
}
