//! Builders of OTLP export requests for Switchyard's tests and benchmarks:
//! spans with every field set, metrics of every kind, log records, and the
//! benchmark's standard request (512 spans, 10 attributes and 2 events each).
#![forbid(unsafe_code)]

mod database;
mod nats;
mod postgres;
mod process;
pub mod saga;
mod sse;
mod write_lock;

pub use database::TestDatabase;
pub use nats::NatsServer;
pub use postgres::PostgresServer;
pub use process::ServeProcess;
pub use sse::{SseEvent, SseReader};
pub use write_lock::{WriteLock, hold_write_lock};

use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram,
    HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary,
    SummaryDataPoint, exemplar, exponential_histogram_data_point, metric, number_data_point,
    summary_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use rand::{Rng, RngCore};

/// Now, in Unix nanoseconds.
pub fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_nanos() as u64
}

pub fn random_trace_id(rng: &mut impl RngCore) -> Vec<u8> {
    let mut id = vec![0; 16];
    rng.fill_bytes(&mut id);
    id[0] |= 1; // never all zeroes
    id
}

pub fn random_span_id(rng: &mut impl RngCore) -> Vec<u8> {
    let mut id = vec![0; 8];
    rng.fill_bytes(&mut id);
    id[0] |= 1;
    id
}

pub fn string(value: &str) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(value.into())),
    }
}

pub fn kv(key: &str, value: AnyValue) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(value),
        ..Default::default()
    }
}

pub fn kv_str(key: &str, value: &str) -> KeyValue {
    kv(key, string(value))
}

pub fn kv_int(key: &str, value: i64) -> KeyValue {
    kv(
        key,
        AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        },
    )
}

/// One attribute of every `AnyValue` kind, nested ones included.
pub fn every_value_kind() -> Vec<KeyValue> {
    use any_value::Value as V;
    let v = |value| AnyValue { value: Some(value) };
    vec![
        kv(
            "kind.string",
            v(V::StringValue("ünïcode \"quoted\"\n".into())),
        ),
        kv("kind.bool", v(V::BoolValue(false))),
        kv("kind.int", v(V::IntValue(-9_007_199_254_740_993))),
        kv("kind.double", v(V::DoubleValue(2.0))),
        kv("kind.bytes", v(V::BytesValue(vec![0, 1, 254, 255]))),
        kv(
            "kind.array",
            v(V::ArrayValue(ArrayValue {
                values: vec![
                    v(V::IntValue(1)),
                    v(V::StringValue("two".into())),
                    v(V::BoolValue(true)),
                ],
            })),
        ),
        kv(
            "kind.kvlist",
            v(V::KvlistValue(KeyValueList {
                values: vec![
                    kv("nested.double", v(V::DoubleValue(0.5))),
                    kv(
                        "nested.array",
                        v(V::ArrayValue(ArrayValue {
                            values: vec![v(V::BytesValue(vec![7]))],
                        })),
                    ),
                ],
            })),
        ),
    ]
}

pub fn resource(service: &str) -> Resource {
    Resource {
        attributes: vec![
            kv_str("service.name", service),
            kv_str("service.version", "1.2.3"),
            kv_str("host.name", "testhost"),
        ],
        dropped_attributes_count: 1,
        ..Default::default()
    }
}

pub fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: "switchyard-tests".into(),
        version: "0.1.0".into(),
        attributes: vec![kv_str("scope.attr", "yes")],
        dropped_attributes_count: 2,
    }
}

/// A span with every field set to something other than its default.
pub fn full_span(trace_id: &[u8], span_id: &[u8], parent: &[u8], name: &str, start: u64) -> Span {
    Span {
        trace_id: trace_id.to_vec(),
        span_id: span_id.to_vec(),
        trace_state: "vendor=value".into(),
        parent_span_id: parent.to_vec(),
        flags: 0x101,
        name: name.into(),
        kind: 2,
        start_time_unix_nano: start,
        end_time_unix_nano: start + 1_500_000,
        attributes: every_value_kind(),
        dropped_attributes_count: 3,
        events: vec![
            Event {
                time_unix_nano: start + 10,
                name: "cache.miss".into(),
                attributes: vec![kv_str("cache.key", "order:42")],
                dropped_attributes_count: 1,
            },
            Event {
                time_unix_nano: start + 20,
                name: "exception".into(),
                attributes: Vec::new(),
                dropped_attributes_count: 0,
            },
        ],
        dropped_events_count: 4,
        links: vec![Link {
            trace_id: vec![0xab; 16],
            span_id: vec![0xcd; 8],
            trace_state: "linked=1".into(),
            attributes: vec![kv_str("link.kind", "follows")],
            dropped_attributes_count: 5,
            flags: 0x301,
        }],
        dropped_links_count: 6,
        status: Some(Status {
            message: "payment declined".into(),
            code: 2,
        }),
    }
}

