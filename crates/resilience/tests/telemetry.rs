//! Metrics and transition events through the real OpenTelemetry SDK: an in-memory
//! metric exporter behind a periodic reader, and an in-memory span exporter.

use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider;
use opentelemetry::trace::{Tracer, TracerProvider};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use switchyard_resilience::Telemetry;
use switchyard_resilience::breaker::{Breaker, BreakerConfig, Command};
use switchyard_resilience::bulkhead::Bulkhead;
use switchyard_resilience::rate_limit::{LimitMode, Quota, RateLimiter};
use switchyard_resilience::retry::{Backoff, RetryPolicy};

struct Metrics {
    provider: SdkMeterProvider,
    exporter: InMemoryMetricExporter,
    telemetry: Telemetry,
}

impl Metrics {
    fn new() -> Self {
        let exporter = InMemoryMetricExporter::default();
        let provider = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(exporter.clone()).build())
            .build();
        let telemetry = Telemetry::new(&provider.meter("switchyard-resilience-test"));
        Metrics {
            provider,
            exporter,
            telemetry,
        }
    }

    /// Collects now and returns the latest export.
    fn collect(&self) -> ResourceMetrics {
        self.try_collect().expect("one export")
    }

    /// Collects now; `None` when there was nothing to export.
    fn try_collect(&self) -> Option<ResourceMetrics> {
        self.exporter.reset();
        self.provider.force_flush().unwrap();
        self.exporter.get_finished_metrics().unwrap().pop()
    }
}

/// The value of the data point of metric `name` whose attributes include `attrs`.
#[track_caller]
fn point<const N: usize>(rm: &ResourceMetrics, name: &str, attrs: [KeyValue; N]) -> f64 {
    let metric = rm
        .scope_metrics()
        .flat_map(|s| s.metrics())
        .find(|m| m.name() == name)
        .unwrap_or_else(|| panic!("no metric {name}"));
    let matches = |point_attrs: Vec<&KeyValue>| attrs.iter().all(|a| point_attrs.contains(&a));
    let found = match metric.data() {
        AggregatedMetrics::U64(MetricData::Sum(sum)) => {
            assert!(sum.is_monotonic(), "{name} is a counter");
            sum.data_points()
                .find(|p| matches(p.attributes().collect()))
                .map(|p| p.value() as f64)
        }
        AggregatedMetrics::I64(MetricData::Gauge(g)) => g
            .data_points()
            .find(|p| matches(p.attributes().collect()))
            .map(|p| p.value() as f64),
        AggregatedMetrics::F64(MetricData::Gauge(g)) => g
            .data_points()
            .find(|p| matches(p.attributes().collect()))
            .map(|p| p.value()),
        other => panic!("{name}: unexpected data {other:?}"),
    };
    found.unwrap_or_else(|| panic!("{name}: no point with {attrs:?}"))
}

fn kv(k: &'static str, v: &'static str) -> KeyValue {
    KeyValue::new(k, v)
}

#[test]
fn breaker_reports_state_calls_and_failure_rate() {
    let m = Metrics::new();
    let config = BreakerConfig::default()
        .count_window(10)
        .minimum_calls(10)
        .failure_rate_threshold(50.0);
    let b = Breaker::builder("payments")
        .config(config)
        .telemetry(m.telemetry.clone())
        .build()
        .unwrap();
    let name = kv("breaker.name", "payments");
    for i in 0..10 {
        let _ = b.call_sync(|| if i % 5 == 0 { Err(()) } else { Ok(()) });
    }
    let rm = m.collect();
    assert_eq!(point(&rm, "breaker.state", [name.clone()]), 0.0);
    assert_eq!(point(&rm, "breaker.failure_rate", [name.clone()]), 20.0);
    assert_eq!(
        point(
            &rm,
            "breaker.calls",
            [name.clone(), kv("breaker.outcome", "success")]
        ),
        8.0
    );
    assert_eq!(
        point(
            &rm,
            "breaker.calls",
            [name.clone(), kv("breaker.outcome", "failure")]
        ),
        2.0
    );

    for _ in 0..4 {
        let _ = b.call_sync(|| Err::<(), _>(()));
    }
    let _ = b.call_sync(|| Ok::<_, ()>(())); // rejected
    let rm = m.collect();
    assert_eq!(point(&rm, "breaker.state", [name.clone()]), 1.0, "open");
    assert_eq!(point(&rm, "breaker.failure_rate", [name.clone()]), 50.0);
    assert_eq!(
        point(
            &rm,
            "breaker.calls",
            [name.clone(), kv("breaker.outcome", "rejected")]
        ),
        1.0
    );
    assert_eq!(
        point(
            &rm,
            "breaker.calls",
            [name.clone(), kv("breaker.outcome", "failure")]
        ),
        6.0
    );

    b.handle().observe(Command::new("ops", "dry run"));
    let _ = b.call_sync(|| Ok::<_, ()>(()));
    let rm = m.collect();
    assert_eq!(
        point(&rm, "breaker.state", [name.clone()]),
        5.0,
        "observe_only"
    );
    assert_eq!(point(&rm, "breaker.would_reject", [name]), 1.0);
}

