//! OTLP export of the agent's traces and metrics over gRPC, installed as the global
//! providers so that the gateway's, the saga orchestrator's and the breakers' spans and
//! metrics all go out.
//!
//! Install it before building any part: the resilience crate's `Telemetry::global()`
//! binds the global meter the first time a breaker is built.
//!
//! An unreachable endpoint never stops the agent: spans wait in a bounded queue
//! (`max_queue`), the batch processor drops new spans once it is full, and the batches
//! the exporter could not deliver are counted here ([`Telemetry::failed_spans`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::global;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider, SpanData, SpanExporter,
};
use switchyard_conventions::resource::{SERVICE_NAME, SERVICE_VERSION};

use crate::config::TelemetryConfig;

/// How long one export may take before it counts as failed.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);
/// How often metrics are collected and exported.
const METRIC_INTERVAL: Duration = Duration::from_secs(10);

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
}

/// The installed providers; [`Telemetry::shutdown`] flushes them.
#[derive(Debug)]
pub struct Telemetry {
    tracer: Option<SdkTracerProvider>,
    meter: Option<SdkMeterProvider>,
    failed_spans: Arc<AtomicU64>,
}

impl Telemetry {
    /// Exports nothing (telemetry disabled); the global providers stay no-ops.
    pub fn disabled() -> Self {
        Telemetry {
            tracer: None,
            meter: None,
            failed_spans: Arc::default(),
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
        let failed_spans = Arc::new(AtomicU64::new(0));
        let counting = CountingExporter {
            inner: span_exporter,
            failed: Arc::clone(&failed_spans),
        };
        let batch = BatchConfigBuilder::default()
            .with_max_queue_size(config.max_queue)
            .with_max_export_batch_size(config.max_queue.min(512))
            .build();
        let processor = BatchSpanProcessor::builder(counting)
            .with_batch_config(batch)
            .build();
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

        global::set_tracer_provider(tracer.clone());
        global::set_meter_provider(meter.clone());
        Ok(Telemetry {
            tracer: Some(tracer),
            meter: Some(meter),
            failed_spans,
        })
    }

    /// Spans in batches the endpoint did not accept (down, refusing, too slow). Spans
    /// the full queue turned away are counted by the SDK itself and reported in its
    /// log at shutdown; it does not expose that count.
    pub fn failed_spans(&self) -> u64 {
        self.failed_spans.load(Ordering::Relaxed)
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
        let failed = self.failed_spans.load(Ordering::Relaxed);
        if failed > 0 {
            tracing::warn!(failed, "spans could not be exported");
        }
    }
}

/// Passes batches to the OTLP exporter and counts the spans of those that failed.
#[derive(Debug)]
struct CountingExporter<E> {
    inner: E,
    failed: Arc<AtomicU64>,
}

impl<E: SpanExporter> SpanExporter for CountingExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let spans = u64::try_from(batch.len()).unwrap_or(u64::MAX);
        let result = self.inner.export(batch).await;
        if result.is_err() {
            let before = self.failed.fetch_add(spans, Ordering::Relaxed);
            // Once per outage-ish: the first failure and then every 10,000 spans.
            if before == 0 || before / 10_000 != (before + spans) / 10_000 {
                tracing::warn!(
                    failed_total = before + spans,
                    "span export failed; the agent keeps serving"
                );
            }
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}
