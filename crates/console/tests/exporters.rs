//! The OpenTelemetry SDK's own OTLP exporters (opentelemetry-otlp) send traces,
//! metrics and logs to a running `switchyard serve`, over gRPC and over
//! HTTP/protobuf; the CLI reads them back.

mod support;

use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{
    Link, Span as _, SpanContext, SpanKind, Status, TraceContextExt as _, TraceFlags, TraceId,
    TraceState, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue, SpanId};
use opentelemetry_otlp::{
    Compression, LogExporter, MetricExporter, Protocol, SpanExporter, WithExportConfig as _,
    WithTonicConfig as _,
};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;
use serde_json::json;
use support::{ServeProcess, db_in, json as cli_json, path_str};

#[derive(Debug, Clone, Copy)]
enum Transport {
    Grpc,
    Http,
}

fn resource(service: &str) -> Resource {
    Resource::builder()
        .with_service_name(service.to_owned())
        .with_attribute(KeyValue::new("deployment.environment", "e2e"))
        .build()
}

fn span_exporter(serve: &ServeProcess, transport: Transport) -> SpanExporter {
    match transport {
        Transport::Grpc => SpanExporter::builder()
            .with_tonic()
            .with_endpoint(serve.grpc_url())
            .with_compression(Compression::Gzip)
            .build(),
        Transport::Http => SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(serve.http_url("/v1/traces"))
            .build(),
    }
    .expect("the exporter builds")
}

fn metric_exporter(serve: &ServeProcess, transport: Transport) -> MetricExporter {
    match transport {
        Transport::Grpc => MetricExporter::builder()
            .with_tonic()
            .with_endpoint(serve.grpc_url())
            .build(),
        Transport::Http => MetricExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(serve.http_url("/v1/metrics"))
            .build(),
    }
    .expect("the exporter builds")
}

fn log_exporter(serve: &ServeProcess, transport: Transport) -> LogExporter {
    match transport {
        Transport::Grpc => LogExporter::builder()
            .with_tonic()
            .with_endpoint(serve.grpc_url())
            .build(),
        Transport::Http => LogExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(serve.http_url("/v1/logs"))
            .build(),
    }
    .expect("the exporter builds")
}

