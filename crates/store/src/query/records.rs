//! Stored span rows and how they read back.

use serde_json::Value as J;
use sqlx::SqliteConnection;

use crate::attributes::{Attributes, StoredJsonError};
use crate::model::{Event, Link, Scope, Span, SpanKind, Status, StatusCode};
use crate::writer::SEGMENT_SHIFT;

/// A span row joined with its service and scope names.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct SpanRecord {
    pub(crate) trace_id: Vec<u8>,
    pub(crate) span_id: Vec<u8>,
    pub(crate) parent_span_id: Option<Vec<u8>>,
    pub(crate) trace_state: Option<String>,
    pub(crate) flags: i64,
    pub(crate) name: String,
    pub(crate) kind: i64,
    pub(crate) start_time: i64,
    pub(crate) end_time: i64,
    pub(crate) status_code: i64,
    pub(crate) status_message: Option<String>,
    pub(crate) resource_id: i64,
    pub(crate) scope_id: i64,
    pub(crate) attributes: Option<String>,
    pub(crate) events: Option<String>,
    pub(crate) links: Option<String>,
    pub(crate) dropped_attributes_count: i64,
    pub(crate) dropped_events_count: i64,
    pub(crate) dropped_links_count: i64,
    pub(crate) service_name: String,
    pub(crate) scope_name: String,
    pub(crate) scope_version: Option<String>,
}

impl SpanRecord {
    /// The SELECT for whole spans of one trace; append the segment list.
    pub(crate) fn select_trace(segments: &str) -> String {
        format!(
            "SELECT s.trace_id, s.span_id, s.parent_span_id, s.trace_state, s.flags, s.name,
                    s.kind, s.start_time, s.end_time, s.status_code, s.status_message,
                    s.resource_id, s.scope_id, s.attributes, s.events, s.links,
                    s.dropped_attributes_count, s.dropped_events_count, s.dropped_links_count,
                    r.service_name, sc.name AS scope_name, sc.version AS scope_version
             FROM spans s
             JOIN resources r ON r.id = s.resource_id
             JOIN scopes sc ON sc.id = s.scope_id
             WHERE s.segment IN ({segments}) AND s.trace_id = ?
             ORDER BY s.start_time, s.id"
        )
    }

    pub(crate) fn to_span(&self) -> Result<Span, StoredJsonError> {
        Ok(Span {
            span_id: const_hex::encode(&self.span_id),
            parent_span_id: self
                .parent_span_id
                .as_deref()
                .map(const_hex::encode)
                .unwrap_or_default(),
            name: self.name.clone(),
            kind: SpanKind::from_otlp(self.kind as i32),
            service: self.service_name.clone(),
            start_unix_nano: self.start_time,
            end_unix_nano: self.end_time,
            status: Status {
                code: StatusCode::from_otlp(self.status_code as i32),
                message: self.status_message.clone().unwrap_or_default(),
            },
            attributes: Attributes::from_stored(self.attributes.as_deref())?,
            events: events_from_stored(self.events.as_deref())?,
            links: links_from_stored(self.links.as_deref())?,
            scope: Scope {
                name: self.scope_name.clone(),
                version: self.scope_version.clone().unwrap_or_default(),
            },
            trace_state: self.trace_state.clone().unwrap_or_default(),
            flags: self.flags as u32,
            dropped_attributes_count: self.dropped_attributes_count as u32,
            dropped_events_count: self.dropped_events_count as u32,
            dropped_links_count: self.dropped_links_count as u32,
        })
    }
}

/// Reads the events column (see `batch/traces.rs` for the stored form).
pub(crate) fn events_from_stored(json: Option<&str>) -> Result<Vec<Event>, StoredJsonError> {
    let Some(json) = json else {
        return Ok(Vec::new());
    };
    let J::Array(items) = serde_json::from_str(json)? else {
        return Err(StoredJsonError::Shape("events are not an array"));
    };
    items
        .into_iter()
        .map(|item| {
            let J::Object(mut e) = item else {
                return Err(StoredJsonError::Shape("an event is not an object"));
            };
            Ok(Event {
                time_unix_nano: e.get("t").and_then(J::as_i64).unwrap_or(0),
                name: take_string(&mut e, "n"),
                attributes: take_attributes(&mut e, "a")?,
                dropped_attributes_count: e.get("d").and_then(J::as_u64).unwrap_or(0) as u32,
            })
        })
        .collect()
}

/// Reads the links column (see `batch/traces.rs` for the stored form).
pub(crate) fn links_from_stored(json: Option<&str>) -> Result<Vec<Link>, StoredJsonError> {
    let Some(json) = json else {
        return Ok(Vec::new());
    };
    let J::Array(items) = serde_json::from_str(json)? else {
        return Err(StoredJsonError::Shape("links are not an array"));
    };
    items
        .into_iter()
        .map(|item| {
            let J::Object(mut l) = item else {
                return Err(StoredJsonError::Shape("a link is not an object"));
            };
            Ok(Link {
                trace_id: take_string(&mut l, "tr"),
                span_id: take_string(&mut l, "sp"),
                trace_state: take_string(&mut l, "ts"),
                flags: l.get("f").and_then(J::as_u64).unwrap_or(0) as u32,
                attributes: take_attributes(&mut l, "a")?,
                dropped_attributes_count: l.get("d").and_then(J::as_u64).unwrap_or(0) as u32,
            })
        })
        .collect()
}

fn take_string(map: &mut serde_json::Map<String, J>, key: &str) -> String {
    match map.remove(key) {
        Some(J::String(s)) => s,
        _ => String::new(),
    }
}

fn take_attributes(
    map: &mut serde_json::Map<String, J>,
    key: &str,
) -> Result<Attributes, StoredJsonError> {
    match map.remove(key) {
        None => Ok(Attributes::default()),
        Some(value) => Attributes::from_stored(Some(&value.to_string())),
    }
}

/// The trace-index segments that hold spans, as an SQL list (`0,1,2`), or
/// `None` when there are no spans. Spans of a trace may land in any of them.
pub(crate) async fn segments_in_use(conn: &mut SqliteConnection) -> sqlx::Result<Option<String>> {
    // Two subqueries: SQLite answers a lone MIN or MAX from the index's end,
    // but scans the whole table for both in one SELECT.
    let (lo, hi): (Option<i64>, Option<i64>) =
        sqlx::query_as("SELECT (SELECT MIN(id) FROM spans), (SELECT MAX(id) FROM spans)")
            .fetch_one(conn)
            .await?;
    let (Some(lo), Some(hi)) = (lo, hi) else {
        return Ok(None);
    };
    let list: Vec<String> = ((lo >> SEGMENT_SHIFT)..=(hi >> SEGMENT_SHIFT))
        .map(|s| s.to_string())
        .collect();
    Ok(Some(list.join(",")))
}
