//! How far a projection is behind the event store, and the gauges that report it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use opentelemetry::KeyValue;
use opentelemetry::metrics::ObservableGauge;
use switchyard_conventions::eventing::{
    PROJECTION, PROJECTION_LAG_EVENTS_METRIC, PROJECTION_LAG_SECONDS_METRIC,
};

/// A projection's distance from the head of the event store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Lag {
    /// The projection's checkpoint.
    pub position: i64,
    /// The store's last position.
    pub head: i64,
    /// `head - position`.
    pub events: i64,
    /// Age of the oldest event not yet applied; zero when caught up.
    pub behind: Duration,
}

impl Lag {
    pub(crate) fn new(position: i64, head: i64, oldest_unapplied: Option<SystemTime>) -> Self {
        let behind = oldest_unapplied
            .and_then(|recorded| SystemTime::now().duration_since(recorded).ok())
            .unwrap_or_default();
        Lag {
            position,
            head,
            events: (head - position).max(0),
            behind,
        }
    }
}

/// The last lag measured, read by the gauges' callbacks (which cannot query).
#[derive(Debug)]
pub(crate) struct LagGauges {
    pub(crate) last: Arc<Mutex<Lag>>,
    _events: ObservableGauge<u64>,
    _seconds: ObservableGauge<f64>,
}

impl LagGauges {
    pub(crate) fn register(projection: &str) -> Self {
        let meter = opentelemetry::global::meter("switchyard-eventing");
        let last = Arc::new(Mutex::new(Lag::default()));
        let attributes = [KeyValue::new(PROJECTION, projection.to_owned())];
        let events = {
            let (last, attributes) = (last.clone(), attributes.clone());
            meter
                .u64_observable_gauge(PROJECTION_LAG_EVENTS_METRIC)
                .with_description("events in the store the projection has not applied")
                .with_callback(move |gauge| {
                    let lag = *last.lock().unwrap_or_else(|e| e.into_inner());
                    gauge.observe(lag.events as u64, &attributes);
                })
                .build()
        };
        let seconds = {
            let (last, attributes) = (last.clone(), attributes.clone());
            meter
                .f64_observable_gauge(PROJECTION_LAG_SECONDS_METRIC)
                .with_unit("s")
                .with_description("age of the oldest event the projection has not applied")
                .with_callback(move |gauge| {
                    let lag = *last.lock().unwrap_or_else(|e| e.into_inner());
                    gauge.observe(lag.behind.as_secs_f64(), &attributes);
                })
                .build()
        };
        LagGauges {
            last,
            _events: events,
            _seconds: seconds,
        }
    }

    pub(crate) fn record(&self, lag: Lag) {
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = lag;
    }
}
