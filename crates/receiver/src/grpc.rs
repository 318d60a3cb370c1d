//! OTLP/gRPC: the Trace, Metrics and Logs services of opentelemetry-proto.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tokio::net::TcpListener;
use tonic::codec::CompressionEncoding;
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt as _};

use crate::Shared;
use crate::auth::API_KEY_HEADER;
use crate::signal::{Logs, Metrics, Refusal, Signal, Traces, accept};

#[derive(Debug, Clone)]
struct Otlp {
    shared: Arc<Shared>,
}

async fn export<S: Signal>(
    shared: &Shared,
    request: Request<S::Request>,
) -> Result<Response<S::Response>, Status> {
    match accept::<S>(shared, request.into_inner()).await {
        Ok(rejected) => Ok(Response::new(S::response(&rejected))),
        Err(Refusal::Invalid(message)) => Err(Status::invalid_argument(message)),
        // RESOURCE_EXHAUSTED without RetryInfo: OTLP senders do not retry it.
        Err(Refusal::TooLarge(message)) => Err(Status::resource_exhausted(message)),
        Err(Refusal::Busy {
            message,
            retry_after,
        }) => Err(retry_later(message, retry_after)),
    }
}

/// UNAVAILABLE with a RetryInfo: OTLP senders retry after the delay.
fn retry_later(message: String, retry_after: Duration) -> Status {
    Status::with_error_details(
        Code::Unavailable,
        message,
        ErrorDetails::with_retry_info(Some(retry_after)),
    )
}

#[tonic::async_trait]
impl TraceService for Otlp {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        export::<Traces>(&self.shared, request).await
    }
}

#[tonic::async_trait]
impl MetricsService for Otlp {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        export::<Metrics>(&self.shared, request).await
    }
}

#[tonic::async_trait]
impl LogsService for Otlp {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        export::<Logs>(&self.shared, request).await
    }
}

/// Serves OTLP/gRPC on `listener` until `shutdown` completes, then finishes
/// the requests in flight.
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let otlp = Otlp {
        shared: shared.clone(),
    };
    let limit = shared.max_body_bytes;
    let traces = TraceServiceServer::new(otlp.clone())
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Zstd)
        .max_decoding_message_size(limit);
    let metrics = MetricsServiceServer::new(otlp.clone())
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Zstd)
        .max_decoding_message_size(limit);
    let logs = LogsServiceServer::new(otlp)
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Zstd)
        .max_decoding_message_size(limit);
    tonic::transport::Server::builder()
        // Export requests are large (hundreds of KiB): bigger HTTP/2 windows
        // and frames mean fewer window updates and wake-ups per request.
        .initial_connection_window_size(16 << 20)
        .initial_stream_window_size(4 << 20)
        .max_frame_size(1 << 20)
        .tcp_nodelay(true)
        .layer(EdgeLayer { shared })
        .add_service(traces)
        .add_service(metrics)
        .add_service(logs)
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            shutdown,
        )
        .await
}

/// What happens before tonic decodes a request and after it answers:
/// the API key is checked (so nothing is decoded for a stranger), requests
/// past the in-flight bound are shed, and tonic's codes for undecodable and
/// oversized messages are turned into the ones OTLP asks for.
#[derive(Debug, Clone)]
struct EdgeLayer {
    shared: Arc<Shared>,
}

impl<S> tower::Layer<S> for EdgeLayer {
    type Service = Edge<S>;

    fn layer(&self, inner: S) -> Edge<S> {
        Edge {
            inner,
            shared: self.shared.clone(),
        }
    }
}

#[derive(Debug, Clone)]
struct Edge<S> {
    inner: S,
    shared: Arc<Shared>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl<S, B> tower::Service<http::Request<B>> for Edge<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let key = request.headers().get(API_KEY_HEADER).map(|v| v.as_bytes());
        if !self.shared.keys.allows(key) {
            self.shared.stats.unauthenticated();
            let status = Status::unauthenticated(format!(
                "missing or wrong API key in the {API_KEY_HEADER} metadata"
            ));
            return Box::pin(std::future::ready(Ok(status.into_http())));
        }
        let Ok(permit) = self.shared.in_flight.clone().try_acquire_owned() else {
            self.shared.stats.refused();
            let status = retry_later(
                "too many requests in flight".into(),
                self.shared.retry_after,
            );
            return Box::pin(std::future::ready(Ok(status.into_http())));
        };
        let answer = self.inner.call(request);
        Box::pin(async move {
            let mut response = answer.await?;
            drop(permit);
            fix_status(&mut response);
            Ok(response)
        })
    }
}

/// tonic answers INTERNAL for a message it cannot decode or decompress and
/// OUT_OF_RANGE (which OTLP senders would retry forever) for one over the
/// size limit; OTLP wants INVALID_ARGUMENT and a non-retryable
/// RESOURCE_EXHAUSTED.
fn fix_status(response: &mut http::Response<tonic::body::Body>) {
    let headers = response.headers_mut();
    let Some(code) = headers.get(Status::GRPC_STATUS) else {
        return;
    };
    let message = headers
        .get(Status::GRPC_MESSAGE)
        .map(|m| m.as_bytes())
        .unwrap_or_default();
    let decode_failed = |m: &[u8]| {
        m.starts_with(b"failed to decode Protobuf message")
            || m.starts_with(b"failed%20to%20decode")
            || m.starts_with(b"Error decompressing")
            || m.starts_with(b"Error%20decompressing")
    };
    let too_large = |m: &[u8]| {
        m.windows(b"message length too large".len())
            .any(|w| w == b"message length too large")
            || m.windows(b"length%20too%20large".len())
                .any(|w| w == b"length%20too%20large")
    };
    let new_code = match code.as_bytes() {
        b"13" if decode_failed(message) => Code::InvalidArgument,
        b"11" if too_large(message) => Code::ResourceExhausted,
        _ => return,
    };
    headers.insert(Status::GRPC_STATUS, (new_code as i32).into());
}
