//! OTLP JSON files: one export request per file (the OTLP JSON encoding), or
//! one request per line as the OpenTelemetry Collector's file exporter writes
//! them, with traces, metrics and logs mixed. `.gz` files are decompressed.

use std::io::Read as _;
use std::path::Path;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::logs::v1::ResourceLogs;
use opentelemetry_proto::tonic::metrics::v1::ResourceMetrics;
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use serde::Deserialize;
use switchyard_store::Batch;

/// Reading a file failed; nothing of it was stored.
#[derive(Debug, thiserror::Error)]
pub enum OtlpFileError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: not OTLP JSON: {message}")]
    Json {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: request {index}: {message}")]
    Invalid {
        path: String,
        index: usize,
        message: String,
    },
}

/// Any of the three export requests; a line of the Collector's file exporter
/// holds exactly one kind, but reading them together costs nothing.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct AnyRequest {
    resource_spans: Vec<ResourceSpans>,
    resource_metrics: Vec<ResourceMetrics>,
    resource_logs: Vec<ResourceLogs>,
}

/// What one file holds, validated and encoded for the store.
#[derive(Debug, Default)]
pub struct FileContents {
    pub batches: Vec<Batch>,
    pub requests: usize,
}

/// Reads and validates a whole file before anything is stored, so a bad line
/// leaves the store untouched.
pub fn read(path: &Path) -> Result<FileContents, OtlpFileError> {
    let name = path.display().to_string();
    let io = |source| OtlpFileError::Io {
        path: name.clone(),
        source,
    };
    let raw = std::fs::read(path).map_err(io)?;
    let text = if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(io)?;
        out
    } else {
        raw
    };
    parse(&name, &text)
}

/// Parses file contents; `name` is used in error messages.
pub fn parse(name: &str, text: &[u8]) -> Result<FileContents, OtlpFileError> {
    let mut contents = FileContents::default();
    let stream = serde_json::Deserializer::from_slice(text).into_iter::<AnyRequest>();
    for (index, request) in stream.enumerate() {
        let request = request.map_err(|e| OtlpFileError::Json {
            path: name.to_owned(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        let invalid = |e: switchyard_store::InvalidRequest| OtlpFileError::Invalid {
            path: name.to_owned(),
            index,
            message: e.to_string(),
        };
        if !request.resource_spans.is_empty() {
            let traces = ExportTraceServiceRequest {
                resource_spans: request.resource_spans,
            };
            contents
                .batches
                .push(Batch::from_traces(traces).map_err(invalid)?);
        }
        if !request.resource_metrics.is_empty() {
            let metrics = ExportMetricsServiceRequest {
                resource_metrics: request.resource_metrics,
            };
            contents
                .batches
                .push(Batch::from_metrics(metrics).map_err(invalid)?);
        }
        if !request.resource_logs.is_empty() {
            let logs = ExportLogsServiceRequest {
                resource_logs: request.resource_logs,
            };
            contents
                .batches
                .push(Batch::from_logs(logs).map_err(invalid)?);
        }
        contents.requests += 1;
    }
    Ok(contents)
}

/// Items per transaction when importing: small requests are grouped.
const IMPORT_GROUP_ITEMS: usize = 20_000;

/// What an import stored.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Imported {
    pub requests: usize,
    pub spans: usize,
    pub metric_points: usize,
    pub log_records: usize,
    /// Items the store refused (the messages are in `refused_messages`).
    pub refused: u64,
    pub refused_messages: Vec<String>,
}

/// Stores what a file holds, small requests grouped into larger transactions (each
/// waits for its commit). An error stops the import; what was committed before it stays.
pub async fn store(
    ingest: &switchyard_store::Ingest,
    contents: FileContents,
) -> Result<Imported, switchyard_store::IngestError> {
    let mut imported = Imported {
        requests: contents.requests,
        ..Imported::default()
    };
    let mut group = Batch::default();
    for batch in contents.batches {
        imported.spans += batch.span_count();
        imported.metric_points += batch.point_count();
        imported.log_records += batch.log_count();
        let rejected = batch.rejected();
        imported.refused += rejected.spans + rejected.data_points + rejected.log_records;
        if !rejected.message.is_empty() {
            imported.refused_messages.push(rejected.message.clone());
        }
        group.append(batch);
        if group.item_count() >= IMPORT_GROUP_ITEMS {
            ingest.submit(std::mem::take(&mut group)).await?;
        }
    }
    ingest.submit(group).await?;
    Ok(imported)
}

/// A trace request in OTLP JSON, on one line (so the output is also a valid
/// line of a Collector file-exporter file).
pub fn to_json_line(request: &ExportTraceServiceRequest) -> String {
    let mut line = serde_json::to_string(request).expect("OTLP types always serialize");
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_documents_and_lines_both_read() {
        let one = br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"a","startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}"#;
        let contents = parse("one.json", one).unwrap();
        assert_eq!((contents.requests, contents.batches.len()), (1, 1));
        assert_eq!(contents.batches[0].span_count(), 1);

        let mut lines = one.to_vec();
        lines.push(b'\n');
        lines.extend_from_slice(br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"5","body":{"stringValue":"hi"}}]}]}]}"#);
        lines.push(b'\n');
        let contents = parse("lines.json", &lines).unwrap();
        assert_eq!(contents.requests, 2);
        assert_eq!(contents.batches[1].log_count(), 1);
    }

    #[test]
    fn errors_name_the_place() {
        let err = parse(
            "bad.json",
            b"{\"resourceSpans\":[]}\n{\"resourceSpans\": [ oops ]}",
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("bad.json:2:"), "{err}");
        let short_id = br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8e","spanId":"eee19b7ec3c1b174"}]}]}]}"#;
        let err = parse("ids.json", short_id).unwrap_err();
        assert!(
            err.to_string().contains("trace_id is 2 bytes, must be 16"),
            "{err}"
        );
    }
}
