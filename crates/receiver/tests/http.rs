//! OTLP/HTTP against a running receiver and a real store file.

mod support;

use std::io::Write as _;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message as _;
use reqwest::StatusCode;
use support::Running;
use switchyard_store::attributes::{Attributes, Value};
use switchyard_store::model::{SpanKind, StatusCode as SpanStatus};
use switchyard_store::{MetricQuery, TraceQuery, parse_trace_id};
use switchyard_testkit as kit;

const JSON: &str = "application/json";
const PROTOBUF: &str = "application/x-protobuf";

async fn post(url: &str, content_type: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
    reqwest::Client::new()
        .post(url)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("the request reaches the receiver")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[tokio::test]
async fn a_hand_written_json_trace_reads_back_field_by_field() {
    let running = Running::start().await;
    let response = post(&running.http("/v1/traces"), JSON, kit::TRACE_JSON).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], JSON);
    assert_eq!(response.text().await.unwrap(), "{}");

    let trace_id = parse_trace_id("5b8efff798038103d269b633813fc60c").unwrap();
    let trace = running.reader().trace(&trace_id).await.unwrap().unwrap();
    assert_eq!(trace.spans.len(), 2);
    let (root, step) = (&trace.spans[0], &trace.spans[1]);
    assert_eq!(root.name, "saga checkout");
    assert_eq!(root.kind, SpanKind::Internal);
    assert_eq!(root.parent_span_id, "");
    assert_eq!(root.service, "checkout");
    assert_eq!(root.scope.name, "checkout.saga");
    assert_eq!(root.scope.version, "2.0.1");
    assert_eq!(root.start_unix_nano, 1_544_712_660_000_000_000);
    assert_eq!(root.end_unix_nano, 1_544_712_661_000_000_000);
    assert_eq!(root.status.code, SpanStatus::Error);

    assert_eq!(step.span_id, "eee19b7ec3c1b173");
    assert_eq!(step.parent_span_id, "eee19b7ec3c1b174");
    assert_eq!(step.kind, SpanKind::Client);
    assert_eq!(step.trace_state, "rojo=00f067aa0ba902b7");
    assert_eq!(step.flags, 257);
    assert_eq!(step.status.message, "payments answered 503");
    let a = &step.attributes;
    assert_eq!(a.get("saga.step.index"), Some(&Value::Int(1)));
    assert_eq!(
        a.get("saga.step.attempt"),
        Some(&Value::Int(2)),
        "a bare JSON number is accepted too"
    );
    assert_eq!(a.get("http.response.status_code"), Some(&Value::Int(503)));
    assert_eq!(a.get("retry.ratio"), Some(&Value::Double(0.5)));
    assert_eq!(a.get("idempotent"), Some(&Value::Bool(true)));
    assert_eq!(a.get("payload"), Some(&Value::Bytes(vec![0, 1, 254, 255])));
    assert_eq!(
        a.get("steps"),
        Some(&Value::Array(vec![
            Value::String("reserve".into()),
            Value::String("charge".into())
        ]))
    );
    assert_eq!(
        a.get("card"),
        Some(&Value::KvList(Attributes(vec![
            ("brand".into(), Value::String("visa".into())),
            ("last4".into(), Value::Int(4242)),
        ])))
    );
    assert_eq!(step.dropped_attributes_count, 2);
    assert_eq!(step.dropped_events_count, 3);
    assert_eq!(step.dropped_links_count, 4);
    assert_eq!(step.events[0].name, "exception");
    assert_eq!(step.events[0].time_unix_nano, 1_544_712_660_500_000_000);
    assert_eq!(step.events[0].dropped_attributes_count, 1);
    assert_eq!(
        step.events[0].attributes.get("exception.message"),
        Some(&Value::String("card declined".into()))
    );
    let link = &step.links[0];
    assert_eq!(link.trace_id, "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(link.span_id, "b7ad6b7169203331");
    assert_eq!(link.trace_state, "congo=t61rcWkgMzE");
    assert_eq!(link.flags, 1);
    running.stop().await;
}

