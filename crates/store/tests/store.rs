//! The store against real SQLite files: ingest, read back, search, retention,
//! back-pressure and two writers on one file.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use switchyard_store::attributes::Value;
use switchyard_store::model::{SpanKind, StatusCode};
use switchyard_store::{
    AttrFilter, Batch, IngestError, MetricQuery, Reader, Retention, Store, StoreConfig, TraceQuery,
};
use switchyard_testkit as kit;

fn config(dir: &tempfile::TempDir) -> StoreConfig {
    StoreConfig::new(dir.path().join("telemetry.db"))
}

async fn ingest(store: &Store, request: ExportTraceServiceRequest) {
    let batch = Batch::from_traces(request).expect("valid request");
    store.ingest().submit(batch).await.expect("committed");
}

#[tokio::test]
async fn a_trace_reads_back_field_by_field_and_exports_identically() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(config(&dir)).await.unwrap();
    let now = kit::now_nanos();
    let trace_id = vec![0x11; 16];
    let root = kit::full_span(&trace_id, &[1; 8], &[], "checkout", now);
    let child = kit::full_span(&trace_id, &[2; 8], &[1; 8], "charge-card", now + 100);
    let request = kit::traces_request("checkout", vec![root, child]);
    ingest(&store, request.clone()).await;

    let trace = store
        .reader()
        .trace(&trace_id)
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(trace.trace_id, "11".repeat(16));
    assert_eq!(trace.spans.len(), 2);
    let span = &trace.spans[1];
    assert_eq!(span.span_id, "0202020202020202");
    assert_eq!(span.parent_span_id, "0101010101010101");
    assert_eq!(span.name, "charge-card");
    assert_eq!(span.kind, SpanKind::Server);
    assert_eq!(span.service, "checkout");
    assert_eq!(span.start_unix_nano, (now + 100) as i64);
    assert_eq!(span.end_unix_nano, (now + 100 + 1_500_000) as i64);
    assert_eq!(span.status.code, StatusCode::Error);
    assert_eq!(span.status.message, "payment declined");
    assert_eq!(span.trace_state, "vendor=value");
    assert_eq!(span.flags, 0x101);
    assert_eq!(
        (
            span.dropped_attributes_count,
            span.dropped_events_count,
            span.dropped_links_count
        ),
        (3, 4, 6)
    );
    assert_eq!(
        span.attributes.get("kind.double"),
        Some(&Value::Double(2.0))
    );
    assert_eq!(
        span.attributes.get("kind.int"),
        Some(&Value::Int(-9_007_199_254_740_993))
    );
    assert_eq!(
        span.attributes.get("kind.bytes"),
        Some(&Value::Bytes(vec![0, 1, 254, 255]))
    );
    assert_eq!(span.events.len(), 2);
    assert_eq!(span.events[0].name, "cache.miss");
    assert_eq!(span.events[0].time_unix_nano, (now + 110) as i64);
    assert_eq!(span.events[0].dropped_attributes_count, 1);
    assert_eq!(span.links[0].trace_id, "ab".repeat(16));
    assert_eq!(span.links[0].trace_state, "linked=1");
    assert_eq!(span.links[0].flags, 0x301);
    assert_eq!(span.scope.name, "switchyard-tests");
    assert_eq!(span.scope.version, "0.1.0");

    // Every field, attribute kind, resource and scope detail survives export.
    let exported = store
        .reader()
        .export_trace(&trace_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(exported, request);
    store.close().await.unwrap();
}

#[tokio::test]
async fn malformed_ids_refuse_the_request_and_bad_times_only_their_span() {
    let now = kit::now_nanos();
    let mut short = kit::full_span(&[1; 15], &[1; 8], &[], "x", now);
    let err = Batch::from_traces(kit::traces_request("svc", vec![short.clone()])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "resource_spans[0].scope_spans[0].spans[0]: trace_id is 15 bytes, must be 16"
    );
    short.trace_id = vec![1; 16];
    short.links[0].span_id = vec![1; 3];
    assert!(Batch::from_traces(kit::traces_request("svc", vec![short])).is_err());

    let good = kit::full_span(&[1; 16], &[1; 8], &[], "ok", now);
    let mut late = kit::full_span(&[1; 16], &[2; 8], &[], "late", now);
    late.end_time_unix_nano = u64::MAX;
    let batch = Batch::from_traces(kit::traces_request("svc", vec![good, late])).unwrap();
    assert_eq!(batch.span_count(), 1);
    assert_eq!(batch.rejected().spans, 1);
    assert!(
        batch
            .rejected()
            .message
            .contains("spans[1]: timestamp beyond the year 2262")
    );
}

