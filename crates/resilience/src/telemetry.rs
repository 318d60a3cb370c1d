//! Metrics through the OpenTelemetry metrics API.
//!
//! Every instrument is *observable*: the primitives count in their own atomics (striped
//! per thread for the breaker), and the SDK reads them when it collects. A synchronous
//! `Counter::add` per call would cost an attribute-set lookup and an allocation on the
//! hot path; a read per collection costs nothing per call.
//!
//! One [`Telemetry`] owns one set of instruments and the list of live primitives they
//! report; each primitive registers itself when built and drops out when dropped.

use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

use opentelemetry::metrics::{Meter, ObservableCounter, ObservableGauge};
use opentelemetry::{InstrumentationScope, KeyValue};
use switchyard_conventions::breaker::{self as names, BreakerState, CallOutcome};
use switchyard_conventions::bulkhead::{self as bulkhead_names, BulkheadOutcome};
use switchyard_conventions::ratelimit::{self as ratelimit_names, RateLimitOutcome};
use switchyard_conventions::retry::{self as retry_names, RetryOutcome};

/// What a breaker reports at each collection.
#[derive(Debug, Clone)]
pub(crate) struct BreakerSample {
    pub(crate) name: Arc<str>,
    pub(crate) state: BreakerState,
    pub(crate) failure_rate: f64,
    pub(crate) success: u64,
    pub(crate) failure: u64,
    pub(crate) slow: u64,
    pub(crate) rejected: u64,
    pub(crate) would_reject: u64,
}

/// What a retry policy reports.
#[derive(Debug, Clone)]
pub(crate) struct RetrySample {
    pub(crate) name: Arc<str>,
    /// Calls by outcome, in the order of [`RetryOutcome::ALL`].
    pub(crate) calls: [u64; 4],
    pub(crate) attempts: u64,
}

/// What a rate limiter reports.
#[derive(Debug, Clone)]
pub(crate) struct RateLimitSample {
    pub(crate) name: Arc<str>,
    /// Calls by outcome, in the order of [`RateLimitOutcome::ALL`].
    pub(crate) calls: [u64; 3],
}

/// What a bulkhead reports.
#[derive(Debug, Clone)]
pub(crate) struct BulkheadSample {
    pub(crate) name: Arc<str>,
    /// Calls by outcome, in the order of [`BulkheadOutcome::ALL`].
    pub(crate) calls: [u64; 2],
    pub(crate) in_flight: u64,
}

/// A primitive that can be sampled; implemented by each primitive's shared state.
pub(crate) trait Source<S>: Send + Sync {
    fn sample(&self) -> S;
}

type Sources<S> = Mutex<Vec<Weak<dyn Source<S>>>>;

#[derive(Default)]
struct Registered {
    breakers: Sources<BreakerSample>,
    retries: Sources<RetrySample>,
    limiters: Sources<RateLimitSample>,
    bulkheads: Sources<BulkheadSample>,
}

/// Samples every live source in `list`, forgetting the dropped ones.
fn sample_all<S>(list: &Sources<S>) -> Vec<S> {
    let live: Vec<Arc<dyn Source<S>>> = {
        let mut list = list.lock().unwrap_or_else(PoisonError::into_inner);
        list.retain(|weak| weak.strong_count() > 0);
        list.iter().filter_map(Weak::upgrade).collect()
    };
    // Sampled outside the list's lock: sampling takes each primitive's own lock.
    live.iter().map(|source| source.sample()).collect()
}

/// The instruments, kept alive as long as the [`Telemetry`] that made them.
#[allow(dead_code)] // held for their lifetime only; the SDK calls their callbacks
struct Instruments {
    breaker_state: ObservableGauge<i64>,
    breaker_calls: ObservableCounter<u64>,
    breaker_failure_rate: ObservableGauge<f64>,
    breaker_would_reject: ObservableCounter<u64>,
    retry_calls: ObservableCounter<u64>,
    retry_attempts: ObservableCounter<u64>,
    ratelimit_calls: ObservableCounter<u64>,
    bulkhead_calls: ObservableCounter<u64>,
    bulkhead_in_flight: ObservableGauge<i64>,
}

