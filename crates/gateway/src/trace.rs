//! W3C trace context on proxied requests: continue the caller's trace (or start one),
//! one server span per request, and pass the context on to the upstream.

use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};
use opentelemetry::global::BoxedTracer;
use opentelemetry::metrics::Counter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanKind, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue, global};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use switchyard_conventions::route;

/// The gateway's tracer and `route.requests` counter, taken from the global providers
/// when the gateway is built (so the agent installs its exporters first).
pub(crate) struct Telemetry {
    pub(crate) tracer: BoxedTracer,
    pub(crate) requests: Counter<u64>,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry").finish_non_exhaustive()
    }
}

impl Telemetry {
    pub(crate) fn from_globals() -> Self {
        let meter = global::meter("switchyard-gateway");
        Telemetry {
            tracer: global::tracer("switchyard-gateway"),
            requests: meter
                .u64_counter(route::REQUESTS_METRIC)
                .with_description("Requests answered per route, target and status class")
                .build(),
        }
    }
}

/// Attribute of `route.requests`: the answer's status class (`2xx` … `5xx`).
pub(crate) const STATUS_CLASS: &str = "route.status_class";

/// The status class of `status`, as a static string (no allocation per request).
pub(crate) fn status_class(status: http::StatusCode) -> &'static str {
    match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// Starts the span of a request on `route`, child of the caller's context if any.
pub(crate) fn start_span(
    tracer: &BoxedTracer,
    headers: &HeaderMap,
    route_name: &str,
    method: &str,
) -> Context {
    let parent = extract(headers);
    let span = tracer
        .span_builder(route_name.to_owned())
        .with_kind(SpanKind::Server)
        .with_attributes([
            KeyValue::new(route::NAME, route_name.to_owned()),
            KeyValue::new("http.request.method", method.to_owned()),
        ])
        .start_with_context(tracer, &parent);
    parent.with_span(span)
}

/// The caller's context from its `traceparent` (an empty one without).
pub(crate) fn extract(headers: &HeaderMap) -> Context {
    TraceContextPropagator::new().extract(&HeaderExtractor(headers))
}

/// Writes `cx` into the upstream request's headers (`traceparent`, `tracestate`).
pub(crate) fn inject(cx: &Context, headers: &mut HeaderMap) {
    TraceContextPropagator::new().inject_context(cx, &mut HeaderInjector(headers));
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}