/// Traces: (service, error, duration, attribute) laid out so each filter
/// picks a known subset.
async fn searchable_store(dir: &tempfile::TempDir) -> (Store, Vec<Vec<u8>>, u64) {
    let store = Store::open(config(dir)).await.unwrap();
    let now = kit::now_nanos();
    let mut ids = Vec::new();
    for i in 0..10u8 {
        let trace_id = vec![i + 1; 16];
        let service = if i % 2 == 0 { "checkout" } else { "payments" };
        let mut root = kit::full_span(
            &trace_id,
            &[1; 8],
            &[],
            &format!("root-{i}"),
            now + u64::from(i) * 1_000,
        );
        root.status = None;
        root.attributes = vec![
            kit::kv_int("http.response.status_code", 200),
            kit::kv_str("tenant", &format!("t{}", i % 3)),
        ];
        let mut child = kit::full_span(
            &trace_id,
            &[2; 8],
            &[1; 8],
            "db",
            now + u64::from(i) * 1_000 + 10,
        );
        child.status = (i == 3 || i == 7).then(|| opentelemetry_proto::tonic::trace::v1::Status {
            code: 2,
            message: "timeout".into(),
        });
        child.end_time_unix_nano = child.start_time_unix_nano + u64::from(i) * 1_000_000;
        child.attributes = vec![kit::kv_int(
            "http.response.status_code",
            if i == 5 { 503 } else { 200 },
        )];
        ingest(&store, kit::traces_request(service, vec![root, child])).await;
        ids.push(trace_id);
    }
    (store, ids, now)
}

fn hex_ids(page: &switchyard_store::model::TracePage) -> Vec<String> {
    page.traces.iter().map(|t| t.trace_id.clone()).collect()
}

