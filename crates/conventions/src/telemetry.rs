//! The health of an exporter's own telemetry pipeline.

/// Counter: spans an exporter dropped, oldest first, because its bounded buffer was
/// full while the OTLP endpoint was unreachable or slow. Unit `{span}`.
pub const SPANS_DROPPED: &str = "telemetry.spans.dropped";
