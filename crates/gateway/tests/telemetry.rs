//! Spans and the `route.requests` counter through the real OpenTelemetry SDK: in-memory
//! exporters behind global providers installed before any gateway is built.

mod support;

use std::sync::{Mutex, OnceLock};

use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry::{KeyValue, Value, global};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use support::{client, upstream};
use switchyard_conventions::route;
use switchyard_gateway::{Config, Gateway, RunningGateway};

struct Exporters {
    spans: InMemorySpanExporter,
    meters: SdkMeterProvider,
    metrics: InMemoryMetricExporter,
    /// One collection at a time: each resets the shared exporter first.
    collecting: Mutex<()>,
}

/// Installs the global providers once per test process.
fn exporters() -> &'static Exporters {
    static EXPORTERS: OnceLock<Exporters> = OnceLock::new();
    EXPORTERS.get_or_init(|| {
        let spans = InMemorySpanExporter::default();
        let tracers = SdkTracerProvider::builder()
            .with_simple_exporter(spans.clone())
            .build();
        global::set_tracer_provider(tracers);
        let metrics = InMemoryMetricExporter::default();
        let meters = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(metrics.clone()).build())
            .build();
        global::set_meter_provider(meters.clone());
        Exporters {
            spans,
            meters,
            metrics,
            collecting: Mutex::new(()),
        }
    })
}

async fn start(toml: &str) -> RunningGateway {
    exporters();
    let mut config = Config::from_toml(toml).unwrap_or_else(|e| panic!("{e}"));
    config.listeners = vec!["127.0.0.1:0".to_owned()];
    Gateway::start(config).await.unwrap()
}

/// The finished spans of route `name`.
fn spans_of(name: &str) -> Vec<SpanData> {
    exporters()
        .spans
        .get_finished_spans()
        .unwrap()
        .into_iter()
        .filter(|s| s.name == name)
        .collect()
}

fn attr<'a>(span: &'a SpanData, key: &str) -> &'a Value {
    &span
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .unwrap_or_else(|| panic!("span {} has no {key}", span.name))
        .value
}

/// `(trace id, parent span id)` of a `traceparent` header.
fn parse_traceparent(value: &str) -> (TraceId, SpanId) {
    let parts: Vec<&str> = value.split('-').collect();
    assert_eq!(parts.len(), 4, "traceparent {value}");
    (
        TraceId::from_hex(parts[1]).unwrap(),
        SpanId::from_hex(parts[2]).unwrap(),
    )
}

fn single_route(name: &str, addr: std::net::SocketAddr) -> String {
    format!(
        r#"
        [[cluster]]
        name = "{name}-cluster"
        instances = ["{addr}"]
        [[route]]
        name = "{name}"
        cluster = "{name}-cluster"
        "#
    )
}