fn hex(id: &[u8]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn search_filters_each_pick_their_traces_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let (store, ids, now) = searchable_store(&dir).await;
    let reader = store.reader();
    let search = |q: TraceQuery| async move {
        reader
            .search_traces(&TraceQuery { limit: 100, ..q })
            .await
            .unwrap()
    };

    let all = search(TraceQuery::default()).await;
    assert_eq!(
        hex_ids(&all),
        ids.iter().rev().map(|i| hex(i)).collect::<Vec<_>>()
    );
    let first = &all.traces[9];
    assert_eq!(first.root_name, "root-0");
    assert_eq!(first.service, "checkout");
    assert_eq!(first.span_count, 2);
    assert_eq!(first.start_unix_nano, now as i64);

    let errors = search(TraceQuery {
        errors_only: true,
        ..Default::default()
    })
    .await;
    assert_eq!(hex_ids(&errors), vec![hex(&ids[7]), hex(&ids[3])]);
    assert!(errors.traces.iter().all(|t| t.error && t.error_count == 1));

    let payments = search(TraceQuery {
        service: Some("payments".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(payments.traces.len(), 5);
    assert!(payments.traces.iter().all(|t| t.service == "payments"));

    let by_name = search(TraceQuery {
        span_name: Some("root-4".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(hex_ids(&by_name), vec![hex(&ids[4])]);

    let slow = search(TraceQuery {
        min_duration_ns: Some(8_000_000),
        ..Default::default()
    })
    .await;
    assert_eq!(hex_ids(&slow), vec![hex(&ids[9]), hex(&ids[8])]);

    let status = search(TraceQuery {
        attributes: vec!["http.response.status_code=503".parse().unwrap()],
        ..Default::default()
    })
    .await;
    assert_eq!(hex_ids(&status), vec![hex(&ids[5])]);

    let tenant = search(TraceQuery {
        attributes: vec![AttrFilter {
            key: "tenant".into(),
            value: "t1".into(),
        }],
        ..Default::default()
    })
    .await;
    assert_eq!(
        hex_ids(&tenant),
        vec![hex(&ids[7]), hex(&ids[4]), hex(&ids[1])]
    );

    // Resource attributes match too.
    let host = search(TraceQuery {
        attributes: vec!["host.name=testhost".parse().unwrap()],
        ..Default::default()
    })
    .await;
    assert_eq!(host.traces.len(), 10);

    let window = search(TraceQuery {
        since_unix_nano: Some(now as i64 + 2_000),
        until_unix_nano: Some(now as i64 + 4_000),
        ..Default::default()
    })
    .await;
    assert_eq!(
        hex_ids(&window),
        vec![hex(&ids[4]), hex(&ids[3]), hex(&ids[2])]
    );

    let none = search(TraceQuery {
        service: Some("nope".into()),
        ..Default::default()
    })
    .await;
    assert!(none.traces.is_empty() && none.next_cursor.is_none());
    store.close().await.unwrap();
}

#[tokio::test]
async fn paging_visits_every_trace_once() {
    let dir = tempfile::tempdir().unwrap();
    let (store, ids, _) = searchable_store(&dir).await;
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .reader()
            .search_traces(&TraceQuery {
                limit: 3,
                cursor: cursor.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
        seen.extend(hex_ids(&page));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, ids.iter().rev().map(|i| hex(i)).collect::<Vec<_>>());
    let bad = store
        .reader()
        .search_traces(&TraceQuery {
            cursor: Some("garbage".into()),
            ..Default::default()
        })
        .await;
    assert!(bad.unwrap_err().to_string().contains("cursor"));
    store.close().await.unwrap();
}

#[tokio::test]
async fn metrics_of_every_kind_and_logs_are_stored() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(config(&dir)).await.unwrap();
    let now = kit::now_nanos();
    let batch = Batch::from_metrics(kit::metrics_request("payments", now)).unwrap();
    assert_eq!(batch.point_count(), 6);
    store.ingest().submit(batch).await.unwrap();
    let batch = Batch::from_logs(kit::logs_request("payments", 3, now, Some(&[9; 16]))).unwrap();
    store.ingest().submit(batch).await.unwrap();

    let query = |name: &str| MetricQuery {
        name: name.into(),
        attributes: vec!["breaker.name=payments".parse().unwrap()],
        service: None,
        since_unix_nano: now as i64 - 1_000_000_000,
        until_unix_nano: now as i64 + 1_000_000_000,
        buckets: 10,
    };
    let calls = store
        .reader()
        .metric_series(&query("breaker.calls"))
        .await
        .unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].service, "payments");
    assert_eq!(calls[0].temporality, "cumulative");
    assert!(calls[0].monotonic);
    assert_eq!(calls[0].unit, "{call}");
    assert_eq!(calls[0].points[0].last, 42.0);
    let rate = store
        .reader()
        .metric_series(&query("breaker.failure_rate"))
        .await
        .unwrap();
    assert_eq!(rate[0].points[0].mean, 12.5);
    let histogram = store
        .reader()
        .metric_series(&query("http.server.request.duration"))
        .await
        .unwrap();
    assert_eq!(histogram[0].points[0].count, Some(6));
    assert_eq!(histogram[0].points[0].sum, 1.5);
    let summary = store
        .reader()
        .metric_series(&query("gc.pause"))
        .await
        .unwrap();
    assert_eq!(summary[0].points[0].count, Some(3));
    let none = store
        .reader()
        .metric_series(&MetricQuery {
            attributes: vec!["breaker.name=orders".parse().unwrap()],
            ..query("breaker.calls")
        })
        .await
        .unwrap();
    assert!(none.is_empty());

    // The kind-specific columns, read straight from the file.
    store.close().await.unwrap();
    let pool = sqlx::SqlitePool::connect(&format!(
        "sqlite:{}",
        dir.path().join("telemetry.db").display()
    ))
    .await
    .unwrap();
    let buckets: String = sqlx::query_scalar(
        "SELECT p.buckets FROM metric_points p JOIN metrics m ON m.id = p.metric_id WHERE m.name = 'rpc.duration.exp'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let buckets: serde_json::Value = serde_json::from_str(&buckets).unwrap();
    assert_eq!(buckets["scale"], 3);
    assert_eq!(buckets["positive"]["offset"], -2);
    assert_eq!(buckets["positive"]["counts"], serde_json::json!([4, 5]));
    let exemplars: String = sqlx::query_scalar(
        "SELECT p.exemplars FROM metric_points p JOIN metrics m ON m.id = p.metric_id WHERE m.name = 'breaker.state'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(exemplars.contains(&"01".repeat(16)), "{exemplars}");
    let (int_value, double_value): (Option<i64>, Option<f64>) = sqlx::query_as(
        "SELECT p.int_value, p.double_value FROM metric_points p JOIN metrics m ON m.id = p.metric_id WHERE m.name = 'breaker.state'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((int_value, double_value), (Some(1), None));
    let logs: Vec<(String, i64, Vec<u8>)> =
        sqlx::query_as("SELECT body, severity_number, trace_id FROM logs ORDER BY time")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(logs.len(), 3);
    assert_eq!(logs[2], ("\"charge failed #2\"".into(), 17, vec![9; 16]));
}

#[tokio::test]
async fn retention_deletes_by_arrival_age_in_bounded_steps() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&dir);
    cfg.retention = Retention {
        max_age: Some(Duration::from_secs(2)),
        max_bytes: None,
        check_every: Duration::from_millis(50),
        step_rows: 100,
    };
    let store = Store::open(cfg).await.unwrap();
    let mut rng = rand::rng();
    // Span timestamps don't matter, arrival does: the early batch claims to be
    // from the future, the late one from 2018.
    let early = kit::load_request(&mut rng, 1_000, kit::now_nanos() + 3_600_000_000_000);
    let early_ids: Vec<Vec<u8>> = early.resource_spans[0].scope_spans[0]
        .spans
        .iter()
        .map(|s| s.trace_id.clone())
        .collect();
    ingest(&store, early).await;
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    let late = kit::load_request(&mut rng, 1_000, 1_544_712_660_000_000_000);
    ingest(&store, late).await;

    let reader = store.reader().clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while reader.trace(&early_ids[999]).await.unwrap().is_some()
        || reader.trace(&early_ids[0]).await.unwrap().is_some()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "early spans were not deleted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let page = reader
        .search_traces(&TraceQuery {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        page.traces.iter().map(|t| t.span_count).sum::<u64>(),
        1_000,
        "the late batch stays"
    );
    store.close().await.unwrap();
}

#[tokio::test]
async fn retention_keeps_the_file_under_its_size() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("telemetry.db");
    let mut cfg = config(&dir);
    cfg.retention = Retention {
        max_age: None,
        max_bytes: Some(4 << 20),
        check_every: Duration::from_millis(50),
        step_rows: 2_000,
    };
    let store = Store::open(cfg).await.unwrap();
    let mut rng = rand::rng();
    let now = kit::now_nanos();
    // About 20 MB of spans spread over an hour.
    for i in 0..40u64 {
        let request =
            kit::load_request(&mut rng, 512, now - 3_600_000_000_000 + i * 90_000_000_000);
        ingest(&store, request).await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let size = |p: &std::path::Path| std::fs::metadata(p).unwrap().len();
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if size(&path) <= 4 << 20 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "file still {} bytes",
            size(&path)
        );
    }
    // The newest data is what stays.
    let newest = store
        .reader()
        .search_traces(&TraceQuery {
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(newest.traces[0].start_unix_nano > (now - 600_000_000_000) as i64);
    store.close().await.unwrap();
}

#[tokio::test]
async fn a_full_queue_answers_busy_and_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&dir);
    cfg.queue_bytes = 2 << 20;
    cfg.admission_wait = Duration::from_millis(100);
    let path = cfg.path.clone();
    let store = Store::open(cfg).await.unwrap();

    // Another connection holds the write lock: the writer is stuck behind it.
    let lock = kit::hold_write_lock(&path).await;

    let mut rng = rand::rng();
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let request = kit::load_request(&mut rng, 256, kit::now_nanos());
        let ids: Vec<Vec<u8>> = request.resource_spans[0].scope_spans[0]
            .spans
            .iter()
            .map(|s| s.trace_id.clone())
            .collect();
        let ingest = store.ingest();
        tasks.push(tokio::spawn(async move {
            (
                ingest.submit(Batch::from_traces(request).unwrap()).await,
                ids,
            )
        }));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(lock);

    let (mut acked, mut busy) = (std::collections::HashSet::new(), 0);
    for task in tasks {
        match task.await.unwrap() {
            (Ok(()), ids) => acked.extend(ids),
            (Err(IngestError::Busy { retry_after }), _) => {
                assert!(retry_after > Duration::ZERO);
                busy += 1;
            }
            (Err(e), _) => panic!("unexpected {e}"),
        }
    }
    assert!(busy > 0, "the queue never filled");
    assert!(
        !acked.is_empty(),
        "nothing was committed after the lock was released"
    );
    for trace_id in acked {
        assert!(store.reader().trace(&trace_id).await.unwrap().is_some());
    }
    store.close().await.unwrap();
}

use sqlx::Connection as _;

#[tokio::test]
async fn two_writers_on_one_file_keep_every_span() {
    let dir = tempfile::tempdir().unwrap();
    let a = Store::open(config(&dir)).await.unwrap();
    let b = Store::open(config(&dir)).await.unwrap();
    let mut rng = rand::rng();
    let requests: Vec<_> = (0..20)
        .map(|_| kit::load_request(&mut rng, 100, kit::now_nanos()))
        .collect();
    let mut tasks = Vec::new();
    for (i, request) in requests.into_iter().enumerate() {
        let ingest = if i % 2 == 0 { a.ingest() } else { b.ingest() };
        tasks.push(tokio::spawn(async move {
            ingest.submit(Batch::from_traces(request).unwrap()).await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    a.close().await.unwrap();
    b.close().await.unwrap();
    let reader = Reader::open(dir.path().join("telemetry.db")).await.unwrap();
    let page = reader
        .search_traces(&TraceQuery {
            limit: 10_000,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.traces.iter().map(|t| t.span_count).sum::<u64>(), 2_000);
}

#[tokio::test]
async fn opening_a_missing_or_foreign_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = Reader::open(dir.path().join("nope.db")).await.unwrap_err();
    assert!(missing.to_string().starts_with("no telemetry database at"));
    let foreign = dir.path().join("other.db");
    let mut conn =
        sqlx::SqliteConnection::connect(&format!("sqlite:{}?mode=rwc", foreign.display()))
            .await
            .unwrap();
    sqlx::query("CREATE TABLE t (x)")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let err = Reader::open(&foreign).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("is not a Switchyard telemetry database"),
        "{err}"
    );
}

/// A breaker transition as a log record (how a bridged `tracing` event comes).
fn transition_log(
    at: u64,
    to: &str,
) -> opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(kit::resource("shop")),
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord {
                    time_unix_nano: at,
                    attributes: vec![
                        kit::kv_str("breaker.name", "payments"),
                        kit::kv_str("breaker.to", to),
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[tokio::test]
async fn derived_rows_follow_their_telemetry_out_by_arrival() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&dir);
    cfg.retention = Retention {
        max_age: Some(Duration::from_secs(2)),
        max_bytes: None,
        check_every: Duration::from_millis(50),
        step_rows: 100,
    };
    let store = Store::open(cfg).await.unwrap();
    let now = kit::now_nanos();
    let saga = |id: &str, n: u8| {
        let mut s = kit::saga::Saga::new("checkout", id, vec![n; 16], now);
        s.forward("reserve", 0, 1, 1_000_000, None);
        let root = s.root("completed", None);
        let mut spans = s.steps.clone();
        spans.push(root);
        kit::traces_request("orders", spans)
    };
    let submit_logs = |request| async {
        let batch = Batch::from_logs(request).expect("valid request");
        store.ingest().submit(batch).await.expect("committed");
    };
    ingest(&store, saga("old", 1)).await;
    submit_logs(transition_log(now, "open")).await;
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    ingest(&store, saga("new", 2)).await;
    submit_logs(transition_log(now + 1, "closed")).await;

    let reader = store.reader().clone();
    let key = switchyard_store::BreakerKey {
        name: "payments",
        service: None,
    };
    let states = || async {
        let transitions = reader
            .breaker_transitions(key, i64::MIN, i64::MAX)
            .await
            .unwrap();
        transitions
            .into_iter()
            .map(|t| t.to_state)
            .collect::<Vec<_>>()
    };
    // A retention step commits statement by statement: wait for its last one.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while reader.saga_instance("old").await.unwrap().is_some() || states().await.len() > 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the old saga or transition stayed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(reader.saga_spans("old").await.unwrap().is_empty());
    assert!(
        reader.saga_instance("new").await.unwrap().is_some(),
        "the new saga stays"
    );
    assert_eq!(states().await, ["closed"], "the new transition stays");
    assert_eq!(
        reader
            .saga_outcome_counts("checkout", i64::MIN, i64::MAX)
            .await
            .unwrap(),
        [("completed".to_owned(), 1)],
        "the rollups forgot the old instance"
    );
    let steps = reader
        .saga_step_buckets("checkout", i64::MIN, i64::MAX)
        .await
        .unwrap();
    assert_eq!(steps.iter().map(|s| s.count).sum::<i64>(), 1);
    store.close().await.unwrap();
}
