//! OTLP export of the agent's traces and metrics over gRPC, installed as the global
//! providers so that the gateway's, the saga orchestrator's and the breakers' spans and
//! metrics all go out.
//!
//! Install it before building any part: the resilience crate's `Telemetry::global()`
//! binds the global meter the first time a breaker is built.
//!
//! An unreachable endpoint never stops the agent: spans wait in a bounded buffer
//! (`max_queue`, see [`buffer`]) that drops the oldest once it is full; the drops are
//! counted ([`Telemetry::dropped_spans`]) and exported as the
//! `telemetry.spans.dropped` counter.

pub mod buffer;

use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::global;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use switchyard_conventions::resource::{SERVICE_NAME, SERVICE_VERSION};
use switchyard_conventions::telemetry::SPANS_DROPPED;

use self::buffer::{BoundedSpanProcessor, BufferConfig, DroppedSpans};

use crate::config::TelemetryConfig;

/// How long one export may take before it counts as failed.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);
/// How often metrics are collected and exported.
const METRIC_INTERVAL: Duration = Duration::from_secs(10);
/// How often buffered spans are exported (sooner when the buffer is half full).
const SPAN_INTERVAL: Duration = Duration::from_secs(5);

/// Telemetry could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The OTLP exporter refused its configuration (e.g. a malformed endpoint).
    #[error("OTLP exporter for {endpoint}: {message}")]
    Exporter {
        /// The endpoint configured.
        endpoint: String,
        /// Why.
        message: String,
    },
    /// The span buffer's export thread could not be started.
    #[error("span export thread: {0}")]
    Thread(#[from] std::io::Error),
}

/// The installed providers; [`Telemetry::shutdown`] flushes them.
#[derive(Debug)]
pub struct Telemetry {
    tracer: Option<SdkTracerProvider>,
    meter: Option<SdkMeterProvider>,
    dropped: DroppedSpans,
}

impl Telemetry {
    /// Exports nothing (telemetry disabled); the global providers stay no-ops.
    pub fn disabled() -> Self {
        Telemetry {
            tracer: None,
            meter: None,
            dropped: DroppedSpans::default(),
        }
    }

    /// Builds the exporters and installs the global tracer and meter providers and the
    /// W3C trace-context propagator. Must be called within a Tokio runtime.
    pub fn install(config: &TelemetryConfig, service_name: &str) -> Result<Self, TelemetryError> {
        global::set_text_map_propagator(TraceContextPropagator::new());
        if !config.enabled {
            return Ok(Telemetry::disabled());
        }
        let exporter_error = |e: opentelemetry_otlp::ExporterBuildError| TelemetryError::Exporter {
            endpoint: config.otlp_endpoint.clone(),
            message: e.to_string(),
        };
        let resource = Resource::builder()
            .with_attributes([
                KeyValue::new(SERVICE_NAME, service_name.to_owned()),
                KeyValue::new(SERVICE_VERSION, env!("CARGO_PKG_VERSION")),
            ])
            .build();

        let span_exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(config.otlp_endpoint.clone())
            .with_timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(exporter_error)?;
        let processor = BoundedSpanProcessor::new(
            span_exporter,
            BufferConfig {
                capacity: config.max_queue,
                interval: SPAN_INTERVAL,
                flush_timeout: EXPORT_TIMEOUT,
            },
        )?;
        let dropped = processor.dropped_spans();
        let tracer = SdkTracerProvider::builder()
            .with_resource(resource.clone())
            .with_span_processor(processor)
            .build();

        let metric_exporter = opentelemetry_otlp::MetricExporter::builder()
            .with_tonic()
            .with_endpoint(config.otlp_endpoint.clone())
            .with_timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(exporter_error)?;
        let reader = PeriodicReader::builder(metric_exporter)
            .with_interval(METRIC_INTERVAL)
            .build();
        let meter = SdkMeterProvider::builder()
            .with_resource(resource)
            .with_reader(reader)
            .build();
        // Registered with the provider, which keeps the callback for its lifetime.
        let observed = dropped.clone();
        meter
            .meter(env!("CARGO_PKG_NAME"))
            .u64_observable_counter(SPANS_DROPPED)
            .with_unit("{span}")
            .with_description("Spans dropped, oldest first, while the endpoint could not take them")
            .with_callback(move |counter| counter.observe(observed.get(), &[]))
            .build();

        global::set_tracer_provider(tracer.clone());
        global::set_meter_provider(meter.clone());
        Ok(Telemetry {
            tracer: Some(tracer),
            meter: Some(meter),
            dropped,
        })
    }

    /// Spans dropped, oldest first, because the buffer was full while the endpoint
    /// could not take them (or left over at shutdown).
    pub fn dropped_spans(&self) -> u64 {
        self.dropped.get()
    }

    /// Exports what is buffered and stops the exporters. Blocking: call it from a
    /// blocking context (e.g. `spawn_blocking`) or at the end of `main`.
    pub fn shutdown(self) {
        if let Some(tracer) = self.tracer
            && let Err(e) = tracer.shutdown()
        {
            tracing::warn!(error = %e, "trace export shutdown");
        }
        if let Some(meter) = self.meter
            && let Err(e) = meter.shutdown()
        {
            tracing::warn!(error = %e, "metric export shutdown");
        }
        let dropped = self.dropped.get();
        if dropped > 0 {
            tracing::warn!(dropped, "spans were dropped, oldest first");
        }
    }
}