struct Inner {
    registered: Arc<Registered>,
    _instruments: Instruments,
}

/// Where the primitives report their metrics: a set of observable instruments on one
/// OpenTelemetry [`Meter`]. Cheap to clone; clones share the instruments.
#[derive(Clone)]
pub struct Telemetry {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry").finish_non_exhaustive()
    }
}

impl Telemetry {
    /// Instruments on `meter`.
    pub fn new(meter: &Meter) -> Self {
        let registered = Arc::new(Registered::default());
        let r = &registered;
        let instruments = Instruments {
            breaker_state: meter
                .i64_observable_gauge(names::STATE_METRIC)
                .with_description(
                    "Circuit breaker state: 0 closed, 1 open, 2 half_open, 3 forced_open, 4 disabled, 5 observe_only",
                )
                .with_callback(callback(r, |s: &BreakerSample, o| {
                    o.observe(s.state.code(), &[breaker_name(s)]);
                }))
                .build(),
            breaker_calls: meter
                .u64_observable_counter(names::CALLS_METRIC)
                .with_description("Calls through a circuit breaker, by outcome")
                .with_callback(callback(r, |s: &BreakerSample, o| {
                    let counts = [
                        (CallOutcome::Success, s.success),
                        (CallOutcome::Failure, s.failure),
                        (CallOutcome::Slow, s.slow),
                        (CallOutcome::Rejected, s.rejected),
                    ];
                    for (outcome, count) in counts {
                        o.observe(
                            count,
                            &[breaker_name(s), KeyValue::new(names::OUTCOME, outcome.as_str())],
                        );
                    }
                }))
                .build(),
            breaker_failure_rate: meter
                .f64_observable_gauge(names::FAILURE_RATE_METRIC)
                .with_description("Failure rate over the breaker's current window")
                .with_unit("%")
                .with_callback(callback(r, |s: &BreakerSample, o| {
                    o.observe(s.failure_rate, &[breaker_name(s)]);
                }))
                .build(),
            breaker_would_reject: meter
                .u64_observable_counter(names::WOULD_REJECT_METRIC)
                .with_description("Calls an observe-only breaker let through but would have rejected")
                .with_callback(callback(r, |s: &BreakerSample, o| {
                    o.observe(s.would_reject, &[breaker_name(s)]);
                }))
                .build(),
            retry_calls: meter
                .u64_observable_counter(retry_names::CALLS_METRIC)
                .with_description("Calls under a retry policy, by outcome")
                .with_callback(callback(r, |s: &RetrySample, o| {
                    for (outcome, count) in RetryOutcome::ALL.iter().zip(s.calls) {
                        o.observe(
                            count,
                            &[
                                KeyValue::new(retry_names::NAME, s.name.clone()),
                                KeyValue::new(retry_names::OUTCOME, outcome.as_str()),
                            ],
                        );
                    }
                }))
                .build(),
            retry_attempts: meter
                .u64_observable_counter(retry_names::ATTEMPTS_METRIC)
                .with_description("Attempts made after the first one")
                .with_callback(callback(r, |s: &RetrySample, o| {
                    o.observe(s.attempts, &[KeyValue::new(retry_names::NAME, s.name.clone())]);
                }))
                .build(),
            ratelimit_calls: meter
                .u64_observable_counter(ratelimit_names::CALLS_METRIC)
                .with_description("Calls through a rate limiter, by outcome")
                .with_callback(callback(r, |s: &RateLimitSample, o| {
                    for (outcome, count) in RateLimitOutcome::ALL.iter().zip(s.calls) {
                        o.observe(
                            count,
                            &[
                                KeyValue::new(ratelimit_names::NAME, s.name.clone()),
                                KeyValue::new(ratelimit_names::OUTCOME, outcome.as_str()),
                            ],
                        );
                    }
                }))
                .build(),
            bulkhead_calls: meter
                .u64_observable_counter(bulkhead_names::CALLS_METRIC)
                .with_description("Calls that reached a bulkhead, by outcome")
                .with_callback(callback(r, |s: &BulkheadSample, o| {
                    for (outcome, count) in BulkheadOutcome::ALL.iter().zip(s.calls) {
                        o.observe(
                            count,
                            &[
                                KeyValue::new(bulkhead_names::NAME, s.name.clone()),
                                KeyValue::new(bulkhead_names::OUTCOME, outcome.as_str()),
                            ],
                        );
                    }
                }))
                .build(),
            bulkhead_in_flight: meter
                .i64_observable_gauge(bulkhead_names::IN_FLIGHT_METRIC)
                .with_description("Calls inside a bulkhead")
                .with_callback(callback(r, |s: &BulkheadSample, o| {
                    let in_flight = i64::try_from(s.in_flight).unwrap_or(i64::MAX);
                    o.observe(in_flight, &[KeyValue::new(bulkhead_names::NAME, s.name.clone())]);
                }))
                .build(),
        };
        Telemetry {
            inner: Arc::new(Inner {
                registered,
                _instruments: instruments,
            }),
        }
    }