/// A trace request of `spans` under one resource and scope.
pub fn traces_request(service: &str, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource(service)),
            scope_spans: vec![ScopeSpans {
                scope: Some(scope()),
                spans,
                schema_url: "https://opentelemetry.io/schemas/1.30.0".into(),
            }],
            schema_url: "https://opentelemetry.io/schemas/1.29.0".into(),
        }],
    }
}

/// The benchmark's request: `spans` spans in traces of 8, each span with 10
/// attributes and 2 events, from one of a few services.
pub fn load_request(rng: &mut impl Rng, spans: usize, now: u64) -> ExportTraceServiceRequest {
    let services = ["checkout", "payments", "inventory", "shipping"];
    let service = services[rng.random_range(0..services.len())];
    let mut out = Vec::with_capacity(spans);
    let mut trace_id = random_trace_id(rng);
    let mut root = Vec::new();
    for i in 0..spans {
        if i % 8 == 0 {
            trace_id = random_trace_id(rng);
            root = Vec::new();
        }
        let span_id = random_span_id(rng);
        let start = now - rng.random_range(0..1_000_000_000);
        let error = rng.random_range(0..100) == 0;
        out.push(Span {
            trace_id: trace_id.clone(),
            span_id: span_id.clone(),
            parent_span_id: root.clone(),
            name: format!("GET /api/orders/{}", i % 16),
            kind: 2,
            start_time_unix_nano: start,
            end_time_unix_nano: start + rng.random_range(10_000..50_000_000),
            attributes: vec![
                kv_str("http.request.method", "GET"),
                kv_str("http.route", "/api/orders/{id}"),
                kv_int("http.response.status_code", if error { 500 } else { 200 }),
                kv_str("server.address", "orders.svc.cluster.local"),
                kv_int("server.port", 8080),
                kv_str("url.scheme", "http"),
                kv_str("user.id", &format!("u-{}", rng.random_range(0..10_000))),
                kv_str("order.id", &format!("o-{}", rng.random_range(0..1_000_000))),
                kv_str("saga.id", &format!("s-{}", rng.random_range(0..1_000_000))),
                kv_str("cloud.region", "eu-west-1"),
            ],
            events: vec![
                Event {
                    time_unix_nano: start + 1_000,
                    name: "cache.miss".into(),
                    attributes: vec![kv_str("cache.key", "orders")],
                    dropped_attributes_count: 0,
                },
                Event {
                    time_unix_nano: start + 2_000,
                    name: "db.query".into(),
                    attributes: vec![kv_int("db.rows", 12)],
                    dropped_attributes_count: 0,
                },
            ],
            status: Some(Status {
                message: if error {
                    "upstream failed".into()
                } else {
                    String::new()
                },
                code: if error { 2 } else { 0 },
            }),
            ..Default::default()
        });
        if root.is_empty() {
            root = span_id;
        }
    }
    traces_request(service, out)
}

