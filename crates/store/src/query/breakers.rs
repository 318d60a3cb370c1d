//! Breaker history: stored transitions and the breaker metrics' points.

use crate::Reader;
use crate::attributes::json_path;
use crate::error::Result;

/// One stored `breaker.transition`.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct TransitionRecord {
    pub breaker_name: String,
    pub service_name: String,
    pub time: i64,
    pub from_state: Option<String>,
    pub to_state: String,
    pub reason: Option<String>,
    pub dry_run: bool,
    pub trace_id: Option<Vec<u8>>,
    pub span_id: Option<Vec<u8>>,
}

/// One point of a breaker metric (`breaker.state`, `breaker.calls`,
/// `breaker.failure_rate`) for one breaker.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct BreakerPointRecord {
    pub service_name: String,
    pub time: i64,
    /// The series' start: a cumulative counter that restarted has a new one.
    pub start_time: i64,
    pub value: f64,
    /// `breaker.outcome`, for `breaker.calls`.
    pub outcome: Option<String>,
    /// OTLP aggregation temporality of a sum: 1 delta, 2 cumulative (0 for gauges).
    pub temporality: i64,
}

/// Which breaker: by name, optionally of one service only.
#[derive(Debug, Clone, Copy)]
pub struct BreakerKey<'a> {
    pub name: &'a str,
    pub service: Option<&'a str>,
}

impl Reader {
    /// The breakers that reported (a `breaker.state` point or a transition)
    /// in `[since, until)`, as (service, breaker name), sorted.
    pub async fn breakers_seen(
        &self,
        since_unix_nano: i64,
        until_unix_nano: i64,
    ) -> Result<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT r.service_name, p.attributes ->> ? AS breaker
             FROM metrics m
             JOIN resources r ON r.id = m.resource_id
             JOIN metric_points p ON p.metric_id = m.id
             WHERE m.name = ? AND p.time >= ? AND p.time < ? AND breaker IS NOT NULL
             UNION
             SELECT service_name, breaker_name FROM breaker_transitions
             WHERE time >= ? AND time < ?
             ORDER BY 1, 2",
        )
        .bind(json_path(switchyard_conventions::breaker::NAME))
        .bind(switchyard_conventions::breaker::STATE_METRIC)
        .bind(since_unix_nano)
        .bind(until_unix_nano)
        .bind(since_unix_nano)
        .bind(until_unix_nano)
        .fetch_all(self.pool())
        .await?)
    }

    /// Transitions of a breaker in `[since, until)`, oldest first.
    pub async fn breaker_transitions(
        &self,
        breaker: BreakerKey<'_>,
        since_unix_nano: i64,
        until_unix_nano: i64,
    ) -> Result<Vec<TransitionRecord>> {
        Ok(sqlx::query_as(
            "SELECT breaker_name, service_name, time, from_state, to_state, reason, dry_run,
                    trace_id, span_id
             FROM breaker_transitions
             WHERE breaker_name = ? AND time >= ? AND time < ?
               AND (? IS NULL OR service_name = ?)
             ORDER BY time",
        )
        .bind(breaker.name)
        .bind(since_unix_nano)
        .bind(until_unix_nano)
        .bind(breaker.service)
        .bind(breaker.service)
        .fetch_all(self.pool())
        .await?)
    }

    /// The last transition of a breaker before `at`.
    pub async fn breaker_transition_before(
        &self,
        breaker: BreakerKey<'_>,
        at_unix_nano: i64,
    ) -> Result<Option<TransitionRecord>> {
        Ok(sqlx::query_as(
            "SELECT breaker_name, service_name, time, from_state, to_state, reason, dry_run,
                    trace_id, span_id
             FROM breaker_transitions
             WHERE breaker_name = ? AND time < ? AND (? IS NULL OR service_name = ?)
             ORDER BY time DESC LIMIT 1",
        )
        .bind(breaker.name)
        .bind(at_unix_nano)
        .bind(breaker.service)
        .bind(breaker.service)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Points of `metric` for a breaker in `[since, until)`, oldest first.
    pub async fn breaker_points(
        &self,
        metric: &str,
        breaker: BreakerKey<'_>,
        since_unix_nano: i64,
        until_unix_nano: i64,
    ) -> Result<Vec<BreakerPointRecord>> {
        self.points(
            metric,
            breaker,
            since_unix_nano,
            until_unix_nano,
            "ASC",
            i64::MAX,
        )
        .await
    }

    /// The last point of `metric` for a breaker before `at`.
    pub async fn breaker_point_before(
        &self,
        metric: &str,
        breaker: BreakerKey<'_>,
        at_unix_nano: i64,
    ) -> Result<Option<BreakerPointRecord>> {
        Ok(self
            .points(metric, breaker, i64::MIN, at_unix_nano, "DESC", 1)
            .await?
            .pop())
    }

    async fn points(
        &self,
        metric: &str,
        breaker: BreakerKey<'_>,
        since: i64,
        until: i64,
        order: &str,
        limit: i64,
    ) -> Result<Vec<BreakerPointRecord>> {
        let sql = format!(
            "SELECT r.service_name, p.time, p.start_time,
                    COALESCE(p.double_value, CAST(p.int_value AS REAL), p.sum, 0.0) AS value,
                    p.attributes ->> ? AS outcome, m.temporality
             FROM metrics m
             JOIN resources r ON r.id = m.resource_id
             JOIN metric_points p ON p.metric_id = m.id
             WHERE m.name = ? AND p.time >= ? AND p.time < ?
               AND p.attributes ->> ? = ?
               AND (? IS NULL OR r.service_name = ?)
             ORDER BY p.time {order} LIMIT ?"
        );
        Ok(sqlx::query_as(&sql)
            .bind(json_path(switchyard_conventions::breaker::OUTCOME))
            .bind(metric)
            .bind(since)
            .bind(until)
            .bind(json_path(switchyard_conventions::breaker::NAME))
            .bind(breaker.name)
            .bind(breaker.service)
            .bind(breaker.service)
            .bind(limit)
            .fetch_all(self.pool())
            .await?)
    }
}
