//! Saga instances, their spans and per-step results, from the derived tables.

use sqlx::Row as _;

use crate::Reader;
use crate::derived::{SagaSpanKind, SagaSpanRow};
use crate::error::Result;

/// Which saga instances to list. Newest first; with `failed_first`, failed
/// instances come before the others (each group newest first).
#[derive(Debug, Clone, Default)]
pub struct SagaQuery {
    /// Only instances where a step failed for good or that ended compensated or failed.
    pub failed_only: bool,
    pub saga_name: Option<String>,
    /// Instances that started at or after this time.
    pub since_unix_nano: Option<i64>,
    /// Instances that started before this time.
    pub until_unix_nano: Option<i64>,
    pub failed_first: bool,
    pub limit: u32,
}

/// One row of `saga_instances`.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct SagaInstanceRecord {
    pub saga_id: String,
    pub saga_name: String,
    pub outcome: String,
    pub failed: bool,
    pub failed_step: Option<String>,
    pub failed_step_index: Option<i64>,
    pub error: Option<String>,
    pub trace_id: Vec<u8>,
    pub start_time: i64,
    pub end_time: i64,
    pub steps: i64,
    pub compensations: i64,
    pub attempts: i64,
    pub spans: i64,
    pub has_root: bool,
}

/// How many instances of a saga name had a step end one way, with its
/// duration in one log-scale bucket ([`crate::derived::buckets`]).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct StepBucketCount {
    pub step_index: Option<i64>,
    pub step_name: String,
    /// A [`crate::derived::StepResult`] code.
    pub result: i64,
    /// A [`crate::derived::Compensation`] code.
    pub compensation: i64,
    pub duration_bucket: i64,
    pub count: i64,
}

const INSTANCE_COLUMNS: &str = "saga_id, saga_name, outcome, failed, failed_step, \
     failed_step_index, error, trace_id, start_time, end_time, steps, compensations, attempts, \
     spans, has_root";

impl Reader {
    /// Saga instances matching `query`, newest first (see [`SagaQuery::failed_first`]).
    pub async fn saga_instances(&self, query: &SagaQuery) -> Result<Vec<SagaInstanceRecord>> {
        let limit = query.limit.clamp(1, 100_000) as i64;
        if query.failed_first && !query.failed_only {
            // Two index walks instead of sorting every match by (failed, start).
            let mut rows = self.instances_where(query, Some(true), limit).await?;
            let left = limit - rows.len() as i64;
            if left > 0 {
                rows.extend(self.instances_where(query, Some(false), left).await?);
            }
            return Ok(rows);
        }
        self.instances_where(query, query.failed_only.then_some(true), limit)
            .await
    }

    async fn instances_where(
        &self,
        query: &SagaQuery,
        failed: Option<bool>,
        limit: i64,
    ) -> Result<Vec<SagaInstanceRecord>> {
        let mut terms = vec!["start_time >= ?", "start_time < ?"];
        if query.saga_name.is_some() {
            terms.push("saga_name = ?");
        }
        match failed {
            Some(true) => terms.push("failed = 1"),
            Some(false) => terms.push("failed = 0"),
            None => {}
        }
        let sql = format!(
            "SELECT {INSTANCE_COLUMNS} FROM saga_instances WHERE {}
             ORDER BY start_time DESC, saga_id LIMIT ?",
            terms.join(" AND ")
        );
        let mut q = sqlx::query_as(&sql)
            .bind(query.since_unix_nano.unwrap_or(i64::MIN))
            .bind(query.until_unix_nano.unwrap_or(i64::MAX));
        if let Some(name) = &query.saga_name {
            q = q.bind(name);
        }
        Ok(q.bind(limit).fetch_all(self.pool()).await?)
    }

    /// One saga instance by its `saga.id`.
    pub async fn saga_instance(&self, saga_id: &str) -> Result<Option<SagaInstanceRecord>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {INSTANCE_COLUMNS} FROM saga_instances WHERE saga_id = ?"
        ))
        .bind(saga_id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Every stored span of a saga instance, in start order.
    pub async fn saga_spans(&self, saga_id: &str) -> Result<Vec<SagaSpanRow>> {
        let rows = sqlx::query(
            "SELECT saga_id, span_id, trace_id, kind, saga_name, name, service_name, step_index,
                    phase, attempt, outcome, start_time, end_time, status_code, status_message
             FROM saga_spans WHERE saga_id = ? ORDER BY start_time, span_id",
        )
        .bind(saga_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(SagaSpanRow {
                    saga_id: row.try_get("saga_id")?,
                    span_id: row.try_get("span_id")?,
                    trace_id: row.try_get("trace_id")?,
                    kind: SagaSpanKind::from_stored(row.try_get("kind")?),
                    saga_name: row.try_get("saga_name")?,
                    name: row.try_get("name")?,
                    service_name: row.try_get("service_name")?,
                    step_index: row.try_get("step_index")?,
                    phase: row.try_get("phase")?,
                    attempt: row.try_get("attempt")?,
                    outcome: row.try_get("outcome")?,
                    start_time: row.try_get("start_time")?,
                    end_time: row.try_get("end_time")?,
                    status_code: row.try_get("status_code")?,
                    status_message: row.try_get("status_message")?,
                })
            })
            .collect::<sqlx::Result<_>>()
            .map_err(Into::into)
    }

    /// Per-step results of the instances of `saga_name` that started in
    /// `[since, until)`, counted by result, compensation and duration bucket:
    /// one `GROUP BY` over a covering index, a few hundred rows at most.
    pub async fn saga_step_buckets(
        &self,
        saga_name: &str,
        since_unix_nano: i64,
        until_unix_nano: i64,
    ) -> Result<Vec<StepBucketCount>> {
        Ok(sqlx::query_as(
            "SELECT step_index, step_name, result, compensation, duration_bucket, COUNT(*) AS count
             FROM saga_step_results
             WHERE saga_name = ? AND saga_start >= ? AND saga_start < ?
             GROUP BY step_index, step_name, result, compensation, duration_bucket",
        )
        .bind(saga_name)
        .bind(since_unix_nano)
        .bind(until_unix_nano)
        .fetch_all(self.pool())
        .await?)
    }

    /// How many instances of `saga_name` that started in `[since, until)`
    /// ended each way, by outcome.
    pub async fn saga_outcome_counts(
        &self,
        saga_name: &str,
        since_unix_nano: i64,
        until_unix_nano: i64,
    ) -> Result<Vec<(String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT outcome, COUNT(*) FROM saga_instances
             WHERE saga_name = ? AND start_time >= ? AND start_time < ?
             GROUP BY outcome ORDER BY outcome",
        )
        .bind(saga_name)
        .bind(since_unix_nano)
        .bind(until_unix_nano)
        .fetch_all(self.pool())
        .await?)
    }
}
