//! What the query API returns. Serialized as the CLI's `--json` output, so
//! field names here are a public contract (see the snapshot tests).

use serde::Serialize;

use crate::attributes::Attributes;

/// A trace in a search result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceSummary {
    /// 32 hex digits.
    pub trace_id: String,
    /// The root span's name (the earliest span's when the root is missing).
    pub root_name: String,
    /// The root span's service.
    pub service: String,
    pub start_unix_nano: i64,
    pub duration_ns: i64,
    pub span_count: u64,
    /// Whether any span has status ERROR.
    pub error: bool,
    pub error_count: u64,
}

/// One page of a trace search.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TracePage {
    pub traces: Vec<TraceSummary>,
    /// Pass as [`crate::TraceQuery::cursor`] for the next page; `None` on the last.
    pub next_cursor: Option<String>,
}

/// A whole trace, spans ordered by start time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trace {
    pub trace_id: String,
    pub spans: Vec<Span>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Span {
    pub span_id: String,
    /// Empty for a root span.
    pub parent_span_id: String,
    pub name: String,
    pub kind: SpanKind,
    pub service: String,
    pub start_unix_nano: i64,
    pub end_unix_nano: i64,
    pub status: Status,
    pub attributes: Attributes,
    pub events: Vec<Event>,
    pub links: Vec<Link>,
    pub scope: Scope,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub trace_state: String,
    pub flags: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub dropped_attributes_count: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub dropped_events_count: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub dropped_links_count: u32,
}

impl Span {
    pub fn duration_ns(&self) -> i64 {
        self.end_unix_nano.saturating_sub(self.start_unix_nano)
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    pub code: StatusCode,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scope {
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub time_unix_nano: i64,
    pub name: String,
    pub attributes: Attributes,
    #[serde(skip_serializing_if = "is_zero")]
    pub dropped_attributes_count: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Link {
    pub trace_id: String,
    pub span_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub trace_state: String,
    pub flags: u32,
    pub attributes: Attributes,
    #[serde(skip_serializing_if = "is_zero")]
    pub dropped_attributes_count: u32,
}

/// OTLP's span kind, named for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SpanKind {
    Unspecified,
    Internal,
    Server,
    Client,
    Producer,
    Consumer,
}

impl SpanKind {
    pub fn from_otlp(kind: i32) -> Self {
        match kind {
            1 => SpanKind::Internal,
            2 => SpanKind::Server,
            3 => SpanKind::Client,
            4 => SpanKind::Producer,
            5 => SpanKind::Consumer,
            _ => SpanKind::Unspecified,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SpanKind::Unspecified => "unspecified",
            SpanKind::Internal => "internal",
            SpanKind::Server => "server",
            SpanKind::Client => "client",
            SpanKind::Producer => "producer",
            SpanKind::Consumer => "consumer",
        }
    }
}

/// OTLP's status code, named for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusCode {
    Unset,
    Ok,
    Error,
}

impl StatusCode {
    pub fn from_otlp(code: i32) -> Self {
        match code {
            1 => StatusCode::Ok,
            2 => StatusCode::Error,
            _ => StatusCode::Unset,
        }
    }
}

/// A service seen in any signal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceSummary {
    pub name: String,
    /// Distinct resources (processes, hosts) that reported as this service.
    pub resources: u64,
    pub first_seen_unix_nano: i64,
    pub last_seen_unix_nano: i64,
}

/// The OTLP metric data kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[repr(i32)]
pub enum MetricType {
    Gauge = 1,
    Sum = 2,
    Histogram = 3,
    ExponentialHistogram = 4,
    Summary = 5,
}

impl MetricType {
    pub fn from_stored(code: i64) -> Option<Self> {
        Some(match code {
            1 => MetricType::Gauge,
            2 => MetricType::Sum,
            3 => MetricType::Histogram,
            4 => MetricType::ExponentialHistogram,
            5 => MetricType::Summary,
            _ => return None,
        })
    }
}

/// One time series of a metric (a service and a set of point attributes),
/// downsampled into equal time buckets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricSeries {
    pub name: String,
    pub service: String,
    #[serde(rename = "type")]
    pub metric_type: MetricType,
    pub unit: String,
    pub description: String,
    /// `delta`, `cumulative` or empty for gauges and summaries.
    pub temporality: &'static str,
    pub monotonic: bool,
    pub attributes: Attributes,
    /// Only buckets that hold at least one point, oldest first.
    pub points: Vec<SeriesPoint>,
}

/// The points of one series that fell into one time bucket. For numbers the
/// value is the point's value; for histograms and summaries it is their sum,
/// and `count` is their count (the newest for cumulative data, the total for delta).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesPoint {
    /// Start of the bucket.
    pub time_unix_nano: i64,
    pub samples: u64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    /// The value of the newest point in the bucket.
    pub last: f64,
    pub sum: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
}
