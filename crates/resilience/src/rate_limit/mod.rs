//! A rate limiter per key (GCRA), with an observe-only mode like the breaker's: over
//! the limit, an observe-only limiter lets the call through and counts it as
//! `would_reject`, so a limit can be tried on live traffic before it is enforced.

mod future;
mod gcra;
mod layer;

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::future::Future;
use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use tokio::time::Instant;

pub use self::future::ResponseFuture;
pub use self::gcra::Quota;
pub use self::layer::{Global, KeyOf, RateLimit, RateLimitLayer};

use self::gcra::Gcra;
use crate::clock::{Clock, default_clock};
use crate::error::{CallError, RateLimited, Result};
use crate::shard::stripe_count;
use crate::telemetry::{RateLimitSample, Source, Telemetry};

/// Whether a limiter rejects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitMode {
    /// Over the limit, calls are rejected.
    Enforce,
    /// Over the limit, calls go through and are counted as `would_reject`.
    ObserveOnly,
}

/// A rate limiter keyed by `K` (`()` for one limit over all calls). Cheap to clone.
///
/// ```
/// use switchyard_resilience::rate_limit::{Quota, RateLimiter};
///
/// let limiter = RateLimiter::<String>::new("per-client", Quota::per_second(2)).unwrap();
/// assert!(limiter.check(&"alice".to_string()).is_ok());
/// assert!(limiter.check(&"alice".to_string()).is_ok());
/// assert!(limiter.check(&"alice".to_string()).is_err()); // over alice's burst
/// assert!(limiter.check(&"bob".to_string()).is_ok()); // bob has his own
/// ```
pub struct RateLimiter<K = ()> {
    inner: Arc<Inner<K>>,
}

impl<K> Clone for RateLimiter<K> {
    fn clone(&self) -> Self {
        RateLimiter {
            inner: self.inner.clone(),
        }
    }
}

impl<K> std::fmt::Debug for RateLimiter<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("name", &self.inner.name)
            .field("quota", &self.inner.quota)
            .field(
                "observe_only",
                &self.inner.observe_only.load(Ordering::Relaxed),
            )
            .finish()
    }
}

/// One stripe of keys and their TATs, with the size at which it is next pruned.
struct Keys<K> {
    tats: HashMap<K, u64>,
    prune_at: usize,
}

struct Inner<K> {
    name: Arc<str>,
    quota: Quota,
    gcra: Gcra,
    observe_only: AtomicBool,
    clock: Arc<dyn Clock>,
    epoch: Instant,
    hasher: RandomState,
    stripes: Box<[Mutex<Keys<K>>]>,
    /// Counts by outcome: allowed, rejected, would reject.
    counts: [AtomicU64; 3],
    _telemetry: Telemetry,
}

/// Builds a [`RateLimiter`].
#[derive(Debug)]
pub struct RateLimiterBuilder {
    name: Arc<str>,
    quota: Quota,
    mode: LimitMode,
    clock: Option<Arc<dyn Clock>>,
    telemetry: Option<Telemetry>,
}

impl RateLimiterBuilder {
    /// Enforcing (the default) or observe-only.
    pub fn mode(mut self, mode: LimitMode) -> Self {
        self.mode = mode;
        self
    }

    /// The clock (default: tokio's).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Where metrics go (default: [`Telemetry::global`]).
    pub fn telemetry(mut self, telemetry: Telemetry) -> Self {
        self.telemetry = Some(telemetry);
        self
    }

    /// Validates the quota and builds the limiter.
    pub fn build<K>(self) -> Result<RateLimiter<K>>
    where
        K: Hash + Eq + Clone + Send + Sync + 'static,
    {
        self.quota.validate()?;
        let clock = self.clock.unwrap_or_else(default_clock);
        let telemetry = self.telemetry.unwrap_or_else(Telemetry::global);
        let inner = Arc::new(Inner {
            name: self.name,
            quota: self.quota,
            gcra: self.quota.gcra(),
            observe_only: AtomicBool::new(self.mode == LimitMode::ObserveOnly),
            epoch: clock.now(),
            clock,
            hasher: RandomState::new(),
            stripes: (0..stripe_count())
                .map(|_| {
                    Mutex::new(Keys {
                        tats: HashMap::new(),
                        prune_at: MIN_PRUNE,
                    })
                })
                .collect(),
            counts: Default::default(),
            _telemetry: telemetry.clone(),
        });
        let source: Weak<dyn Source<RateLimitSample>> =
            Arc::downgrade(&inner) as Weak<dyn Source<RateLimitSample>>;
        telemetry.register_rate_limiter(source);
        Ok(RateLimiter { inner })
    }
}

