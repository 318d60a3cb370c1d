//! Breaker history and state-at-a-time from breaker metrics, transition span
//! events and transition log records sent over OTLP/gRPC to a real
//! `switchyard serve`.

mod support;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, metric, number_data_point,
};
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::Event;
use support::otlp::Otlp;
use support::{db_in, serve};
use switchyard_console::model::TimeRange;
use switchyard_console::model::breaker::{self, HistoryQuery};
use switchyard_store::{BreakerKey, Reader};
use switchyard_testkit::{self as kit, kv_str};

const T0: u64 = 1_780_000_000_000_000_000;
const SEC: u64 = 1_000_000_000;
const BREAKER: &str = "upstream.payments";

fn point(time: u64, start: u64, value: f64, attributes: Vec<KeyValue>) -> NumberDataPoint {
    NumberDataPoint {
        attributes,
        start_time_unix_nano: start,
        time_unix_nano: time,
        value: Some(number_data_point::Value::AsDouble(value)),
        ..Default::default()
    }
}

fn gauge(name: &str, points: Vec<NumberDataPoint>) -> Metric {
    Metric {
        name: name.into(),
        data: Some(metric::Data::Gauge(Gauge {
            data_points: points,
        })),
        ..Default::default()
    }
}

fn counter(name: &str, points: Vec<NumberDataPoint>) -> Metric {
    Metric {
        name: name.into(),
        data: Some(metric::Data::Sum(Sum {
            data_points: points,
            aggregation_temporality: 2,
            is_monotonic: true,
        })),
        ..Default::default()
    }
}

