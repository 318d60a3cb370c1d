//! The writer's side of the derived tables: runs inside the commit that
//! stores the telemetry, after the spans are inserted.

use std::collections::BTreeSet;

use sqlx::{Row as _, SqliteConnection};

use super::rollup::{Deltas, OutcomeKey, StepKey, hour_of};
use super::saga::{SagaSpanKind, SagaSpanRow};
use super::summary::{InstanceRow, StepResultRow, summarize};
use super::{Derived, TransitionRow};
use crate::writer::insert::chunks;

const SAGA_SPAN_COLUMNS: &str = "saga_id, span_id, trace_id, kind, saga_name, name, service_name, \
     step_index, phase, attempt, outcome, start_time, end_time, status_code, status_message, \
     span_row";
const INSTANCE_COLUMNS: &str = "saga_id, saga_name, outcome, failed, failed_step, \
     failed_step_index, error, trace_id, start_time, end_time, steps, compensations, attempts, \
     spans, has_root, last_span_row";
const STEP_RESULT_COLUMNS: &str = "saga_id, step_name, saga_name, saga_start, step_index, result, \
     compensation, attempts, duration, duration_bucket";
const STEP_STATS_COLUMNS: &str = "saga_name, hour, step_name, result, compensation, \
     duration_bucket, step_index, count";
const OUTCOME_STATS_COLUMNS: &str = "saga_name, hour, outcome, count";
const TRANSITION_COLUMNS: &str = "breaker_name, service_name, time, from_state, to_state, reason, \
     dry_run, trace_id, span_id, arrived";

type SqliteQuery<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>;

/// Stores what the batches contribute and recomputes the touched instances.
pub(crate) async fn write(conn: &mut SqliteConnection, derived: Derived) -> sqlx::Result<()> {
    if derived.is_empty() {
        return Ok(());
    }
    let touched: BTreeSet<String> = derived
        .saga_spans
        .iter()
        .map(|s| s.saga_id.clone())
        .collect();
    // A re-sent span replaces its earlier copy.
    insert_many(
        conn,
        "INSERT OR REPLACE INTO saga_spans",
        SAGA_SPAN_COLUMNS,
        derived.saga_spans,
        bind_saga_span,
    )
    .await?;
    if !touched.is_empty() {
        recompute(conn, &touched).await?;
    }
    insert_many(
        conn,
        "INSERT OR IGNORE INTO breaker_transitions",
        TRANSITION_COLUMNS,
        derived.transitions,
        bind_transition,
    )
    .await
}

/// Rebuilds the instance and step-result rows of the touched sagas from all
/// of their stored spans.
async fn recompute(conn: &mut SqliteConnection, touched: &BTreeSet<String>) -> sqlx::Result<()> {
    let ids = serde_json::to_string(touched).expect("strings serialize");
    let rows = sqlx::query(&format!(
        "SELECT {SAGA_SPAN_COLUMNS} FROM saga_spans
         WHERE saga_id IN (SELECT value FROM json_each(?)) ORDER BY saga_id"
    ))
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    let spans = rows
        .iter()
        .map(saga_span_from_row)
        .collect::<sqlx::Result<Vec<_>>>()?;

    // The rollups lose what the touched instances counted before...
    let mut deltas = Deltas::default();
    subtract_counted(conn, &ids, &mut deltas).await?;

    // ...and gain what they count now.
    let mut instances = Vec::with_capacity(touched.len());
    let mut results = Vec::with_capacity(touched.len() * 4);
    for group in spans.chunk_by(|a, b| a.saga_id == b.saga_id) {
        let (instance, steps) = summarize(group);
        let key = OutcomeKey {
            saga_name: instance.saga_name.clone(),
            hour: hour_of(instance.start_time),
            outcome: instance.outcome.clone(),
        };
        deltas.outcome(key, 1);
        for r in &steps {
            let key = StepKey {
                saga_name: r.saga_name.clone(),
                hour: hour_of(r.saga_start),
                step_name: r.step_name.clone(),
                result: r.result as i64,
                compensation: r.compensation as i64,
                duration_bucket: r.duration_bucket,
            };
            deltas.step(key, r.step_index, 1);
        }
        instances.push(instance);
        results.extend(steps);
    }
    apply_deltas(conn, deltas).await?;
    sqlx::query("DELETE FROM saga_step_results WHERE saga_id IN (SELECT value FROM json_each(?))")
        .bind(&ids)
        .execute(&mut *conn)
        .await?;
    insert_many(
        conn,
        "INSERT OR REPLACE INTO saga_instances",
        INSTANCE_COLUMNS,
        instances,
        bind_instance,
    )
    .await?;
    insert_many(
        conn,
        "INSERT INTO saga_step_results",
        STEP_RESULT_COLUMNS,
        results,
        bind_step_result,
    )
    .await
}

