//! Sending OTLP to a running `serve` with the gRPC clients generated from
//! the OTLP protos (what an SDK's exporter does on the wire).

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::trace::v1::Span;
use switchyard_testkit as kit;

use super::ServeProcess;

pub(crate) struct Otlp {
    traces: TraceServiceClient<tonic::transport::Channel>,
    metrics: MetricsServiceClient<tonic::transport::Channel>,
    logs: LogsServiceClient<tonic::transport::Channel>,
}

impl Otlp {
    pub(crate) async fn connect(serve: &ServeProcess) -> Otlp {
        let channel = tonic::transport::Endpoint::from_shared(serve.grpc_url())
            .unwrap()
            .connect()
            .await
            .expect("serve accepts gRPC");
        Otlp {
            traces: TraceServiceClient::new(channel.clone()),
            metrics: MetricsServiceClient::new(channel.clone()),
            logs: LogsServiceClient::new(channel),
        }
    }

    /// Exports spans of `service` in one request; returns once they are committed.
    pub(crate) async fn spans(&mut self, service: &str, spans: Vec<Span>) {
        self.traces_request(kit::traces_request(service, spans))
            .await;
    }

    pub(crate) async fn traces_request(&mut self, request: ExportTraceServiceRequest) {
        let response = self.traces.export(request).await.expect("spans accepted");
        assert_eq!(response.into_inner().partial_success, None);
    }

    pub(crate) async fn metrics(&mut self, request: ExportMetricsServiceRequest) {
        let response = self
            .metrics
            .export(request)
            .await
            .expect("metrics accepted");
        assert_eq!(response.into_inner().partial_success, None);
    }

    pub(crate) async fn logs(&mut self, request: ExportLogsServiceRequest) {
        let response = self.logs.export(request).await.expect("logs accepted");
        assert_eq!(response.into_inner().partial_success, None);
    }
}
