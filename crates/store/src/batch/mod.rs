//! Decoded OTLP requests turned into rows, ready for the writer.
//!
//! This runs on the receiver's tasks, not the writer's: everything that costs
//! CPU per item (validation, JSON encoding of attributes, events and links)
//! happens here, in parallel across requests, so the single writer only binds
//! values and steps statements.

mod logs;
mod metrics;
mod traces;

use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use switchyard_conventions::resource::{SERVICE_NAME, UNKNOWN_SERVICE};

use crate::attributes::StoredJsonWriter;
use crate::derived::Derived;
use crate::error::InvalidRequest;

pub(crate) use logs::LogRow;
pub(crate) use metrics::{MetricRow, PointRow};
pub use traces::SpanRow;

/// One export request's data as rows. Build it with [`Batch::from_traces`],
/// [`Batch::from_metrics`] or [`Batch::from_logs`], then hand it to
/// [`crate::Ingest::submit`].
#[derive(Debug, Default)]
pub struct Batch {
    pub(crate) resources: Vec<ResourceRow>,
    pub(crate) scopes: Vec<ScopeRow>,
    pub(crate) spans: Vec<SpanRow>,
    pub(crate) metrics: Vec<MetricRow>,
    pub(crate) points: Vec<PointRow>,
    pub(crate) logs: Vec<LogRow>,
    /// Rows for the derived tables (saga spans, breaker transitions).
    pub(crate) derived: Derived,
    rejected: Rejected,
    approx_bytes: usize,
}

/// Items of a request that were refused while the rest was accepted
/// (OTLP's partial success).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub spans: u64,
    pub data_points: u64,
    pub log_records: u64,
    /// Why, for the first refused items; empty when nothing was refused.
    pub message: String,
}

impl Rejected {
    fn add(&mut self, what: &str, why: impl std::fmt::Display) {
        // Keep the message short: the first few reasons are enough to act on.
        if self.message.len() < 512 {
            if !self.message.is_empty() {
                self.message.push_str("; ");
            }
            self.message.push_str(&format!("{what}: {why}"));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.spans == 0 && self.data_points == 0 && self.log_records == 0
    }
}

impl Batch {
    /// Spans, data points and log records that will be stored.
    pub fn item_count(&self) -> usize {
        self.spans.len() + self.points.len() + self.logs.len()
    }

    pub fn span_count(&self) -> usize {
        self.spans.len()
    }

    /// The span rows, as they will be stored.
    pub fn spans(&self) -> &[SpanRow] {
        &self.spans
    }

    pub fn point_count(&self) -> usize {
        self.points.len()
    }

    pub fn log_count(&self) -> usize {
        self.logs.len()
    }

    /// What was refused of the request.
    pub fn rejected(&self) -> &Rejected {
        &self.rejected
    }

    /// About how much memory the rows hold; the writer's queue is bounded by it.
    pub fn approx_bytes(&self) -> usize {
        self.approx_bytes
    }

    /// Merges another batch into this one (used by `import` to group small
    /// requests into fewer transactions).
    pub fn append(&mut self, mut other: Batch) {
        // Saga rows point at their span by index among the batch's spans.
        let span_base = self.spans.len() as i64;
        for row in &mut other.derived.saga_spans {
            row.span_row += span_base;
        }
        let resource_base = self.resources.len() as u32;
        let scope_base = self.scopes.len() as u32;
        let metric_base = self.metrics.len() as u32;
        self.resources.append(&mut other.resources);
        self.scopes.append(&mut other.scopes);
        for mut span in other.spans {
            span.resource += resource_base;
            span.scope += scope_base;
            self.spans.push(span);
        }
        for mut metric in other.metrics {
            metric.resource += resource_base;
            metric.scope += scope_base;
            self.metrics.push(metric);
        }
        for mut point in other.points {
            point.metric += metric_base;
            self.points.push(point);
        }
        for mut log in other.logs {
            log.resource += resource_base;
            log.scope += scope_base;
            self.logs.push(log);
        }
        self.derived.append(&mut other.derived);
        self.rejected.spans += other.rejected.spans;
        self.rejected.data_points += other.rejected.data_points;
        self.rejected.log_records += other.rejected.log_records;
        if !other.rejected.message.is_empty() {
            self.rejected.add("imported", other.rejected.message);
        }
        self.approx_bytes += other.approx_bytes;
    }

    fn push_resource(
        &mut self,
        json: &mut StoredJsonWriter,
        resource: Option<Resource>,
        schema_url: String,
    ) -> u32 {
        let resource = resource.unwrap_or_default();
        let row = ResourceRow::new(json, &resource, schema_url);
        self.approx_bytes += row.approx_bytes();
        self.resources.push(row);
        (self.resources.len() - 1) as u32
    }

    fn push_scope(
        &mut self,
        json: &mut StoredJsonWriter,
        scope: Option<InstrumentationScope>,
        schema_url: String,
    ) -> u32 {
        let scope = scope.unwrap_or_default();
        let row = ScopeRow::new(json, scope, schema_url);
        self.approx_bytes += row.approx_bytes();
        self.scopes.push(row);
        (self.scopes.len() - 1) as u32
    }
}

/// A resource; `key` identifies it across requests.
#[derive(Debug)]
pub(crate) struct ResourceRow {
    pub(crate) key: String,
    pub(crate) service_name: String,
    pub(crate) attributes: Option<String>,
    pub(crate) dropped_attributes_count: u32,
    pub(crate) schema_url: Option<String>,
}

impl ResourceRow {
    fn new(json: &mut StoredJsonWriter, resource: &Resource, schema_url: String) -> Self {
        let attributes = json.attributes(&resource.attributes);
        let service_name = service_name(&resource.attributes);
        let key = identity_key(&[
            &schema_url,
            &resource.dropped_attributes_count.to_string(),
            attributes.as_deref().unwrap_or(""),
        ]);
        Self {
            key,
            service_name,
            attributes,
            dropped_attributes_count: resource.dropped_attributes_count,
            schema_url: non_empty(schema_url),
        }
    }