#[tokio::test(start_paused = true)]
async fn retry_limiter_and_bulkhead_count_their_outcomes() {
    let m = Metrics::new();
    let retry = RetryPolicy::builder("inventory")
        .max_attempts(3)
        .backoff(Backoff::new(
            Duration::from_millis(10),
            Duration::from_millis(100),
        ))
        .telemetry(m.telemetry.clone())
        .build()
        .unwrap();
    let _ = retry.call(|| async { Err::<(), _>("down") }).await;
    let _ = retry.call(|| async { Ok::<_, &str>(()) }).await;

    let limiter = RateLimiter::builder("api", Quota::per_second(1))
        .telemetry(m.telemetry.clone())
        .build::<()>()
        .unwrap();
    assert!(limiter.check(&()).is_ok());
    assert!(limiter.check(&()).is_err());
    limiter.set_mode(LimitMode::ObserveOnly);
    assert!(limiter.check(&()).is_ok());

    let bulkhead = Bulkhead::with_telemetry("db", 1, m.telemetry.clone()).unwrap();
    let held = bulkhead.try_enter().unwrap();
    assert!(bulkhead.try_enter().is_err());

    let rm = m.collect();
    let r = kv("retry.name", "inventory");
    assert_eq!(
        point(
            &rm,
            "retry.calls",
            [r.clone(), kv("retry.outcome", "exhausted")]
        ),
        1.0
    );
    assert_eq!(
        point(
            &rm,
            "retry.calls",
            [r.clone(), kv("retry.outcome", "success")]
        ),
        1.0
    );
    assert_eq!(point(&rm, "retry.attempts", [r]), 2.0);
    let l = kv("ratelimit.name", "api");
    for (outcome, n) in [("allowed", 1.0), ("rejected", 1.0), ("would_reject", 1.0)] {
        assert_eq!(
            point(
                &rm,
                "ratelimit.calls",
                [l.clone(), kv("ratelimit.outcome", outcome)]
            ),
            n,
            "{outcome}"
        );
    }
    let h = kv("bulkhead.name", "db");
    assert_eq!(
        point(
            &rm,
            "bulkhead.calls",
            [h.clone(), kv("bulkhead.outcome", "admitted")]
        ),
        1.0
    );
    assert_eq!(
        point(
            &rm,
            "bulkhead.calls",
            [h.clone(), kv("bulkhead.outcome", "rejected")]
        ),
        1.0
    );
    assert_eq!(point(&rm, "bulkhead.in_flight", [h.clone()]), 1.0);
    drop(held);
    assert_eq!(point(&m.collect(), "bulkhead.in_flight", [h]), 0.0);
}

#[test]
fn dropped_breakers_stop_reporting() {
    let m = Metrics::new();
    let b = Breaker::builder("short-lived")
        .telemetry(m.telemetry.clone())
        .build()
        .unwrap();
    let _ = b.call_sync(|| Ok::<_, ()>(()));
    assert_eq!(
        point(
            &m.collect(),
            "breaker.state",
            [kv("breaker.name", "short-lived")]
        ),
        0.0
    );
    drop(b);
    // Nothing left to observe: either no export at all, or one without breaker metrics.
    if let Some(rm) = m.try_collect() {
        let names: Vec<_> = rm
            .scope_metrics()
            .flat_map(|s| s.metrics())
            .map(|m| m.name().to_owned())
            .collect();
        assert!(!names.contains(&"breaker.state".to_owned()), "{names:?}");
    }
}

#[test]
fn transitions_are_span_events_on_the_current_span() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let tracer = provider.tracer("test");
    let config = BreakerConfig::default().count_window(2).minimum_calls(2);
    let b = Breaker::new("checkout", config).unwrap();
    tracer.in_span("call checkout", |_cx| {
        let _ = b.call_sync(|| Err::<(), _>(()));
        let _ = b.call_sync(|| Err::<(), _>(()));
    });
    b.handle().trip(Command::new("ops", "outside any span")); // no current span: no event
    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    assert_eq!(spans.len(), 1);
    let events: Vec<_> = spans[0].events.iter().collect();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].name, "breaker.transition");
    for attr in [
        kv("breaker.name", "checkout"),
        kv("breaker.from", "closed"),
        kv("breaker.to", "open"),
        kv("breaker.reason", "threshold"),
    ] {
        assert!(
            events[0].attributes.contains(&attr),
            "{attr:?} in {:?}",
            events[0].attributes
        );
    }
}