fn upstream_traceparent(up: &support::Upstream) -> String {
    up.last_headers
        .lock()
        .unwrap()
        .as_ref()
        .and_then(|h| h.get("traceparent").cloned())
        .expect("the upstream got a traceparent")
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn continues_the_callers_trace_and_passes_its_own_span_upstream() {
    let up = upstream("traced").await;
    let gw = start(&single_route("continued", up.addr)).await;
    let caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let response = client()
        .get(format!("http://{}/orders/1", gw.local_addr()))
        .header("traceparent", format!("00-{caller_trace}-{caller_span}-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let spans = spans_of("continued");
    assert_eq!(spans.len(), 1, "one span per request");
    let span = &spans[0];
    assert_eq!(
        span.span_context.trace_id(),
        TraceId::from_hex(caller_trace).unwrap()
    );
    assert_eq!(span.parent_span_id, SpanId::from_hex(caller_span).unwrap());
    assert_eq!(span.span_kind, opentelemetry::trace::SpanKind::Server);
    assert_eq!(attr(span, route::NAME), &Value::from("continued"));
    assert_eq!(attr(span, route::TARGET), &Value::from("continued-cluster"));
    assert_eq!(attr(span, "http.response.status_code"), &Value::I64(200));
    assert_eq!(attr(span, "http.request.method"), &Value::from("GET"));
    assert_eq!(
        attr(span, "server.port"),
        &Value::I64(i64::from(up.addr.port()))
    );

    let (trace, parent) = parse_traceparent(&upstream_traceparent(&up));
    assert_eq!(trace, span.span_context.trace_id());
    assert_eq!(
        parent,
        span.span_context.span_id(),
        "the upstream's parent is the gateway span"
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn starts_a_trace_when_the_caller_has_none() {
    let up = upstream("fresh").await;
    let gw = start(&single_route("started", up.addr)).await;
    let response = client()
        .get(format!("http://{}/", gw.local_addr()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let spans = spans_of("started");
    assert_eq!(spans.len(), 1);
    let span = &spans[0];
    assert!(span.span_context.is_valid());
    assert_eq!(span.parent_span_id, SpanId::INVALID, "a root span");
    let (trace, parent) = parse_traceparent(&upstream_traceparent(&up));
    assert_eq!(trace, span.span_context.trace_id());
    assert_eq!(parent, span.span_context.span_id());
    gw.shutdown().await;
}

#[tokio::test]
async fn a_failed_upstream_marks_the_span() {
    let up = upstream("broken").await;
    up.set_status(503);
    let gw = start(&single_route("failing", up.addr)).await;
    let response = client()
        .get(format!("http://{}/", gw.local_addr()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    let span = &spans_of("failing")[0];
    assert_eq!(attr(span, "http.response.status_code"), &Value::I64(503));
    assert!(matches!(
        span.status,
        opentelemetry::trace::Status::Error { .. }
    ));
    gw.shutdown().await;
}

/// The current value of `route.requests` for the point with all of `attrs`, 0 if none.
fn route_requests(attrs: &[KeyValue]) -> u64 {
    let exporters = exporters();
    let _one = exporters.collecting.lock().unwrap();
    exporters.metrics.reset();
    exporters.meters.force_flush().unwrap();
    let Some(rm): Option<ResourceMetrics> = exporters.metrics.get_finished_metrics().unwrap().pop()
    else {
        return 0;
    };
    let Some(metric) = rm
        .scope_metrics()
        .flat_map(|s| s.metrics())
        .find(|m| m.name() == route::REQUESTS_METRIC)
    else {
        return 0;
    };
    let AggregatedMetrics::U64(MetricData::Sum(sum)) = metric.data() else {
        panic!("route.requests is not a u64 counter: {:?}", metric.data());
    };
    assert!(sum.is_monotonic());
    sum.data_points()
        .filter(|p| {
            let have: Vec<&KeyValue> = p.attributes().collect();
            attrs.iter().all(|a| have.contains(&a))
        })
        .map(|p| p.value())
        .sum()
}

#[tokio::test]
async fn counts_route_requests_by_target_and_status_class() {
    let up = upstream("counted").await;
    let gw = start(&format!(
        r#"
        [[cluster]]
        name = "counted-cluster"
        instances = ["{}"]
        [[route]]
        name = "counted-private"
        path_prefix = "/private"
        cluster = "counted-cluster"
        auth = {{ api_keys = ["k1"] }}
        [[route]]
        name = "counted"
        cluster = "counted-cluster"
        "#,
        up.addr
    ))
    .await;
    let http = client();
    let base = format!("http://{}", gw.local_addr());
    for _ in 0..3 {
        assert_eq!(
            http.get(format!("{base}/a")).send().await.unwrap().status(),
            200
        );
    }
    up.set_status(500);
    assert_eq!(
        http.get(format!("{base}/a")).send().await.unwrap().status(),
        500
    );
    assert_eq!(
        http.get(format!("{base}/private"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );

    let kv = |k: &'static str, v: &'static str| KeyValue::new(k, v);
    let ok = [
        kv(route::NAME, "counted"),
        kv(route::TARGET, "counted-cluster"),
        kv("route.status_class", "2xx"),
    ];
    assert_eq!(route_requests(&ok), 3);
    let failed = [
        kv(route::NAME, "counted"),
        kv(route::TARGET, "counted-cluster"),
        kv("route.status_class", "5xx"),
    ];
    assert_eq!(route_requests(&failed), 1);
    // Refused at the edge: no target was chosen.
    let refused = [
        kv(route::NAME, "counted-private"),
        kv(route::TARGET, "none"),
        kv("route.status_class", "4xx"),
    ];
    assert_eq!(route_requests(&refused), 1);
    gw.shutdown().await;
}

#[tokio::test]
async fn the_sidecar_records_a_client_span_per_outgoing_call() {
    exporters();
    let up = upstream("egress-traced").await;
    let config = Config::from_toml(&format!(
        r#"listeners = []
        [[cluster]]
        name = "ledger"
        instances = ["{}"]
        [sidecar]
        listen = "127.0.0.1:0"
        service = "billing"
        [[sidecar.destination]]
        host = "ledger.internal"
        cluster = "ledger"
        "#,
        up.addr
    ))
    .unwrap();
    let sidecar = Gateway::new(config)
        .unwrap()
        .serve_sidecar_on(&["127.0.0.1:0".to_owned()])
        .await
        .unwrap();
    let caller_trace = "0af7651916cd43dd8448eb211c80319c";
    let caller_span = "b7ad6b7169203331";
    let http = reqwest::Client::builder()
        .proxy(reqwest::Proxy::http(format!("http://{}", sidecar.local_addr())).unwrap())
        .build()
        .unwrap();
    let response = http
        .post("http://ledger.internal/entries")
        .header("traceparent", format!("00-{caller_trace}-{caller_span}-01"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let spans = spans_of("POST ledger.internal");
    assert_eq!(spans.len(), 1, "one span per outgoing call");
    let span = &spans[0];
    assert_eq!(span.span_kind, opentelemetry::trace::SpanKind::Client);
    assert_eq!(
        span.span_context.trace_id(),
        TraceId::from_hex(caller_trace).unwrap()
    );
    assert_eq!(span.parent_span_id, SpanId::from_hex(caller_span).unwrap());
    assert_eq!(attr(span, "sidecar.service"), &Value::from("billing"));
    assert_eq!(attr(span, "sidecar.destination"), &Value::from("ledger"));
    assert_eq!(
        attr(span, "server.address"),
        &Value::from("ledger.internal")
    );
    assert_eq!(attr(span, "server.port"), &Value::I64(80));
    assert_eq!(attr(span, "http.response.status_code"), &Value::I64(200));
    assert_eq!(
        attr(span, "network.peer.port"),
        &Value::I64(i64::from(up.addr.port()))
    );
    let (trace, parent) = parse_traceparent(&upstream_traceparent(&up));
    assert_eq!(trace, span.span_context.trace_id());
    assert_eq!(parent, span.span_context.span_id());
    sidecar.shutdown().await;
}