    fn approx_bytes(&self) -> usize {
        64 + self.key.len() * 2 + self.service_name.len()
    }
}

/// An instrumentation scope, with the schema URL of the list it came in.
#[derive(Debug)]
pub(crate) struct ScopeRow {
    pub(crate) key: String,
    pub(crate) name: String,
    pub(crate) version: Option<String>,
    pub(crate) attributes: Option<String>,
    pub(crate) dropped_attributes_count: u32,
    pub(crate) schema_url: Option<String>,
}

impl ScopeRow {
    fn new(json: &mut StoredJsonWriter, scope: InstrumentationScope, schema_url: String) -> Self {
        let attributes = json.attributes(&scope.attributes);
        let key = identity_key(&[
            &scope.name,
            &scope.version,
            &schema_url,
            &scope.dropped_attributes_count.to_string(),
            attributes.as_deref().unwrap_or(""),
        ]);
        Self {
            key,
            name: scope.name,
            version: non_empty(scope.version),
            attributes,
            dropped_attributes_count: scope.dropped_attributes_count,
            schema_url: non_empty(schema_url),
        }
    }

    fn approx_bytes(&self) -> usize {
        64 + self.key.len() * 2
    }
}

/// Joins identity parts with a separator that cannot appear in JSON text
/// unescaped, so different parts can never produce the same key.
fn identity_key(parts: &[&str]) -> String {
    parts.join("\u{1f}")
}

fn service_name(attributes: &[KeyValue]) -> String {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    attributes
        .iter()
        .find(|kv| kv.key == SERVICE_NAME)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
        .and_then(|v| match v {
            Value::StringValue(s) if !s.is_empty() => Some(s.clone()),
            _ => None,
        })
        .unwrap_or_else(|| UNKNOWN_SERVICE.to_owned())
}

pub(crate) fn non_empty(s: String) -> Option<String> {
    if s.is_empty() { None } else { Some(s) }
}

/// A timestamp that SQLite can hold (up to the year 2262), or why not.
fn time(nanos: u64) -> Result<i64, &'static str> {
    i64::try_from(nanos).map_err(|_| "timestamp beyond the year 2262")
}

/// Checks an id's length: `Ok(None)` for an empty optional id (or an
/// all-zero one, which OTLP defines as absent).
fn id_bytes(
    bytes: Vec<u8>,
    len: usize,
    required: bool,
    what: &str,
    at: impl FnOnce() -> String,
) -> Result<Option<Vec<u8>>, InvalidRequest> {
    Ok(check_id(&bytes, len, required, what, at)?.then_some(bytes))
}

/// Like [`id_bytes`] without taking the bytes; `Ok(true)` when present.
fn check_id(
    bytes: &[u8],
    len: usize,
    required: bool,
    what: &str,
    at: impl FnOnce() -> String,
) -> Result<bool, InvalidRequest> {
    if bytes.is_empty() && !required {
        return Ok(false);
    }
    if bytes.len() != len {
        return Err(InvalidRequest::new(format!(
            "{}: {what} is {} bytes, must be {len}",
            at(),
            bytes.len()
        )));
    }
    if bytes.iter().all(|b| *b == 0) {
        if required {
            return Err(InvalidRequest::new(format!(
                "{}: {what} is all zeroes, which is invalid",
                at()
            )));
        }
        return Ok(false);
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked() {
        let at = || "spans[0]".to_owned();
        assert!(
            id_bytes(vec![1; 16], 16, true, "trace_id", at)
                .unwrap()
                .is_some()
        );
        let err = id_bytes(vec![1; 15], 16, true, "trace_id", at).unwrap_err();
        assert_eq!(
            err.to_string(),
            "spans[0]: trace_id is 15 bytes, must be 16"
        );
        assert!(id_bytes(vec![0; 16], 16, true, "trace_id", at).is_err());
        assert_eq!(
            id_bytes(vec![], 8, false, "parent_span_id", at).unwrap(),
            None
        );
        assert!(id_bytes(vec![1; 3], 8, false, "parent_span_id", at).is_err());
    }

    #[test]
    fn saga_rows_keep_pointing_at_their_spans_when_batches_merge() {
        use switchyard_testkit as kit;
        let mut saga = kit::saga::Saga::new("checkout", "o-1", vec![7; 16], 1_000);
        saga.forward("reserve", 0, 1, 10, None)
            .forward("charge", 1, 1, 10, None);
        let plain = kit::full_span(&[1; 16], &[1; 8], &[], "GET /", 1_000);
        let first = kit::traces_request("orders", vec![plain, saga.steps[0].clone()]);
        let second = kit::traces_request("orders", vec![saga.steps[1].clone()]);
        let mut batch = Batch::from_traces(first).unwrap();
        batch.append(Batch::from_traces(second).unwrap());
        let rows: Vec<(&str, i64)> = batch
            .derived
            .saga_spans
            .iter()
            .map(|r| (r.name.as_str(), r.span_row))
            .collect();
        assert_eq!(rows, [("reserve", 1), ("charge", 2)]);
        assert_eq!(batch.spans[2].name, "saga.step charge");
    }

    #[test]
    fn times_beyond_i64_are_refused() {
        assert_eq!(time(5), Ok(5));
        assert!(time(u64::MAX).is_err());
    }
}
