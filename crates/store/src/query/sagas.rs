//! Saga instances, their spans and per-step results, from the derived tables.

use crate::Reader;
use crate::derived::SagaSpanRow;
use crate::derived::rollup::{HOUR_NANOS, hour_of};
use crate::derived::write::saga_span_from_row;
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
                    phase, attempt, outcome, start_time, end_time, status_code, status_message,
                    span_row
             FROM saga_spans WHERE saga_id = ? ORDER BY start_time, span_id",
        )
        .bind(saga_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(saga_span_from_row)
            .collect::<sqlx::Result<_>>()
            .map_err(Into::into)
    }

    /// Per-step results of the instances of `saga_name` that started in
    /// `[since, until)`, counted by result, compensation and duration bucket
    /// ([`crate::derived::buckets`]). Whole hours come from the hourly
    /// rollup, the partial hours at either end from the per-instance rows;
    /// rows with equal keys may repeat (add their counts).
    pub async fn saga_step_buckets(
        &self,
        saga_name: &str,
        since_unix_nano: i64,
        until_unix_nano: i64,
    ) -> Result<Vec<StepBucketCount>> {
        let split = HourSplit::new(since_unix_nano, until_unix_nano);
        let mut out = Vec::new();
        for (since, until) in split.edges() {
            out.extend(
                sqlx::query_as::<_, StepBucketCount>(
                    "SELECT step_index, step_name, result, compensation, duration_bucket,
                            COUNT(*) AS count
                     FROM saga_step_results
                     WHERE saga_name = ? AND saga_start >= ? AND saga_start < ?
                     GROUP BY step_index, step_name, result, compensation, duration_bucket",
                )
                .bind(saga_name)
                .bind(since)
                .bind(until)
                .fetch_all(self.pool())
                .await?,
            );
        }
        if let Some((first, end)) = split.hours {
            out.extend(
                sqlx::query_as::<_, StepBucketCount>(
                    "SELECT MAX(step_index) AS step_index, step_name, result, compensation,
                            duration_bucket, SUM(count) AS count
                     FROM saga_step_stats
                     WHERE saga_name = ? AND hour >= ? AND hour < ?
                     GROUP BY step_name, result, compensation, duration_bucket
                     HAVING SUM(count) > 0",
                )
                .bind(saga_name)
                .bind(first)
                .bind(end)
                .fetch_all(self.pool())
                .await?,
            );
        }
        Ok(out)
    }

    /// How many instances of `saga_name` that started in `[since, until)`
    /// ended each way, by outcome (whole hours from the rollup, as above).
    pub async fn saga_outcome_counts(
        &self,
        saga_name: &str,
        since_unix_nano: i64,
        until_unix_nano: i64,
    ) -> Result<Vec<(String, i64)>> {
        let split = HourSplit::new(since_unix_nano, until_unix_nano);
        let mut counts: std::collections::BTreeMap<String, i64> = Default::default();
        for (since, until) in split.edges() {
            let rows: Vec<(String, i64)> = sqlx::query_as(
                "SELECT outcome, COUNT(*) FROM saga_instances
                 WHERE saga_name = ? AND start_time >= ? AND start_time < ?
                 GROUP BY outcome",
            )
            .bind(saga_name)
            .bind(since)
            .bind(until)
            .fetch_all(self.pool())
            .await?;
            for (outcome, n) in rows {
                *counts.entry(outcome).or_default() += n;
            }
        }
        if let Some((first, end)) = split.hours {
            let rows: Vec<(String, i64)> = sqlx::query_as(
                "SELECT outcome, SUM(count) FROM saga_outcome_stats
                 WHERE saga_name = ? AND hour >= ? AND hour < ?
                 GROUP BY outcome HAVING SUM(count) > 0",
            )
            .bind(saga_name)
            .bind(first)
            .bind(end)
            .fetch_all(self.pool())
            .await?;
            for (outcome, n) in rows {
                *counts.entry(outcome).or_default() += n;
            }
        }
        Ok(counts.into_iter().filter(|(_, n)| *n > 0).collect())
    }
}

/// A time range cut into the whole rollup hours inside it and the partial
/// pieces before and after them.
#[derive(Debug, PartialEq)]
struct HourSplit {
    since: i64,
    until: i64,
    /// Whole hours `[first, end)`, if any.
    hours: Option<(i64, i64)>,
}

impl HourSplit {
    fn new(since: i64, until: i64) -> Self {
        let first = hour_of(since) + i64::from(since.rem_euclid(HOUR_NANOS) != 0);
        let end = hour_of(until);
        let whole = first < end
            && first.checked_mul(HOUR_NANOS).is_some()
            && end.checked_mul(HOUR_NANOS).is_some();
        Self {
            since,
            until,
            hours: whole.then_some((first, end)),
        }
    }

    /// The non-empty pieces of the range outside the whole hours.
    fn edges(&self) -> Vec<(i64, i64)> {
        match self.hours {
            None => vec![(self.since, self.until)],
            Some((first, end)) => [
                (self.since, first * HOUR_NANOS),
                (end * HOUR_NANOS, self.until),
            ]
            .into_iter()
            .filter(|(a, b)| a < b)
            .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_split_into_whole_hours_and_edges() {
        let h = HOUR_NANOS;
        let s = HourSplit::new(h / 2, 3 * h + 5);
        assert_eq!(s.hours, Some((1, 3)));
        assert_eq!(s.edges(), [(h / 2, h), (3 * h, 3 * h + 5)]);
        let aligned = HourSplit::new(h, 2 * h);
        assert_eq!((aligned.hours, aligned.edges()), (Some((1, 2)), vec![]));
        let short = HourSplit::new(h / 2, h + 1);
        assert_eq!((short.hours, short.edges()), (None, vec![(h / 2, h + 1)]));
        let all = HourSplit::new(i64::MIN, i64::MAX);
        let pieces: i128 = all.edges().iter().map(|(a, b)| (*b - *a) as i128).sum();
        let (first, end) = all.hours.unwrap();
        assert_eq!(
            pieces + ((end - first) as i128) * h as i128,
            i64::MAX as i128 - i64::MIN as i128
        );
    }
}