/// Emits one saga-like trace, a counter, a histogram, a gauge and a log
/// record through the SDK; returns the trace id.
fn emit(serve: &ServeProcess, transport: Transport, service: &str) -> String {
    let tracer_provider = SdkTracerProvider::builder()
        .with_batch_exporter(span_exporter(serve, transport))
        .with_resource(resource(service))
        .build();
    let tracer = tracer_provider.tracer("switchyard-e2e");
    let linked = SpanContext::new(
        TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap(),
        SpanId::from_hex("b7ad6b7169203331").unwrap(),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    let root = tracer
        .span_builder("saga checkout")
        .with_kind(SpanKind::Server)
        .with_attributes([
            KeyValue::new("saga.name", "checkout"),
            KeyValue::new("saga.id", format!("{service}-1")),
            KeyValue::new("order.total", 12.5),
            KeyValue::new("order.items", 3),
            KeyValue::new("order.vip", true),
            KeyValue::new(
                "order.tags",
                opentelemetry::Value::Array(
                    vec![
                        opentelemetry::StringValue::from("a"),
                        opentelemetry::StringValue::from("b"),
                    ]
                    .into(),
                ),
            ),
        ])
        .start(&tracer);
    let trace_id = root.span_context().trace_id().to_string();
    let cx = Context::current_with_span(root);
    let mut step = tracer
        .span_builder("saga.step charge-card")
        .with_kind(SpanKind::Client)
        .with_links(vec![Link::with_context(linked)])
        .start_with_context(&tracer, &cx);
    step.add_event("retry", vec![KeyValue::new("attempt", 2)]);
    step.set_status(Status::error("card declined"));
    step.end();

    let logger_provider = SdkLoggerProvider::builder()
        .with_batch_exporter(log_exporter(serve, transport))
        .with_resource(resource(service))
        .build();
    let logger = logger_provider.logger("switchyard-e2e");
    let mut record = logger.create_log_record();
    record.set_severity_number(Severity::Error);
    record.set_severity_text("ERROR");
    record.set_body(AnyValue::from(format!("charge failed for {service}")));
    record.add_attribute("saga.id", format!("{service}-1"));
    record.set_trace_context(
        cx.span().span_context().trace_id(),
        cx.span().span_context().span_id(),
        None,
    );
    logger.emit(record);
    cx.span().end();

    let meter_provider = SdkMeterProvider::builder()
        .with_periodic_exporter(metric_exporter(serve, transport))
        .with_resource(resource(service))
        .build();
    let meter = meter_provider.meter("switchyard-e2e");
    let calls = meter
        .u64_counter("breaker.calls")
        .with_unit("{call}")
        .build();
    calls.add(
        5,
        &[
            KeyValue::new("breaker.name", "payments"),
            KeyValue::new("breaker.outcome", "success"),
        ],
    );
    calls.add(
        2,
        &[
            KeyValue::new("breaker.name", "payments"),
            KeyValue::new("breaker.outcome", "failure"),
        ],
    );
    let latency = meter.f64_histogram("call.duration").with_unit("s").build();
    for v in [0.1, 0.2, 0.4] {
        latency.record(v, &[KeyValue::new("breaker.name", "payments")]);
    }
    let state = meter.i64_gauge("breaker.state").build();
    state.record(1, &[KeyValue::new("breaker.name", "payments")]);

    tracer_provider.force_flush().expect("spans flushed");
    logger_provider.force_flush().expect("logs flushed");
    meter_provider.force_flush().expect("metrics flushed");
    tracer_provider.shutdown().expect("tracer shuts down");
    logger_provider.shutdown().expect("logger shuts down");
    meter_provider.shutdown().expect("meter shuts down");
    trace_id
}

#[track_caller]
fn check_trace(db: &str, service: &str, trace_id: &str) {
    let traces = cli_json(&["traces", "--db", db, "--service", service]);
    assert_eq!(traces.as_array().unwrap().len(), 1, "{traces}");
    let summary = &traces[0];
    assert_eq!(summary["trace_id"], trace_id);
    assert_eq!(summary["root_name"], "saga checkout");
    assert_eq!(summary["service"], service);
    assert_eq!(summary["span_count"], 2);
    assert_eq!(summary["error"], true);
    assert!(summary["duration_ns"].as_i64().unwrap() >= 0);
    assert!(summary["start_unix_nano"].as_i64().unwrap() > 1_700_000_000_000_000_000);

    let trace = cli_json(&["trace", trace_id, "--db", db]);
    assert_eq!(trace["trace_id"], trace_id);
    let spans = trace["spans"].as_array().unwrap();
    let root = spans.iter().find(|s| s["name"] == "saga checkout").unwrap();
    let step = spans
        .iter()
        .find(|s| s["name"] == "saga.step charge-card")
        .unwrap();
    assert_eq!(root["kind"], "server");
    assert_eq!(root["parent_span_id"], "");
    assert_eq!(root["service"], service);
    assert_eq!(root["attributes"]["saga.name"], "checkout");
    assert_eq!(root["attributes"]["order.total"], 12.5);
    assert_eq!(root["attributes"]["order.items"], 3);
    assert_eq!(root["attributes"]["order.vip"], true);
    assert_eq!(root["attributes"]["order.tags"], json!(["a", "b"]));
    assert_eq!(root["scope"]["name"], "switchyard-e2e");
    assert_eq!(step["kind"], "client");
    assert_eq!(step["parent_span_id"], root["span_id"]);
    assert_eq!(
        step["status"],
        json!({ "code": "error", "message": "card declined" })
    );
    assert_eq!(step["events"][0]["name"], "retry");
    assert_eq!(step["events"][0]["attributes"]["attempt"], 2);
    assert_eq!(
        step["links"][0]["trace_id"],
        "0af7651916cd43dd8448eb211c80319c"
    );
    assert_eq!(step["links"][0]["span_id"], "b7ad6b7169203331");
    assert!(step["start_unix_nano"].as_i64() >= root["start_unix_nano"].as_i64());
    assert!(step["end_unix_nano"].as_i64() <= root["end_unix_nano"].as_i64());
}

#[track_caller]
fn check_metrics(db: &str, service: &str) {
    let failures = cli_json(&[
        "metrics",
        "breaker.calls",
        "--db",
        db,
        "--service",
        service,
        "--attr",
        "breaker.outcome=failure",
    ]);
    let series = failures.as_array().unwrap();
    assert_eq!(series.len(), 1, "{failures}");
    assert_eq!(series[0]["type"], "sum");
    assert_eq!(series[0]["temporality"], "cumulative");
    assert_eq!(series[0]["monotonic"], true);
    assert_eq!(series[0]["unit"], "{call}");
    assert_eq!(series[0]["attributes"]["breaker.name"], "payments");
    let last = series[0]["points"].as_array().unwrap().last().unwrap();
    assert_eq!(last["last"], 2.0);

    let histogram = cli_json(&["metrics", "call.duration", "--db", db, "--service", service]);
    assert_eq!(histogram[0]["type"], "histogram");
    let point = histogram[0]["points"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(point["count"], 3);
    assert!(
        (point["last"].as_f64().unwrap() - 0.7).abs() < 1e-9,
        "{point}"
    );

    let gauge = cli_json(&["metrics", "breaker.state", "--db", db, "--service", service]);
    assert_eq!(gauge[0]["type"], "gauge");
    assert_eq!(gauge[0]["points"][0]["last"], 1.0);
}

async fn check_logs(db: &std::path::Path, service: &str, trace_id: &str) {
    use sqlx::Connection as _;
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite:{}", db.display()))
        .await
        .unwrap();
    let rows: Vec<(String, i64, Option<String>, Vec<u8>)> = sqlx::query_as(
        "SELECT l.body, l.severity_number, l.severity_text, l.trace_id FROM logs l
         JOIN resources r ON r.id = l.resource_id WHERE r.service_name = ?",
    )
    .bind(service)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, format!("\"charge failed for {service}\""));
    assert_eq!(rows[0].1, Severity::Error as i64);
    assert_eq!(rows[0].2.as_deref(), Some("ERROR"));
    assert_eq!(const_hex(&rows[0].3), trace_id);
}

fn const_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_exporters_reach_serve_over_grpc_and_http() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    let serve = support::serve(&db);
    let serve = std::sync::Arc::new(serve);

    // The SDK's processors block while they flush: keep them off the test's workers.
    let s = serve.clone();
    let grpc_trace = tokio::task::spawn_blocking(move || emit(&s, Transport::Grpc, "over-grpc"))
        .await
        .unwrap();
    let s = serve.clone();
    let http_trace = tokio::task::spawn_blocking(move || emit(&s, Transport::Http, "over-http"))
        .await
        .unwrap();

    let db_str = path_str(&db);
    check_trace(db_str, "over-grpc", &grpc_trace);
    check_trace(db_str, "over-http", &http_trace);
    check_metrics(db_str, "over-grpc");
    check_metrics(db_str, "over-http");
    check_logs(&db, "over-grpc", &grpc_trace).await;
    check_logs(&db, "over-http", &http_trace).await;

    let services = cli_json(&["services", "--db", db_str]);
    let names: Vec<&str> = services
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["over-grpc", "over-http"]);

    std::sync::Arc::into_inner(serve)
        .expect("no other owner")
        .stop();
}
