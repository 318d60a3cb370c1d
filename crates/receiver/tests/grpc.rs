//! OTLP/gRPC against a running receiver: tonic clients for well-formed
//! requests, raw HTTP/2 for bytes no client would send.

mod support;

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message as _;
use support::Running;
use switchyard_testkit as kit;
use tonic::Code;
use tonic::codec::CompressionEncoding;
use tonic::metadata::MetadataValue;
use tonic_types::StatusExt as _;

async fn client(running: &Running) -> TraceServiceClient<tonic::transport::Channel> {
    TraceServiceClient::connect(running.grpc())
        .await
        .expect("connects")
}

fn request(spans: usize) -> ExportTraceServiceRequest {
    kit::load_request(&mut rand::rng(), spans, kit::now_nanos())
}

#[tokio::test]
async fn compressed_requests_are_stored() {
    let running = Running::start().await;
    for encoding in [CompressionEncoding::Gzip, CompressionEncoding::Zstd] {
        let mut client = client(&running).await.send_compressed(encoding);
        let response = client.export(request(100)).await.unwrap().into_inner();
        assert_eq!(response.partial_success, None);
    }
    assert_eq!(running.span_count().await, 200);
    running.stop().await;
}

#[tokio::test]
async fn partial_success_is_reported() {
    let running = Running::start().await;
    let mut metrics = kit::metrics_request("payments", kit::now_nanos());
    let gauge = &mut metrics.resource_metrics[0].scope_metrics[0].metrics[0];
    let point = match gauge.data.as_mut().unwrap() {
        opentelemetry_proto::tonic::metrics::v1::metric::Data::Gauge(g) => &mut g.data_points[0],
        _ => unreachable!("the first test metric is a gauge"),
    };
    point.value = None;
    let mut client = MetricsServiceClient::connect(running.grpc()).await.unwrap();
    let response = client.export(metrics).await.unwrap().into_inner();
    let partial = response.partial_success.expect("partial success");
    assert_eq!(partial.rejected_data_points, 1);
    assert!(partial.error_message.contains("data point has no value"));
    assert_eq!(running.receiver.stats().data_points, 5);
    running.stop().await;
}

#[tokio::test]
async fn an_invalid_trace_id_is_invalid_argument_and_stores_nothing() {
    let running = Running::start().await;
    let mut bad = request(10);
    bad.resource_spans[0].scope_spans[0].spans[7].trace_id.pop();
    let status = client(&running).await.export(bad).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status
            .message()
            .contains("spans[7]: trace_id is 15 bytes, must be 16"),
        "{}",
        status.message()
    );
    assert_eq!(running.span_count().await, 0);
    running.stop().await;
}

/// POSTs one gRPC message frame of `payload` and returns the gRPC status code.
async fn raw_grpc(running: &Running, payload: &[u8], compressed: bool) -> (String, String) {
    let mut frame = vec![u8::from(compressed)];
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend_from_slice(payload);
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let mut request = client
        .post(format!(
            "{}/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            running.grpc()
        ))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    if compressed {
        request = request.header("grpc-encoding", "gzip");
    }
    let response = request.body(frame).send().await.unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    (header("grpc-status"), header("grpc-message"))
}

#[tokio::test]
async fn garbage_truncated_and_oversized_messages_get_otlp_codes() {
    let running = Running::start_with(|_, receiver| receiver.max_body_bytes = 64 * 1024).await;
    let (code, message) = raw_grpc(&running, b"\xff\xff\xff\xff garbage", false).await;
    assert_eq!(
        code,
        (Code::InvalidArgument as i32).to_string(),
        "{message}"
    );

    let valid = request(32).encode_to_vec();
    let (code, _) = raw_grpc(&running, &valid[..valid.len() - 7], false).await;
    assert_eq!(code, (Code::InvalidArgument as i32).to_string());

    let (code, _) = raw_grpc(&running, b"not gzip at all", true).await;
    assert_eq!(code, (Code::InvalidArgument as i32).to_string());

    let (code, message) = raw_grpc(&running, &vec![0; 100 * 1024], false).await;
    assert_eq!(
        code,
        (Code::ResourceExhausted as i32).to_string(),
        "{message}"
    );

    // Still serving, nothing of the above stored.
    assert_eq!(running.span_count().await, 0);
    client(&running).await.export(request(32)).await.unwrap();
    assert_eq!(running.span_count().await, 32);
    running.stop().await;
}

#[tokio::test]
async fn api_keys_in_metadata() {
    let running =
        Running::start_with(|_, receiver| receiver.api_keys = support::keys("k-new", "k-old"))
            .await;
    let with_key = |key: Option<&'static str>| {
        let mut request = tonic::Request::new(request(4));
        if let Some(key) = key {
            request
                .metadata_mut()
                .insert("x-otlp-api-key", MetadataValue::from_static(key));
        }
        request
    };
    let mut client = client(&running).await;
    assert_eq!(
        client.export(with_key(None)).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    assert_eq!(
        client
            .export(with_key(Some("nope")))
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    assert_eq!(running.span_count().await, 0);
    client.export(with_key(Some("k-new"))).await.unwrap();
    client.export(with_key(Some("k-old"))).await.unwrap();
    assert_eq!(running.span_count().await, 8);
    running.stop().await;
}

#[tokio::test]
async fn a_stuck_writer_makes_grpc_answer_unavailable_with_retry_info() {
    let running = Running::start_with(|store, _| {
        store.queue_bytes = 1 << 20;
        store.admission_wait = std::time::Duration::from_millis(50);
        store.retry_after = std::time::Duration::from_millis(1500);
    })
    .await;
    let lock = kit::hold_write_lock(&running.dir.path().join("telemetry.db")).await;

    let mut tasks = Vec::new();
    for _ in 0..20 {
        let mut client = client(&running).await;
        tasks.push(tokio::spawn(
            async move { client.export(request(256)).await },
        ));
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    drop(lock);

    let (mut ok, mut unavailable) = (0u64, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => ok += 1,
            Err(status) => {
                assert_eq!(status.code(), Code::Unavailable, "{status:?}");
                let retry = status.get_details_retry_info().expect("RetryInfo detail");
                assert_eq!(
                    retry.retry_delay,
                    Some(std::time::Duration::from_millis(1500))
                );
                unavailable += 1;
            }
        }
    }
    assert!(
        unavailable > 0 && ok > 0,
        "ok {ok}, unavailable {unavailable}"
    );
    assert_eq!(running.span_count().await, ok * 256);
    running.stop().await;
}