    /// Instruments on the global meter provider's meter `switchyard-resilience`,
    /// made once, on first use: install the global provider before building the
    /// first primitive, or pass a meter with [`Telemetry::new`].
    pub fn global() -> Self {
        static GLOBAL: OnceLock<Telemetry> = OnceLock::new();
        GLOBAL
            .get_or_init(|| {
                let scope = InstrumentationScope::builder("switchyard-resilience")
                    .with_version(env!("CARGO_PKG_VERSION"))
                    .build();
                Telemetry::new(&opentelemetry::global::meter_with_scope(scope))
            })
            .clone()
    }

    pub(crate) fn register_breaker(&self, source: Weak<dyn Source<BreakerSample>>) {
        push(&self.inner.registered.breakers, source);
    }

    pub(crate) fn register_retry(&self, source: Weak<dyn Source<RetrySample>>) {
        push(&self.inner.registered.retries, source);
    }

    pub(crate) fn register_rate_limiter(&self, source: Weak<dyn Source<RateLimitSample>>) {
        push(&self.inner.registered.limiters, source);
    }

    pub(crate) fn register_bulkhead(&self, source: Weak<dyn Source<BulkheadSample>>) {
        push(&self.inner.registered.bulkheads, source);
    }
}

fn push<S>(list: &Sources<S>, source: Weak<dyn Source<S>>) {
    let mut list = list.lock().unwrap_or_else(PoisonError::into_inner);
    list.retain(|weak| weak.strong_count() > 0);
    list.push(source);
}

fn breaker_name(s: &BreakerSample) -> KeyValue {
    KeyValue::new(names::NAME, s.name.clone())
}

/// Which list of sources a sample type lives in.
trait Listed: Sized {
    fn list(registered: &Registered) -> &Sources<Self>;
}

impl Listed for BreakerSample {
    fn list(r: &Registered) -> &Sources<Self> {
        &r.breakers
    }
}
impl Listed for RetrySample {
    fn list(r: &Registered) -> &Sources<Self> {
        &r.retries
    }
}
impl Listed for RateLimitSample {
    fn list(r: &Registered) -> &Sources<Self> {
        &r.limiters
    }
}
impl Listed for BulkheadSample {
    fn list(r: &Registered) -> &Sources<Self> {
        &r.bulkheads
    }
}

/// An instrument callback that samples every source of one kind and reports each
/// sample with `report`. It holds the list weakly: a callback must not keep the
/// primitives (or the list) alive after the [`Telemetry`] is gone.
fn callback<S, T, F>(
    registered: &Arc<Registered>,
    report: F,
) -> impl Fn(&dyn opentelemetry::metrics::AsyncInstrument<T>) + Send + Sync + 'static
where
    S: Listed + 'static,
    F: Fn(&S, &dyn opentelemetry::metrics::AsyncInstrument<T>) + Send + Sync + 'static,
{
    let registered = Arc::downgrade(registered);
    move |observer| {
        let Some(registered) = registered.upgrade() else {
            return;
        };
        for sample in sample_all(S::list(&registered)) {
            report(&sample, observer);
        }
    }
}