#[tokio::test]
async fn json_metrics_report_partial_success_and_logs_are_stored() {
    let running = Running::start().await;
    let now = kit::now_nanos();
    let body = kit::METRICS_JSON
        .replace("TIME_START", &(now - 60_000_000_000).to_string())
        .replace("\"TIME\"", &format!("\"{now}\""));
    let response = post(&running.http("/v1/metrics"), JSON, body).await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(answer["partialSuccess"]["rejectedDataPoints"], "1");
    let message = answer["partialSuccess"]["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("data_points[1]: data point has no value"),
        "{message}"
    );

    let series = running
        .reader()
        .metric_series(&MetricQuery {
            name: "breaker.calls".into(),
            attributes: vec!["breaker.outcome=failure".parse().unwrap()],
            service: Some("payments".into()),
            since_unix_nano: now as i64 - 1_000_000_000,
            until_unix_nano: now as i64 + 1_000_000_000,
            buckets: 1,
        })
        .await
        .unwrap();
    assert_eq!(series[0].points[0].last, 17.0);

    let response = post(&running.http("/v1/logs"), JSON, kit::LOGS_JSON).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(running.receiver.stats().log_records, 1);
    assert_eq!(running.receiver.stats().data_points, 3);
    running.stop().await;
}

#[tokio::test]
async fn gzip_protobuf_is_accepted_and_answered_in_protobuf() {
    let running = Running::start().await;
    let request = kit::load_request(&mut rand::rng(), 64, kit::now_nanos());
    let response = reqwest::Client::new()
        .post(running.http("/v1/traces"))
        .header("content-type", PROTOBUF)
        .header("content-encoding", "gzip")
        .body(gzip(&request.encode_to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], PROTOBUF);
    let answer = ExportTraceServiceResponse::decode(response.bytes().await.unwrap()).unwrap();
    assert_eq!(answer.partial_success, None);
    assert_eq!(running.span_count().await, 64);
    running.stop().await;
}

/// google.rpc.Status, as the receiver's error bodies carry it.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

