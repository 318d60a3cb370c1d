//! Retries with exponential backoff and full jitter, a maximum number of attempts, and
//! a retry budget (tower's `TpsBudget`, after finagle's): retries may add at most a
//! set fraction of the calls made, so that during an outage they cannot multiply the
//! load on the service that is already failing.
//!
//! Only results the policy's classifier calls retryable are retried; everything else
//! is returned at once.

mod backoff;
mod future;
mod layer;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use switchyard_conventions::retry::RetryOutcome;
use tower::retry::budget::{Budget, TpsBudget};

pub use self::backoff::Backoff;
pub use self::future::ResponseFuture;
pub use self::layer::{Retry, RetryLayer};

use crate::classify::{Classify, ErrorsAreFailures};
use crate::error::{Error, Result};
use crate::telemetry::{RetrySample, Source, Telemetry};

/// How much retrying the budget allows: every call deposits `ratio` of a retry, which
/// stays available for `ttl`; and `min_per_second` retries are always allowed, for
/// clients that make few calls.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryBudget {
    /// How long a deposit counts (1 to 60 s).
    pub ttl: Duration,
    /// Retries always allowed per second.
    pub min_per_second: u32,
    /// Retries allowed per call made (0.2: one retry per five calls).
    pub ratio: f32,
}

impl Default for RetryBudget {
    /// 20% extra load at most, over 10 s, with 10 retries per second always allowed.
    fn default() -> Self {
        RetryBudget {
            ttl: Duration::from_secs(10),
            min_per_second: 10,
            ratio: 0.2,
        }
    }
}

/// A retry policy; shared by its clones, which share one budget and one set of counts.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use switchyard_resilience::retry::RetryPolicy;
///
/// let policy = RetryPolicy::builder("inventory").max_attempts(3).build()?;
/// let calls = AtomicU32::new(0);
/// let result = policy
///     .call(|| async {
///         if calls.fetch_add(1, Ordering::SeqCst) < 2 { Err("flaky") } else { Ok("done") }
///     })
///     .await;
/// assert_eq!(result, Ok("done"));
/// assert_eq!(calls.load(Ordering::SeqCst), 3);
/// # Ok(()) }
/// ```
pub struct RetryPolicy<C = ErrorsAreFailures> {
    inner: Arc<Inner>,
    classify: C,
}

impl<C: Clone> Clone for RetryPolicy<C> {
    fn clone(&self) -> Self {
        RetryPolicy {
            inner: self.inner.clone(),
            classify: self.classify.clone(),
        }
    }
}

impl<C> std::fmt::Debug for RetryPolicy<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetryPolicy")
            .field("name", &self.inner.name)
            .field("max_attempts", &self.inner.max_attempts)
            .field("backoff", &self.inner.backoff)
            .finish_non_exhaustive()
    }
}

struct Inner {
    name: Arc<str>,
    max_attempts: u32,
    backoff: Backoff,
    budget: Option<TpsBudget>,
    /// Calls by outcome, in the order of `RetryOutcome::ALL`.
    calls: [AtomicU64; 4],
    retries: AtomicU64,
    _telemetry: Telemetry,
}

/// Builds a [`RetryPolicy`].
#[derive(Debug)]
pub struct RetryPolicyBuilder<C = ErrorsAreFailures> {
    name: Arc<str>,
    max_attempts: u32,
    backoff: Backoff,
    budget: Option<RetryBudget>,
    classify: C,
    telemetry: Option<Telemetry>,
}