/// Takes what the instances `ids` (a JSON array) count in the rollups out of them.
pub(super) async fn subtract_counted(
    conn: &mut SqliteConnection,
    ids: &str,
    deltas: &mut Deltas,
) -> sqlx::Result<()> {
    let old_results: Vec<OldResult> = sqlx::query_as(
        "SELECT saga_name, saga_start, step_name, step_index, result, compensation, duration_bucket
         FROM saga_step_results WHERE saga_id IN (SELECT value FROM json_each(?))",
    )
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    for r in old_results {
        let key = StepKey {
            saga_name: r.saga_name,
            hour: hour_of(r.saga_start),
            step_name: r.step_name,
            result: r.result,
            compensation: r.compensation,
            duration_bucket: r.duration_bucket,
        };
        deltas.step(key, r.step_index, -1);
    }
    let old_instances: Vec<(String, i64, String)> = sqlx::query_as(
        "SELECT saga_name, start_time, outcome
         FROM saga_instances WHERE saga_id IN (SELECT value FROM json_each(?))",
    )
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    for (saga_name, start, outcome) in old_instances {
        let key = OutcomeKey {
            saga_name,
            hour: hour_of(start),
            outcome,
        };
        deltas.outcome(key, -1);
    }

    Ok(())
}

/// Adds count changes to the hourly rollups.
pub(super) async fn apply_deltas(conn: &mut SqliteConnection, deltas: Deltas) -> sqlx::Result<()> {
    let deltas = deltas.without_zeroes();
    insert_many(
        conn,
        "INSERT INTO saga_step_stats",
        STEP_STATS_COLUMNS,
        deltas.steps.into_iter().collect(),
        bind_step_stat,
    )
    .await?;
    insert_many(
        conn,
        "INSERT INTO saga_outcome_stats",
        OUTCOME_STATS_COLUMNS,
        deltas.outcomes.into_iter().collect(),
        bind_outcome_stat,
    )
    .await
}

/// A step result as it was before this recomputation.
#[derive(sqlx::FromRow)]
struct OldResult {
    saga_name: String,
    saga_start: i64,
    step_name: String,
    step_index: Option<i64>,
    result: i64,
    compensation: i64,
    duration_bucket: i64,
}

