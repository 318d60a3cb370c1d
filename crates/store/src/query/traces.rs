//! A trace by id, and trace search.

use std::collections::HashSet;

use super::TraceQuery;
use super::filter::{BindArgs as _, Conditions, span_conditions};
use super::records::{SpanRecord, segments_in_use};
use crate::Reader;
use crate::error::{Result, StoreError};
use crate::model::{Trace, TracePage, TraceSummary};

/// Spans read per round while scanning for matching traces.
const SCAN_CHUNK: i64 = 512;

/// Where a search page ended: the (start time, row id) of the span that
/// brought in the page's last trace. Pages walk spans newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cursor {
    start_time: i64,
    id: i64,
}

impl Cursor {
    fn parse(s: &str) -> Result<Cursor> {
        let bad = || StoreError::InvalidQuery(format!("cursor {s:?} is not one this store gave"));
        let (t, id) = s.split_once(':').ok_or_else(bad)?;
        Ok(Cursor {
            start_time: t.parse().map_err(|_| bad())?,
            id: id.parse().map_err(|_| bad())?,
        })
    }

    fn encode(self) -> String {
        format!("{}:{}", self.start_time, self.id)
    }
}

impl Reader {
    /// Every span of a trace, ordered by start time; `None` if none is stored.
    pub async fn trace(&self, trace_id: &[u8]) -> Result<Option<Trace>> {
        let records = self.trace_records(trace_id).await?;
        if records.is_empty() {
            return Ok(None);
        }
        let spans = records
            .iter()
            .map(SpanRecord::to_span)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(Trace {
            trace_id: const_hex::encode(trace_id),
            spans,
        }))
    }

    pub(crate) async fn trace_records(&self, trace_id: &[u8]) -> Result<Vec<SpanRecord>> {
        let mut conn = self.pool().acquire().await?;
        let Some(segments) = segments_in_use(&mut conn).await? else {
            return Ok(Vec::new());
        };
        Ok(sqlx::query_as(&SpanRecord::select_trace(&segments))
            .bind(trace_id)
            .fetch_all(&mut *conn)
            .await?)
    }

    /// Traces with at least one span matching `query`, newest match first.
    pub async fn search_traces(&self, query: &TraceQuery) -> Result<TracePage> {
        let limit = query.limit.clamp(1, 10_000) as usize;
        let after = query.cursor.as_deref().map(Cursor::parse).transpose()?;
        let conditions = span_conditions(query);
        let mut conn = self.pool().acquire().await?;
        let Some(segments) = segments_in_use(&mut conn).await? else {
            return Ok(TracePage {
                traces: Vec::new(),
                next_cursor: None,
            });
        };

        let scan_sql = format!(
            "SELECT s.id, s.trace_id, s.start_time FROM spans s
             WHERE {} AND s.start_time <= ? AND (s.start_time < ? OR s.id < ?)
             ORDER BY s.start_time DESC, s.id DESC LIMIT ?",
            conditions.sql()
        );
        let mut position = after.unwrap_or(Cursor {
            start_time: i64::MAX,
            id: i64::MAX,
        });
        let mut seen: HashSet<Vec<u8>> = HashSet::new();
        let mut found: Vec<Vec<u8>> = Vec::new();
        let mut exhausted = false;
        'scan: while found.len() < limit {
            let rows: Vec<(i64, Vec<u8>, i64)> = sqlx::query_as(&scan_sql)
                .bind_args(&conditions.args)
                .bind(position.start_time)
                .bind(position.start_time)
                .bind(position.id)
                .bind(SCAN_CHUNK)
                .fetch_all(&mut *conn)
                .await?;
            let complete_chunk = rows.len() as i64 == SCAN_CHUNK;
            for (id, trace_id, start_time) in rows {
                position = Cursor { start_time, id };
                if !seen.insert(trace_id.clone()) {
                    continue;
                }
                if let Some(after) = after
                    && self
                        .matched_before(&mut conn, &segments, &conditions, &trace_id, after)
                        .await?
                {
                    continue; // shown on an earlier page
                }
                found.push(trace_id);
                if found.len() == limit {
                    break 'scan;
                }
            }
            if !complete_chunk {
                exhausted = true;
                break;
            }
        }

        let mut traces = Vec::with_capacity(found.len());
        for trace_id in &found {
            if let Some(summary) = self.summary(&mut conn, &segments, trace_id).await? {
                traces.push(summary);
            }
        }
        Ok(TracePage {
            traces,
            next_cursor: (!exhausted && found.len() == limit).then(|| position.encode()),
        })
    }

    /// Whether the trace has a matching span at or before `cursor` in scan
    /// order, i.e. whether an earlier page already listed it.
    async fn matched_before(
        &self,
        conn: &mut sqlx::SqliteConnection,
        segments: &str,
        conditions: &Conditions,
        trace_id: &[u8],
        cursor: Cursor,
    ) -> Result<bool> {
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM spans s
               WHERE s.segment IN ({segments}) AND s.trace_id = ? AND {}
                 AND (s.start_time > ? OR (s.start_time = ? AND s.id >= ?)))",
            conditions.sql()
        );
        Ok(sqlx::query_scalar(&sql)
            .bind(trace_id)
            .bind_args(&conditions.args)
            .bind(cursor.start_time)
            .bind(cursor.start_time)
            .bind(cursor.id)
            .fetch_one(&mut *conn)
            .await?)
    }

    async fn summary(
        &self,
        conn: &mut sqlx::SqliteConnection,
        segments: &str,
        trace_id: &[u8],
    ) -> Result<Option<TraceSummary>> {
        let sql = format!(
            "SELECT s.parent_span_id IS NULL, s.name, r.service_name, s.start_time, s.end_time,
                    s.status_code
             FROM spans s JOIN resources r ON r.id = s.resource_id
             WHERE s.segment IN ({segments}) AND s.trace_id = ?
             ORDER BY s.start_time, s.id"
        );
        let spans: Vec<(bool, String, String, i64, i64, i64)> = sqlx::query_as(&sql)
            .bind(trace_id)
            .fetch_all(&mut *conn)
            .await?;
        let Some(first) = spans.first() else {
            return Ok(None);
        };
        // The root is the earliest span without a parent; failing that, the earliest.
        let root = spans.iter().find(|s| s.0).unwrap_or(first);
        let start = spans.iter().map(|s| s.3).min().unwrap_or(0);
        let end = spans.iter().map(|s| s.4).max().unwrap_or(start);
        let error_count = spans.iter().filter(|s| s.5 == 2).count() as u64;
        Ok(Some(TraceSummary {
            trace_id: const_hex::encode(trace_id),
            root_name: root.1.clone(),
            service: root.2.clone(),
            start_unix_nano: start,
            duration_ns: end.saturating_sub(start),
            span_count: spans.len() as u64,
            error: error_count > 0,
            error_count,
        }))
    }
}
