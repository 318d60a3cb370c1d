//! What the three OTLP signals have in common, so gRPC and HTTP handle them
//! with one code path: decode, validate, submit, answer.

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use serde::de::DeserializeOwned;
use switchyard_store::{Batch, IngestError, InvalidRequest, Rejected};

use crate::Shared;

/// One OTLP signal: its request and response types and how to store it.
pub(crate) trait Signal: Send + Sync + 'static {
    type Request: prost::Message + Default + DeserializeOwned + Send + 'static;
    type Response: prost::Message + Default + Send + 'static;

    /// For messages and stats: `traces`, `metrics` or `logs`.
    const NAME: &'static str;

    fn to_batch(request: Self::Request) -> Result<Batch, InvalidRequest>;

    fn response(rejected: &Rejected) -> Self::Response;

    /// The response in OTLP's JSON encoding (int64 counts as strings).
    fn response_json(rejected: &Rejected) -> serde_json::Value {
        if rejected.is_empty() && rejected.message.is_empty() {
            return serde_json::json!({});
        }
        let count = rejected.spans + rejected.data_points + rejected.log_records;
        serde_json::json!({
            "partialSuccess": {
                Self::REJECTED_FIELD: count.to_string(),
                "errorMessage": rejected.message,
            }
        })
    }

    /// The camelCase name of the response's rejected count.
    const REJECTED_FIELD: &'static str;
}

#[derive(Debug)]
pub(crate) struct Traces;
#[derive(Debug)]
pub(crate) struct Metrics;
#[derive(Debug)]
pub(crate) struct Logs;

/// Whether a partial success needs to be reported at all.
fn reported(rejected: &Rejected) -> bool {
    !rejected.is_empty() || !rejected.message.is_empty()
}

impl Signal for Traces {
    type Request = ExportTraceServiceRequest;
    type Response = ExportTraceServiceResponse;
    const NAME: &'static str = "traces";
    const REJECTED_FIELD: &'static str = "rejectedSpans";

    fn to_batch(request: Self::Request) -> Result<Batch, InvalidRequest> {
        Batch::from_traces(request)
    }

    fn response(rejected: &Rejected) -> Self::Response {
        ExportTraceServiceResponse {
            partial_success: reported(rejected).then(|| ExportTracePartialSuccess {
                rejected_spans: rejected.spans as i64,
                error_message: rejected.message.clone(),
            }),
        }
    }
}

impl Signal for Metrics {
    type Request = ExportMetricsServiceRequest;
    type Response = ExportMetricsServiceResponse;
    const NAME: &'static str = "metrics";
    const REJECTED_FIELD: &'static str = "rejectedDataPoints";

    fn to_batch(request: Self::Request) -> Result<Batch, InvalidRequest> {
        Batch::from_metrics(request)
    }

    fn response(rejected: &Rejected) -> Self::Response {
        ExportMetricsServiceResponse {
            partial_success: reported(rejected).then(|| ExportMetricsPartialSuccess {
                rejected_data_points: rejected.data_points as i64,
                error_message: rejected.message.clone(),
            }),
        }
    }
}

impl Signal for Logs {
    type Request = ExportLogsServiceRequest;
    type Response = ExportLogsServiceResponse;
    const NAME: &'static str = "logs";
    const REJECTED_FIELD: &'static str = "rejectedLogRecords";

    fn to_batch(request: Self::Request) -> Result<Batch, InvalidRequest> {
        Batch::from_logs(request)
    }

    fn response(rejected: &Rejected) -> Self::Response {
        ExportLogsServiceResponse {
            partial_success: reported(rejected).then(|| ExportLogsPartialSuccess {
                rejected_log_records: rejected.log_records as i64,
                error_message: rejected.message.clone(),
            }),
        }
    }
}

/// Why a request was not stored. Each transport maps it to its own answer.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The request is malformed; retrying it cannot help.
    Invalid(String),
    /// Too large to queue; retrying it cannot help.
    TooLarge(String),
    /// Overloaded or briefly unable to store; retry after the hint.
    Busy {
        message: String,
        retry_after: std::time::Duration,
    },
}

/// Stores a decoded request and returns what was refused of it.
pub(crate) async fn accept<S: Signal>(
    shared: &Shared,
    request: S::Request,
) -> Result<Rejected, Refusal> {
    let batch = S::to_batch(request).map_err(|e| {
        shared.stats.invalid();
        Refusal::Invalid(e.to_string())
    })?;
    let rejected = batch.rejected().clone();
    let counts = (batch.span_count(), batch.point_count(), batch.log_count());
    match shared.ingest.submit(batch).await {
        Ok(()) => {
            shared.stats.stored(counts, &rejected);
            Ok(rejected)
        }
        Err(e) => {
            shared.stats.refused();
            Err(match e {
                IngestError::TooLarge { .. } => Refusal::TooLarge(e.to_string()),
                IngestError::Busy { retry_after } => Refusal::Busy {
                    message: e.to_string(),
                    retry_after,
                },
                IngestError::Closed | IngestError::Commit(_) => Refusal::Busy {
                    message: e.to_string(),
                    retry_after: shared.retry_after,
                },
            })
        }
    }
}