/// A stripe is not pruned below this many keys.
const MIN_PRUNE: usize = 64;

impl<K> RateLimiter<K>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
{
    /// An enforcing limiter with tokio's clock and the global telemetry.
    pub fn new(name: impl Into<Arc<str>>, quota: Quota) -> Result<Self> {
        RateLimiter::builder(name, quota).build()
    }

    /// Decides one call for `key`: `Ok` to go ahead (always, when observe-only).
    pub fn check(&self, key: &K) -> Result<(), RateLimited> {
        let inner = &*self.inner;
        let now = u64::try_from(
            inner
                .clock
                .now()
                .saturating_duration_since(inner.epoch)
                .as_nanos(),
        )
        .unwrap_or(u64::MAX);
        let stripe = &inner.stripes[(inner.hasher.hash_one(key) as usize) % inner.stripes.len()];
        let decision = {
            let mut keys = stripe.lock().unwrap_or_else(PoisonError::into_inner);
            let tat = keys.tats.get(key).copied().unwrap_or(0);
            let decision = inner.gcra.check(tat, now);
            if let Ok(next) = decision {
                keys.tats.insert(key.clone(), next);
                if keys.tats.len() >= keys.prune_at {
                    // A key whose TAT has passed is as good as a new one: forget it.
                    keys.tats.retain(|_, tat| *tat > now);
                    keys.prune_at = (keys.tats.len() * 2).max(MIN_PRUNE);
                }
            }
            decision
        };
        match decision {
            Ok(_) => {
                inner.counts[0].fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(_) if inner.observe_only.load(Ordering::Relaxed) => {
                // The TAT is left alone, exactly as a rejection would leave it, so the
                // dry run counts what enforcing would have rejected.
                inner.counts[2].fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(wait) => {
                inner.counts[1].fetch_add(1, Ordering::Relaxed);
                Err(RateLimited {
                    limiter: inner.name.clone(),
                    retry_after: Duration::from_nanos(wait),
                })
            }
        }
    }

    /// Runs `f` if `key` is within its quota.
    pub async fn call<F, Fut, T, E>(&self, key: &K, f: F) -> Result<T, CallError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.check(key)?;
        f().await.map_err(CallError::Inner)
    }
}

impl RateLimiter {
    /// Starts building a limiter; [`RateLimiterBuilder::build`] picks the key type.
    pub fn builder(name: impl Into<Arc<str>>, quota: Quota) -> RateLimiterBuilder {
        RateLimiterBuilder {
            name: name.into(),
            quota,
            mode: LimitMode::Enforce,
            clock: None,
            telemetry: None,
        }
    }
}

impl<K> RateLimiter<K> {
    /// The limiter's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Switches between enforcing and observe-only, at once for every caller.
    pub fn set_mode(&self, mode: LimitMode) {
        self.inner
            .observe_only
            .store(mode == LimitMode::ObserveOnly, Ordering::Relaxed);
    }

    /// The mode in force.
    pub fn mode(&self) -> LimitMode {
        if self.inner.observe_only.load(Ordering::Relaxed) {
            LimitMode::ObserveOnly
        } else {
            LimitMode::Enforce
        }
    }

    /// Calls allowed, rejected, and let through by observe-only mode so far.
    pub fn counts(&self) -> (u64, u64, u64) {
        let [a, r, w] = &self.inner.counts;
        (
            a.load(Ordering::Relaxed),
            r.load(Ordering::Relaxed),
            w.load(Ordering::Relaxed),
        )
    }
}

impl<K: Send + Sync> Source<RateLimitSample> for Inner<K> {
    fn sample(&self) -> RateLimitSample {
        RateLimitSample {
            name: self.name.clone(),
            calls: [
                self.counts[0].load(Ordering::Relaxed),
                self.counts[1].load(Ordering::Relaxed),
                self.counts[2].load(Ordering::Relaxed),
            ],
        }
    }
}