impl<C> RetryPolicyBuilder<C> {
    /// At most this many attempts in all, the first included (default 3).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// The wait between attempts (default [`Backoff::default`]).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The retry budget (default [`RetryBudget::default`]).
    pub fn budget(mut self, budget: RetryBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// No budget: only `max_attempts` bounds the retries.
    pub fn no_budget(mut self) -> Self {
        self.budget = None;
        self
    }

    /// Which results are retried (default: every error).
    pub fn classify<C2>(self, classify: C2) -> RetryPolicyBuilder<C2> {
        RetryPolicyBuilder {
            name: self.name,
            max_attempts: self.max_attempts,
            backoff: self.backoff,
            budget: self.budget,
            classify,
            telemetry: self.telemetry,
        }
    }

    /// Where metrics go (default: [`Telemetry::global`]).
    pub fn telemetry(mut self, telemetry: Telemetry) -> Self {
        self.telemetry = Some(telemetry);
        self
    }

    /// Validates and builds the policy.
    pub fn build(self) -> Result<RetryPolicy<C>> {
        if self.max_attempts == 0 {
            return Err(Error::config("retry", "max_attempts must be at least 1"));
        }
        let budget = match self.budget {
            None => None,
            Some(b) => {
                // TpsBudget panics outside these ranges; refuse them here instead.
                if !(Duration::from_secs(1)..=Duration::from_secs(60)).contains(&b.ttl) {
                    return Err(Error::config(
                        "retry",
                        format!("budget ttl {:?} is not in 1..=60 s", b.ttl),
                    ));
                }
                if !(0.0..=1000.0).contains(&b.ratio) {
                    return Err(Error::config(
                        "retry",
                        format!("budget ratio {} is not in 0..=1000", b.ratio),
                    ));
                }
                Some(TpsBudget::new(b.ttl, b.min_per_second, b.ratio))
            }
        };
        let telemetry = self.telemetry.unwrap_or_else(Telemetry::global);
        let inner = Arc::new(Inner {
            name: self.name,
            max_attempts: self.max_attempts,
            backoff: self.backoff,
            budget,
            calls: Default::default(),
            retries: AtomicU64::new(0),
            _telemetry: telemetry.clone(),
        });
        let source: Weak<dyn Source<RetrySample>> =
            Arc::downgrade(&inner) as Weak<dyn Source<RetrySample>>;
        telemetry.register_retry(source);
        Ok(RetryPolicy {
            inner,
            classify: self.classify,
        })
    }
}

/// What to do after an attempt.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next {
    Return,
    RetryAfter(Duration),
}

impl RetryPolicy {
    /// Starts building a policy named `name`.
    pub fn builder(name: impl Into<Arc<str>>) -> RetryPolicyBuilder {
        RetryPolicyBuilder {
            name: name.into(),
            max_attempts: 3,
            backoff: Backoff::default(),
            budget: Some(RetryBudget::default()),
            classify: ErrorsAreFailures,
            telemetry: None,
        }
    }
}

impl<C> RetryPolicy<C> {
    /// The policy's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Calls by outcome so far, in the order of [`RetryOutcome::ALL`], and the number
    /// of retries made.
    pub fn counts(&self) -> ([u64; 4], u64) {
        (
            self.inner
                .calls
                .each_ref()
                .map(|c| c.load(Ordering::Relaxed)),
            self.inner.retries.load(Ordering::Relaxed),
        )
    }

    /// A call starts: it pays into the budget.
    pub(crate) fn started(&self) {
        if let Some(budget) = &self.inner.budget {
            budget.deposit();
        }
    }

    /// Decides after attempt number `attempt` whether to return its result or retry.
    pub(crate) fn next<T, E>(&self, result: &Result<T, E>, attempt: u32) -> Next
    where
        C: Classify<T, E>,
    {
        let outcome = if !self.classify.is_failure(result) {
            if result.is_ok() {
                RetryOutcome::Success
            } else {
                RetryOutcome::Failure
            }
        } else if attempt >= self.inner.max_attempts {
            RetryOutcome::Exhausted
        } else if self.inner.budget.as_ref().is_some_and(|b| !b.withdraw()) {
            RetryOutcome::BudgetExhausted
        } else {
            self.inner.retries.fetch_add(1, Ordering::Relaxed);
            return Next::RetryAfter(self.inner.backoff.delay(attempt));
        };
        let index = RetryOutcome::ALL
            .iter()
            .position(|o| *o == outcome)
            .unwrap_or(0);
        self.inner.calls[index].fetch_add(1, Ordering::Relaxed);
        Next::Return
    }

    /// Runs `f`, again after a backoff while its result is retryable, the attempts
    /// last and the budget allows; returns the last result.
    pub async fn call<F, Fut, T, E>(&self, mut f: F) -> Result<T, E>
    where
        C: Classify<T, E>,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.started();
        let mut attempt = 1;
        loop {
            let result = f().await;
            match self.next(&result, attempt) {
                Next::Return => return result,
                Next::RetryAfter(delay) => {
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
            }
        }
    }
}

impl Source<RetrySample> for Inner {
    fn sample(&self) -> RetrySample {
        RetrySample {
            name: self.name.clone(),
            calls: self.calls.each_ref().map(|c| c.load(Ordering::Relaxed)),
            attempts: self.retries.load(Ordering::Relaxed),
        }
    }
}
