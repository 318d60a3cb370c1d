//! The outbox over the in-process bus (headers, order, trace context from the command to
//! the consumer) and the projection lag gauges.

mod support;

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::trace::{
    FutureExt as _, Span as _, TraceContextExt as _, Tracer as _, TracerProvider as _,
};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use support::bank::{Account, Balances, BankCommand};
use switchyard_conventions::eventing::{
    PROJECTION, PROJECTION_LAG_EVENTS_METRIC, PROJECTION_LAG_SECONDS_METRIC,
};
use switchyard_eventing::aggregate::Repository;
use switchyard_eventing::bus::{EventBus, MemoryBus, SubscribeOptions};
use switchyard_eventing::cqrs::{CommandBus, Projector};
use switchyard_eventing::outbox::{OutboxRelay, headers};
use switchyard_eventing::store::{EventStore, Metadata};

#[tokio::test]
async fn outbox_publishes_stored_events_in_order_with_the_commands_trace() {
    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::open_sqlite(&dir.path().join("events.db"))
        .await
        .unwrap();
    let bus: Arc<dyn EventBus> = Arc::new(MemoryBus::new());
    let mut opened = bus
        .subscribe(SubscribeOptions::new("AccountOpened", "mailer"))
        .await
        .unwrap();
    let mut deposits = bus
        .subscribe(SubscribeOptions::new("MoneyDeposited", "ledger"))
        .await
        .unwrap();

    let exporter = opentelemetry_sdk::trace::InMemorySpanExporter::default();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let tracer = provider.tracer("outbox-test");
    let commands = CommandBus::new(Repository::<Account>::new(store.clone()));
    let request = opentelemetry::Context::current_with_span(tracer.start("POST /accounts"));
    let request_span = request.span().span_context().clone();
    let none = Metadata::new();
    commands
        .execute(
            &BankCommand::Open {
                account: "o".into(),
                owner: "Olga".into(),
            },
            &none,
        )
        .with_context(request.clone())
        .await
        .unwrap();
    for amount in [5, 6] {
        commands
            .execute(
                &BankCommand::Deposit {
                    account: "o".into(),
                    amount,
                    request: None,
                },
                &none,
            )
            .await
            .unwrap();
    }

    let relay = OutboxRelay::new(store.clone(), bus.clone(), "main");
    assert_eq!(relay.relay_once().await.unwrap(), 3);
    assert_eq!(
        relay.relay_once().await.unwrap(),
        0,
        "nothing is published twice"
    );
    assert_eq!(relay.position().await.unwrap(), 3);

    let delivery = tokio::time::timeout(Duration::from_secs(10), opened.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let stored = store.read_all(0, 10).await.unwrap();
    assert_eq!(
        delivery.message.id, stored[0].event_id,
        "the event id is the message id"
    );
    assert_eq!(delivery.message.headers[headers::STREAM_ID], "account-o");
    assert_eq!(delivery.message.headers[headers::POSITION], "1");
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&delivery.message.payload).unwrap()["owner"],
        "Olga"
    );
    // The consumer continues the trace of the request that ran the command.
    let consumer_span =
        tracer.start_with_context("process AccountOpened", &delivery.parent_context());
    assert_eq!(
        consumer_span.span_context().trace_id(),
        request_span.trace_id()
    );
    delivery.ack().await.unwrap();

    for version in ["2", "3"] {
        let delivery = tokio::time::timeout(Duration::from_secs(10), deposits.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(
            delivery.message.headers[headers::STREAM_VERSION],
            version,
            "store order"
        );
        delivery.ack().await.unwrap();
    }
}

#[tokio::test]
async fn projection_lag_is_a_metric() {
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    opentelemetry::global::set_meter_provider(provider.clone());

    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::open_sqlite(&dir.path().join("events.db"))
        .await
        .unwrap();
    let commands = CommandBus::new(Repository::<Account>::new(store.clone()));
    let none = Metadata::new();
    commands
        .execute(
            &BankCommand::Open {
                account: "m".into(),
                owner: "Max".into(),
            },
            &none,
        )
        .await
        .unwrap();
    for amount in 1..=4 {
        commands
            .execute(
                &BankCommand::Deposit {
                    account: "m".into(),
                    amount,
                    request: None,
                },
                &none,
            )
            .await
            .unwrap();
    }
    let projector = Projector::new(store.clone(), Balances::default())
        .await
        .unwrap()
        .batch(2);
    let gauge = |name: &str| -> f64 {
        exporter.reset();
        provider.force_flush().unwrap();
        let metrics = exporter.get_finished_metrics().unwrap();
        let latest = metrics.last().expect("an export");
        let metric = latest
            .scope_metrics()
            .flat_map(|s| s.metrics())
            .find(|m| m.name() == name)
            .unwrap_or_else(|| panic!("no metric {name}"));
        let attribute = KeyValue::new(PROJECTION, "balances");
        match metric.data() {
            AggregatedMetrics::U64(MetricData::Gauge(g)) => g
                .data_points()
                .find(|p| p.attributes().any(|a| *a == attribute))
                .map(|p| p.value() as f64),
            AggregatedMetrics::F64(MetricData::Gauge(g)) => g
                .data_points()
                .find(|p| p.attributes().any(|a| *a == attribute))
                .map(|p| p.value()),
            other => panic!("{name}: unexpected {other:?}"),
        }
        .unwrap_or_else(|| panic!("{name} has no point for the projection"))
    };

    projector.lag().await.unwrap();
    assert_eq!(gauge(PROJECTION_LAG_EVENTS_METRIC), 5.0);
    assert!(gauge(PROJECTION_LAG_SECONDS_METRIC) > 0.0);
    projector.step().await.unwrap();
    projector.lag().await.unwrap();
    assert_eq!(gauge(PROJECTION_LAG_EVENTS_METRIC), 3.0);
    projector.catch_up().await.unwrap();
    assert_eq!(gauge(PROJECTION_LAG_EVENTS_METRIC), 0.0);
    assert_eq!(gauge(PROJECTION_LAG_SECONDS_METRIC), 0.0);
}