/// Multi-row inserts of `rows`, in statements of power-of-two row counts up
/// to the writer's 1,024 (16 columns at most here: under SQLite's 32,766
/// bound values): a handful of distinct statements per table, so they stay
/// in the connection's prepared-statement cache instead of being prepared
/// anew for every commit's odd row count.
async fn insert_many<R>(
    conn: &mut SqliteConnection,
    head: &str,
    columns: &str,
    rows: Vec<R>,
    bind: for<'q> fn(SqliteQuery<'q>, R) -> SqliteQuery<'q>,
) -> sqlx::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let width = columns.split(',').count();
    let row = format!("({})", vec!["?"; width].join(","));
    let count = rows.len();
    let mut rows = rows.into_iter();
    for range in chunks(count) {
        let sql = format!(
            "{head} ({columns}) VALUES {}{}",
            vec![row.as_str(); range.len()].join(","),
            upsert_clause(head)
        );
        let mut query = sqlx::query(&sql);
        for r in rows.by_ref().take(range.len()) {
            query = bind(query, r);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Rollup rows add their counts to what is there.
fn upsert_clause(head: &str) -> &'static str {
    if head.ends_with("saga_step_stats") {
        " ON CONFLICT (saga_name, hour, step_name, result, compensation, duration_bucket) \
         DO UPDATE SET count = count + excluded.count, \
         step_index = COALESCE(step_index, excluded.step_index)"
    } else if head.ends_with("saga_outcome_stats") {
        " ON CONFLICT (saga_name, hour, outcome) DO UPDATE SET count = count + excluded.count"
    } else {
        ""
    }
}

fn bind_step_stat(
    q: SqliteQuery<'_>,
    (k, (index, delta)): (StepKey, (Option<i64>, i64)),
) -> SqliteQuery<'_> {
    q.bind(k.saga_name)
        .bind(k.hour)
        .bind(k.step_name)
        .bind(k.result)
        .bind(k.compensation)
        .bind(k.duration_bucket)
        .bind(index)
        .bind(delta)
}

fn bind_outcome_stat(q: SqliteQuery<'_>, (k, delta): (OutcomeKey, i64)) -> SqliteQuery<'_> {
    q.bind(k.saga_name).bind(k.hour).bind(k.outcome).bind(delta)
}

fn bind_saga_span(q: SqliteQuery<'_>, s: SagaSpanRow) -> SqliteQuery<'_> {
    q.bind(s.saga_id)
        .bind(s.span_id)
        .bind(s.trace_id)
        .bind(s.kind as i64)
        .bind(s.saga_name)
        .bind(s.name)
        .bind(s.service_name)
        .bind(s.step_index)
        .bind(s.phase)
        .bind(s.attempt)
        .bind(s.outcome)
        .bind(s.start_time)
        .bind(s.end_time)
        .bind(s.status_code)
        .bind(s.status_message)
        .bind(s.span_row)
}

/// A `saga_spans` row, as the writer's recompute and the queries read it.
pub(crate) fn saga_span_from_row(row: &sqlx::sqlite::SqliteRow) -> sqlx::Result<SagaSpanRow> {
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
        span_row: row.try_get("span_row")?,
    })
}

fn bind_instance(q: SqliteQuery<'_>, i: InstanceRow) -> SqliteQuery<'_> {
    q.bind(i.saga_id)
        .bind(i.saga_name)
        .bind(i.outcome)
        .bind(i.failed)
        .bind(i.failed_step)
        .bind(i.failed_step_index)
        .bind(i.error)
        .bind(i.trace_id)
        .bind(i.start_time)
        .bind(i.end_time)
        .bind(i.steps)
        .bind(i.compensations)
        .bind(i.attempts)
        .bind(i.spans)
        .bind(i.has_root)
        .bind(i.last_span_row)
}

fn bind_step_result(q: SqliteQuery<'_>, r: StepResultRow) -> SqliteQuery<'_> {
    q.bind(r.saga_id)
        .bind(r.step_name)
        .bind(r.saga_name)
        .bind(r.saga_start)
        .bind(r.step_index)
        .bind(r.result as i64)
        .bind(r.compensation as i64)
        .bind(r.attempts)
        .bind(r.duration)
        .bind(r.duration_bucket)
}

fn bind_transition(q: SqliteQuery<'_>, t: TransitionRow) -> SqliteQuery<'_> {
    q.bind(t.breaker_name)
        .bind(t.service_name)
        .bind(t.time)
        .bind(t.from_state)
        .bind(t.to_state)
        .bind(t.reason)
        .bind(t.dry_run)
        .bind(t.trace_id)
        .bind(t.span_id)
        .bind(t.arrived)
}
