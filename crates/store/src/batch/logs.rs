//! Log records to rows.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::logs::v1::LogRecord;

use super::{Batch, id_bytes, non_empty, time};
use crate::attributes::StoredJsonWriter;
use crate::derived::{self, TransitionRow};
use crate::error::InvalidRequest;

#[derive(Debug)]
pub(crate) struct LogRow {
    pub(crate) resource: u32,
    pub(crate) scope: u32,
    /// The record's time, or its observed time when the record has none.
    pub(crate) time: i64,
    pub(crate) time_unix_nano: i64,
    pub(crate) observed_time_unix_nano: i64,
    pub(crate) severity_number: i32,
    pub(crate) severity_text: Option<String>,
    pub(crate) body: Option<String>,
    pub(crate) attributes: Option<String>,
    pub(crate) dropped_attributes_count: u32,
    pub(crate) flags: u32,
    pub(crate) trace_id: Option<Vec<u8>>,
    pub(crate) span_id: Option<Vec<u8>>,
    pub(crate) event_name: Option<String>,
}

impl Batch {
    /// Validates and encodes a logs export request. A trace or span id of the
    /// wrong length refuses the whole request; records with timestamps SQLite
    /// cannot hold are refused one by one.
    pub fn from_logs(request: ExportLogsServiceRequest) -> Result<Batch, InvalidRequest> {
        let mut batch = Batch::default();
        let mut json = StoredJsonWriter::new();
        for (ri, resource_logs) in request.resource_logs.into_iter().enumerate() {
            let resource =
                batch.push_resource(&mut json, resource_logs.resource, resource_logs.schema_url);
            for (si, scope_logs) in resource_logs.scope_logs.into_iter().enumerate() {
                let scope = batch.push_scope(&mut json, scope_logs.scope, scope_logs.schema_url);
                for (i, record) in scope_logs.log_records.into_iter().enumerate() {
                    let at = || format!("resource_logs[{ri}].scope_logs[{si}].log_records[{i}]");
                    let service_name = &batch.resources[resource as usize].service_name;
                    let transition = transition_of(service_name, &record);
                    match log_row(&mut json, record, resource, scope, at)? {
                        Ok(row) => {
                            batch.approx_bytes += 128
                                + row.body.as_ref().map_or(0, String::len)
                                + row.attributes.as_ref().map_or(0, String::len);
                            batch.logs.push(row);
                            batch.derived.transitions.extend(transition);
                        }
                        Err(why) => {
                            batch.rejected.log_records += 1;
                            batch.rejected.add(&at(), why);
                        }
                    }
                }
            }
        }
        Ok(batch)
    }
}

/// A breaker transition reported as a log record, if the record is one.
fn transition_of(service_name: &str, record: &LogRecord) -> Option<TransitionRow> {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    let body_is_transition = matches!(
        record.body.as_ref().and_then(|b| b.value.as_ref()),
        Some(Value::StringValue(s)) if s == switchyard_conventions::breaker::TRANSITION_EVENT
    );
    let time = if record.time_unix_nano != 0 {
        record.time_unix_nano
    } else {
        record.observed_time_unix_nano
    };
    derived::from_log(
        Some(record.event_name.as_str()).filter(|n| !n.is_empty()),
        body_is_transition,
        &record.attributes,
        i64::try_from(time).ok()?,
        service_name,
    )
}

fn log_row(
    json: &mut StoredJsonWriter,
    record: LogRecord,
    resource: u32,
    scope: u32,
    at: impl Fn() -> String,
) -> Result<Result<LogRow, &'static str>, InvalidRequest> {
    let trace_id = id_bytes(record.trace_id, 16, false, "trace_id", &at)?;
    let span_id = id_bytes(record.span_id, 8, false, "span_id", &at)?;
    let (time_unix_nano, observed) = match (
        time(record.time_unix_nano),
        time(record.observed_time_unix_nano),
    ) {
        (Ok(t), Ok(o)) => (t, o),
        (Err(why), _) | (_, Err(why)) => return Ok(Err(why)),
    };
    Ok(Ok(LogRow {
        resource,
        scope,
        time: if time_unix_nano != 0 {
            time_unix_nano
        } else {
            observed
        },
        time_unix_nano,
        observed_time_unix_nano: observed,
        severity_number: record.severity_number,
        severity_text: non_empty(record.severity_text),
        body: json.value(record.body.as_ref()),
        attributes: json.attributes(&record.attributes),
        dropped_attributes_count: record.dropped_attributes_count,
        flags: record.flags,
        trace_id,
        span_id,
        event_name: non_empty(record.event_name),
    }))
}