#[tokio::test]
async fn bad_input_gets_the_protocol_answer_and_stores_nothing() {
    let running = Running::start_with(|_, receiver| receiver.max_body_bytes = 64 * 1024).await;
    let url = running.http("/v1/traces");
    let valid = kit::load_request(&mut rand::rng(), 16, kit::now_nanos()).encode_to_vec();

    // Garbage bytes: 400 with a google.rpc.Status body in protobuf.
    let response = post(&url, PROTOBUF, &b"\xff\xff\xff not protobuf"[..]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let status = RpcStatus::decode(response.bytes().await.unwrap()).unwrap();
    assert_eq!(status.code, 3);
    assert!(
        status.message.contains("not a valid traces request"),
        "{}",
        status.message
    );

    // Truncated protobuf.
    let response = post(&url, PROTOBUF, valid[..valid.len() / 2].to_vec()).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // Wrong content types.
    for content_type in ["text/plain", "application/grpc", "application/xml"] {
        let response = post(&url, content_type, valid.clone()).await;
        assert_eq!(
            response.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type}"
        );
    }

    // Malformed JSON, and a JSON trace id of 15 bytes.
    let response = post(&url, JSON, "{\"resourceSpans\": [").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let short_id = kit::TRACE_JSON.replace(
        "5b8efff798038103d269b633813fc60c",
        "5b8efff798038103d269b633813fc6",
    );
    let response = post(&url, JSON, short_id).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let status: serde_json::Value = response.json().await.unwrap();
    assert_eq!(status["code"], 3);
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("trace_id is 15 bytes, must be 16")
    );

    // Over the size limit: declared, streamed without a length, and a gzip bomb.
    let big = vec![b' '; 100 * 1024];
    let response = post(&url, JSON, big.clone()).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        vec![Ok(big[..50_000].to_vec()), Ok(big[50_000..].to_vec())];
    let streamed = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let response = post(&url, JSON, streamed).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let bomb = gzip(&vec![b' '; 10 << 20]);
    assert!(bomb.len() < 64 * 1024);
    let response = reqwest::Client::new()
        .post(&url)
        .header("content-type", JSON)
        .header("content-encoding", "gzip")
        .body(bomb)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // Not gzip though it says so, and an encoding we don't speak.
    let response = reqwest::Client::new()
        .post(&url)
        .header("content-type", PROTOBUF)
        .header("content-encoding", "gzip")
        .body(valid.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = reqwest::Client::new()
        .post(&url)
        .header("content-type", PROTOBUF)
        .header("content-encoding", "br")
        .body(valid.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // Wrong method and path.
    let response = reqwest::get(&url).await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let response = post(&running.http("/v1/profiles"), PROTOBUF, valid.clone()).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // Nothing of the above was stored, and the server still serves.
    assert_eq!(running.span_count().await, 0);
    let response = post(&url, PROTOBUF, valid).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(running.span_count().await, 16);
    assert!(running.receiver.stats().invalid_requests >= 12);
    running.stop().await;
}

#[tokio::test]
async fn api_keys_are_checked_and_both_keys_work() {
    let running =
        Running::start_with(|_, receiver| receiver.api_keys = support::keys("k-new", "k-old"))
            .await;
    let url = running.http("/v1/traces");
    let body = kit::load_request(&mut rand::rng(), 8, kit::now_nanos()).encode_to_vec();
    let send = |key: Option<&'static str>| {
        let mut request = reqwest::Client::new()
            .post(&url)
            .header("content-type", PROTOBUF)
            .body(body.clone());
        if let Some(key) = key {
            request = request.header("x-otlp-api-key", key);
        }
        request.send()
    };
    assert_eq!(send(None).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        send(Some("k-wrong")).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(running.span_count().await, 0);
    assert_eq!(send(Some("k-new")).await.unwrap().status(), StatusCode::OK);
    assert_eq!(send(Some("k-old")).await.unwrap().status(), StatusCode::OK);
    assert_eq!(running.span_count().await, 16);
    assert_eq!(running.receiver.stats().unauthenticated_requests, 2);
    running.stop().await;
}

#[tokio::test]
async fn a_stuck_writer_makes_http_answer_503_with_retry_after() {
    let running = Running::start_with(|store, _| {
        store.queue_bytes = 1 << 20;
        store.admission_wait = std::time::Duration::from_millis(50);
    })
    .await;
    let lock = kit::hold_write_lock(&running.dir.path().join("telemetry.db")).await;
    let url = running.http("/v1/traces");
    let mut answers = Vec::new();
    let mut pending = Vec::new();
    for _ in 0..20 {
        let body = kit::load_request(&mut rand::rng(), 256, kit::now_nanos()).encode_to_vec();
        let url = url.clone();
        pending.push(tokio::spawn(
            async move { post(&url, PROTOBUF, body).await },
        ));
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    drop(lock);
    for task in pending {
        let response = task.await.unwrap();
        if response.status() == StatusCode::SERVICE_UNAVAILABLE {
            assert!(
                response.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse::<u64>()
                    .unwrap()
                    >= 1
            );
        }
        answers.push(response.status());
    }
    let ok = answers.iter().filter(|s| **s == StatusCode::OK).count() as u64;
    assert!(
        answers.contains(&StatusCode::SERVICE_UNAVAILABLE),
        "{answers:?}"
    );
    assert!(ok > 0);
    // Every acknowledged span is stored; refused requests left nothing.
    assert_eq!(running.span_count().await, ok * 256);
    running.stop().await;
}

#[tokio::test]
async fn trace_search_sees_http_ingest() {
    let running = Running::start().await;
    post(&running.http("/v1/traces"), JSON, kit::TRACE_JSON).await;
    let page = running
        .reader()
        .search_traces(&TraceQuery {
            errors_only: true,
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.traces.len(), 1);
    assert_eq!(page.traces[0].root_name, "saga checkout");
    assert_eq!(page.traces[0].error_count, 2);
    running.stop().await;
}

#[tokio::test]
async fn shutdown_does_not_wait_forever_for_a_client_that_stalls_mid_request() {
    use tokio::io::AsyncWriteExt as _;
    let running = Running::start().await;
    // A client that announces a body and stops sending it half way: its request is
    // in flight for as long as it likes.
    let mut stalled = tokio::net::TcpStream::connect(running.receiver.http_addr().unwrap())
        .await
        .unwrap();
    stalled
        .write_all(
            b"POST /v1/traces HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-protobuf\r\n\
              content-length: 100\r\n\r\n0123456789",
        )
        .await
        .unwrap();
    stalled.flush().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let stopped = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        running
            .receiver
            .shutdown_within(std::time::Duration::from_millis(500)),
    )
    .await;
    assert!(stopped.is_ok(), "shutdown waited on the stalled request");
    drop(stalled);
    running.store.close().await.unwrap();
}