/// One metric of every OTLP kind, each with one point (plus exemplars).
pub fn metrics_request(service: &str, time: u64) -> ExportMetricsServiceRequest {
    let attrs = || {
        vec![
            kv_str("breaker.name", "payments"),
            kv_str("breaker.outcome", "success"),
        ]
    };
    let exemplar = Exemplar {
        filtered_attributes: vec![kv_str("user.id", "u-1")],
        time_unix_nano: time - 5,
        span_id: vec![2; 8],
        trace_id: vec![1; 16],
        value: Some(exemplar::Value::AsDouble(0.25)),
    };
    let number = |value| NumberDataPoint {
        attributes: attrs(),
        start_time_unix_nano: time - 1_000_000_000,
        time_unix_nano: time,
        exemplars: vec![exemplar.clone()],
        flags: 0,
        value: Some(value),
    };
    let metric = |name: &str, unit: &str, data| Metric {
        name: name.into(),
        description: format!("{name} for tests"),
        unit: unit.into(),
        metadata: vec![kv_str("meta", "data")],
        data: Some(data),
    };
    let metrics = vec![
        metric(
            "breaker.state",
            "1",
            metric::Data::Gauge(Gauge {
                data_points: vec![number(number_data_point::Value::AsInt(1))],
            }),
        ),
        metric(
            "breaker.calls",
            "{call}",
            metric::Data::Sum(Sum {
                data_points: vec![number(number_data_point::Value::AsInt(42))],
                aggregation_temporality: 2,
                is_monotonic: true,
            }),
        ),
        metric(
            "breaker.failure_rate",
            "%",
            metric::Data::Gauge(Gauge {
                data_points: vec![number(number_data_point::Value::AsDouble(12.5))],
            }),
        ),
        metric(
            "http.server.request.duration",
            "s",
            metric::Data::Histogram(Histogram {
                data_points: vec![HistogramDataPoint {
                    attributes: attrs(),
                    start_time_unix_nano: time - 1_000_000_000,
                    time_unix_nano: time,
                    count: 6,
                    sum: Some(1.5),
                    bucket_counts: vec![1, 2, 3],
                    explicit_bounds: vec![0.1, 0.5],
                    exemplars: vec![exemplar.clone()],
                    flags: 0,
                    min: Some(0.01),
                    max: Some(0.9),
                }],
                aggregation_temporality: 1,
            }),
        ),
        metric(
            "rpc.duration.exp",
            "ms",
            metric::Data::ExponentialHistogram(ExponentialHistogram {
                data_points: vec![ExponentialHistogramDataPoint {
                    attributes: attrs(),
                    start_time_unix_nano: time - 1_000_000_000,
                    time_unix_nano: time,
                    count: 10,
                    sum: Some(55.0),
                    scale: 3,
                    zero_count: 1,
                    positive: Some(exponential_histogram_data_point::Buckets {
                        offset: -2,
                        bucket_counts: vec![4, 5],
                    }),
                    negative: None,
                    flags: 0,
                    exemplars: Vec::new(),
                    min: Some(0.0),
                    max: Some(20.0),
                    zero_threshold: 0.001,
                }],
                aggregation_temporality: 2,
            }),
        ),
        metric(
            "gc.pause",
            "ms",
            metric::Data::Summary(Summary {
                data_points: vec![SummaryDataPoint {
                    attributes: attrs(),
                    start_time_unix_nano: time - 1_000_000_000,
                    time_unix_nano: time,
                    count: 3,
                    sum: 9.0,
                    quantile_values: vec![
                        summary_data_point::ValueAtQuantile {
                            quantile: 0.5,
                            value: 2.0,
                        },
                        summary_data_point::ValueAtQuantile {
                            quantile: 0.99,
                            value: 5.0,
                        },
                    ],
                    flags: 0,
                }],
            }),
        ),
    ];
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(resource(service)),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(scope()),
                metrics,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

/// `count` log records, each tied to `trace_id` when given.
pub fn logs_request(
    service: &str,
    count: usize,
    time: u64,
    trace_id: Option<&[u8]>,
) -> ExportLogsServiceRequest {
    let log_records = (0..count)
        .map(|i| LogRecord {
            time_unix_nano: time + i as u64,
            observed_time_unix_nano: time + i as u64 + 1,
            severity_number: 17,
            severity_text: "ERROR".into(),
            body: Some(string(&format!("charge failed #{i}"))),
            attributes: every_value_kind(),
            dropped_attributes_count: 1,
            flags: 1,
            trace_id: trace_id.map(<[u8]>::to_vec).unwrap_or_default(),
            span_id: if trace_id.is_some() {
                vec![3; 8]
            } else {
                Vec::new()
            },
            event_name: "payment.failed".into(),
        })
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(resource(service)),
            scope_logs: vec![ScopeLogs {
                scope: Some(scope()),
                log_records,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

/// A trace request written by hand from the OTLP JSON spec: every field and
/// attribute kind, ids in hex, 64-bit integers as strings (and one as a bare
/// number), an unknown field that must be ignored.
pub const TRACE_JSON: &str = include_str!("../data/trace.json");

/// A metrics request written by hand; replace `TIME_START` and `"TIME"` with
/// timestamps before sending. Its second gauge point has no value.
pub const METRICS_JSON: &str = include_str!("../data/metrics.json");

/// A logs request written by hand.
pub const LOGS_JSON: &str = include_str!("../data/logs.json");

/// The trace id used in [`TRACE_JSON`] and [`LOGS_JSON`].
pub const TRACE_JSON_ID: &str = "5b8efff798038103d269b633813fc60c";