fn metrics(service: &str, metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(kit::resource(service)),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(kit::scope()),
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn name() -> KeyValue {
    kv_str("breaker.name", BREAKER)
}

/// One export of the breaker's instruments at `t` (the SDK's periodic reader):
/// state, failure rate and cumulative calls by outcome since `start`.
fn export_at(
    t: u64,
    start: u64,
    state: f64,
    rate: f64,
    calls: [f64; 4],
) -> ExportMetricsServiceRequest {
    let outcomes = ["success", "failure", "slow", "rejected"];
    metrics(
        "shop",
        vec![
            gauge("breaker.state", vec![point(t, start, state, vec![name()])]),
            gauge(
                "breaker.failure_rate",
                vec![point(t, start, rate, vec![name()])],
            ),
            counter(
                "breaker.calls",
                outcomes
                    .iter()
                    .zip(calls)
                    .map(|(o, v)| point(t, start, v, vec![name(), kv_str("breaker.outcome", o)]))
                    .collect(),
            ),
        ],
    )
}

fn transition_event(t: u64, from: &str, to: &str, reason: &str) -> Event {
    Event {
        time_unix_nano: t,
        name: "breaker.transition".into(),
        attributes: vec![
            name(),
            kv_str("breaker.from", from),
            kv_str("breaker.to", to),
            kv_str("breaker.reason", reason),
        ],
        dropped_attributes_count: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breaker_history_joins_metrics_and_transitions() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    let serve = serve(&db);
    let mut otlp = Otlp::connect(&serve).await;

    // Exports every 10 s; the process restarts at T0+40s (counters from zero).
    let restart = T0 + 35 * SEC;
    otlp.metrics(export_at(
        T0,
        T0 - 100 * SEC,
        0.0,
        0.0,
        [100.0, 0.0, 0.0, 0.0],
    ))
    .await;
    otlp.metrics(export_at(
        T0 + 10 * SEC,
        T0 - 100 * SEC,
        0.0,
        30.0,
        [110.0, 6.0, 0.0, 0.0],
    ))
    .await;
    otlp.metrics(export_at(
        T0 + 20 * SEC,
        T0 - 100 * SEC,
        1.0,
        55.0,
        [110.0, 9.0, 0.0, 25.0],
    ))
    .await;
    otlp.metrics(export_at(
        T0 + 30 * SEC,
        T0 - 100 * SEC,
        2.0,
        50.0,
        [111.0, 9.0, 0.0, 40.0],
    ))
    .await;
    otlp.metrics(export_at(
        T0 + 40 * SEC,
        restart,
        0.0,
        0.0,
        [7.0, 0.0, 0.0, 0.0],
    ))
    .await;

    // The call that tripped it, with the transition as a span event...
    let trace_id = vec![7; 16];
    otlp.spans(
        "shop",
        vec![Span {
            trace_id: trace_id.clone(),
            span_id: vec![1; 8],
            name: "POST /charge".into(),
            start_time_unix_nano: T0 + 14 * SEC,
            end_time_unix_nano: T0 + 15 * SEC,
            events: vec![transition_event(
                T0 + 15 * SEC,
                "closed",
                "open",
                "threshold",
            )],
            ..Default::default()
        }],
    )
    .await;
    // ...a span rejected while it was open...
    otlp.spans(
        "shop",
        vec![Span {
            trace_id: vec![8; 16],
            span_id: vec![2; 8],
            name: "POST /charge".into(),
            start_time_unix_nano: T0 + 20 * SEC,
            end_time_unix_nano: T0 + 20 * SEC + 1_000,
            ..Default::default()
        }],
    )
    .await;
    // ...and the later transitions as log records (a bridged `tracing` event).
    let log = |t: u64, from: &str, to: &str, reason: &str| LogRecord {
        time_unix_nano: t,
        body: Some(kit::string("breaker.transition")),
        attributes: vec![
            name(),
            kv_str("breaker.from", from),
            kv_str("breaker.to", to),
            kv_str("breaker.reason", reason),
        ],
        ..Default::default()
    };
    let logs = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(kit::resource("shop")),
            scope_logs: vec![ScopeLogs {
                scope: Some(kit::scope()),
                log_records: vec![
                    log(T0 + 25 * SEC, "open", "half_open", "timeout"),
                    log(T0 + 33 * SEC, "half_open", "closed", "probe"),
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    // Sent twice: a retried export stores its transitions once.
    otlp.logs(logs.clone()).await;
    otlp.logs(logs).await;

    let reader = Reader::open(&db).await.unwrap();
    let history = breaker::history(
        &reader,
        &HistoryQuery {
            breaker: BREAKER.into(),
            service: Some("shop".into()),
            range: TimeRange::new((T0 + 5 * SEC) as i64, (T0 + 45 * SEC) as i64).unwrap(),
            interval_ns: (10 * SEC) as i64,
        },
    )
    .await
    .unwrap();

    let states: Vec<(&str, i64, Option<&str>)> = history
        .states
        .iter()
        .map(|s| {
            (
                s.state.as_str(),
                (s.since_unix_nano - T0 as i64) / SEC as i64,
                s.reason.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("closed", 5, None),
            ("open", 15, Some("threshold")),
            ("half_open", 25, Some("timeout")),
            ("closed", 33, Some("probe")),
        ]
    );
    assert_eq!(history.transitions.len(), 3, "each transition once");
    assert_eq!(
        history.transitions[0].trace_id.as_deref(),
        Some("07".repeat(16).as_str())
    );

    // Intervals from T0+5s: [5,15) [15,25) [25,35) [35,45).
    let calls: Vec<[i64; 3]> = history
        .calls
        .iter()
        .map(|c| [c.calls.success, c.calls.failure, c.calls.rejected])
        .collect();
    assert_eq!(
        calls,
        [[10, 6, 0], [0, 3, 25], [1, 0, 15], [7, 0, 0]],
        "deltas of cumulative counters; after the restart the new values count whole"
    );
    let rates: Vec<f64> = history.failure_rate.iter().map(|p| p.percent).collect();
    assert_eq!(rates, [30.0, 55.0, 50.0, 0.0]);

    // The state on the rejected span's trace: open, rejecting, calls around it.
    let key = BreakerKey {
        name: BREAKER,
        service: Some("shop"),
    };
    let at = breaker::state_for_span(
        &reader,
        &"08".repeat(16),
        &"02".repeat(8),
        key,
        (10 * SEC) as i64,
    )
    .await
    .unwrap();
    assert_eq!(at.state.as_deref(), Some("open"));
    assert!(at.rejecting);
    assert_eq!(at.reason.as_deref(), Some("threshold"));
    assert_eq!(
        at.calls_around.rejected, 40,
        "rejected between T0+10s and T0+30s"
    );

    // The board over the whole run: closed again at its end, every call counted.
    let board = breaker::board(
        &reader,
        TimeRange::new((T0 - 60 * SEC) as i64, (T0 + 60 * SEC) as i64).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(board.len(), 1);
    assert_eq!(
        (board[0].breaker.as_str(), board[0].service.as_str()),
        (BREAKER, "shop")
    );
    assert_eq!(board[0].state.as_deref(), Some("closed"));
    assert_eq!(
        (
            board[0].calls.success,
            board[0].calls.failure,
            board[0].calls.rejected
        ),
        (18, 9, 40),
        "from the first point (its series began before the range: a baseline) on"
    );

    let before = breaker::state_at(&reader, key, (T0 - 10 * SEC) as i64, 0)
        .await
        .unwrap();
    assert_eq!(before.state, None, "nothing known before the first report");
    let unknown = breaker::state_for_span(&reader, &"09".repeat(16), &"02".repeat(8), key, 0).await;
    assert!(unknown.unwrap_err().to_string().contains("no trace"));
    // serve drains open connections before it exits; a runtime thread closes
    // this one while `stop` blocks the test's.
    drop(otlp);
    serve.stop();
}
