//! W3C trace context (`traceparent`, `tracestate`) in message headers, so that a
//! consumer's span continues the producer's trace.

use std::collections::BTreeMap;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry_sdk::propagation::TraceContextPropagator;

pub(crate) const TRACEPARENT: &str = "traceparent";

/// Writes `cx`'s span context into `headers` (nothing when `cx` has no valid span).
pub fn inject_context(cx: &opentelemetry::Context, headers: &mut BTreeMap<String, String>) {
    TraceContextPropagator::new().inject_context(cx, &mut HeaderInjector(headers));
}

/// The remote span context in `headers`, or an empty context when there is none or it
/// does not parse.
pub fn extract_context(headers: &BTreeMap<String, String>) -> opentelemetry::Context {
    TraceContextPropagator::new().extract(&HeaderExtractor(headers))
}

struct HeaderInjector<'a>(&'a mut BTreeMap<String, String>);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

struct HeaderExtractor<'a>(&'a BTreeMap<String, String>);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        // Header names are case-insensitive on some transports; try the exact name first.
        self.0.get(key).map(String::as_str).or_else(|| {
            self.0
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(key))
                .map(|(_, value)| value.as_str())
        })
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState,
    };

    use super::*;

    #[test]
    fn round_trip() {
        let span = SpanContext::new(
            TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap(),
            SpanId::from_hex("b7ad6b7169203331").unwrap(),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        );
        let cx = opentelemetry::Context::new().with_remote_span_context(span.clone());
        let mut headers = BTreeMap::new();
        inject_context(&cx, &mut headers);
        assert_eq!(
            headers[TRACEPARENT],
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        );
        let back = extract_context(&headers);
        assert_eq!(back.span().span_context().trace_id(), span.trace_id());
        assert_eq!(back.span().span_context().span_id(), span.span_id());
    }

    #[test]
    fn nothing_without_a_span() {
        let mut headers = BTreeMap::new();
        inject_context(&opentelemetry::Context::new(), &mut headers);
        assert!(headers.is_empty());
        assert!(!extract_context(&headers).span().span_context().is_valid());
    }
}
