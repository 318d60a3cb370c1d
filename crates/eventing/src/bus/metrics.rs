//! Observable OpenTelemetry instruments over the consumer groups of one bus.
//!
//! Callbacks are synchronous and run on the metrics reader's schedule, so each bus
//! hands out a cheap snapshot (the JetStream bus from a cache that a background task
//! refreshes). The callbacks hold a weak reference: a dropped bus reports nothing.

use std::sync::{Arc, Weak};

use opentelemetry::KeyValue;
use opentelemetry::metrics::{AsyncInstrument, Meter};
use switchyard_conventions::eventing::{
    CONSUMER_DEAD_LETTERS_METRIC, CONSUMER_LAG_METRIC, CONSUMER_PAUSED_METRIC,
    CONSUMER_REDELIVERIES_METRIC, GROUP, TOPIC,
};

/// One group's figures at the time of a metrics collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupMetrics {
    pub(crate) topic: String,
    pub(crate) group: String,
    pub(crate) lag: u64,
    pub(crate) redeliveries: u64,
    pub(crate) dead_lettered: u64,
    pub(crate) paused: bool,
}

/// A bus whose groups can be measured without blocking.
pub(crate) trait MetricsSource: Send + Sync + 'static {
    fn group_metrics(&self) -> Vec<GroupMetrics>;
}

/// Registers the four consumer instruments on the global meter `switchyard-eventing`.
pub(crate) fn register(source: Weak<dyn MetricsSource>) {
    register_on(&opentelemetry::global::meter("switchyard-eventing"), source);
}

fn register_on(meter: &Meter, source: Weak<dyn MetricsSource>) {
    let observe = move |read: fn(&GroupMetrics) -> u64| {
        let source = source.clone();
        move |instrument: &dyn AsyncInstrument<u64>| {
            let Some(source) = source.upgrade() else {
                return;
            };
            for group in source.group_metrics() {
                instrument.observe(read(&group), &attributes(&group));
            }
        }
    };
    meter
        .u64_observable_gauge(CONSUMER_LAG_METRIC)
        .with_description("Messages the consumer group has not acknowledged yet")
        .with_callback(observe(|g| g.lag))
        .build();
    meter
        .u64_observable_counter(CONSUMER_REDELIVERIES_METRIC)
        .with_description("Deliveries after the first one")
        .with_callback(observe(|g| g.redeliveries))
        .build();
    meter
        .u64_observable_counter(CONSUMER_DEAD_LETTERS_METRIC)
        .with_description("Messages the consumer group moved to the dead letters")
        .with_callback(observe(|g| g.dead_lettered))
        .build();
    meter
        .u64_observable_gauge(CONSUMER_PAUSED_METRIC)
        .with_description("1 while the consumer group is paused")
        .with_callback(observe(|g| u64::from(g.paused)))
        .build();
}

fn attributes(group: &GroupMetrics) -> [KeyValue; 2] {
    [
        KeyValue::new(TOPIC, group.topic.clone()),
        KeyValue::new(GROUP, group.group.clone()),
    ]
}

/// Coerces an `Arc` of a bus's state to the weak trait object [`register`] takes.
pub(crate) fn weak_source<T: MetricsSource>(state: &Arc<T>) -> Weak<dyn MetricsSource> {
    let weak: Weak<T> = Arc::downgrade(state);
    weak
}
