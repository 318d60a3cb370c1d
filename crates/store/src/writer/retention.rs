//! Retention: delete the oldest telemetry by age and to keep the file small.
//!
//! Age counts from arrival (the `ingest_log`), not from the timestamps that
//! senders put on their data: a skewed clock or an imported file from last
//! year neither escapes nor falls straight to retention. Deletion runs on the
//! write connection between commits, a bounded number of rows at a time, so
//! ingest never waits long behind it. Freed pages go back to the file system
//! through `incremental_vacuum` (the store is created with
//! `auto_vacuum = INCREMENTAL`), a bounded number per step as well.

use sqlx::SqliteConnection;

use super::unix_nanos_now;
use crate::config::Retention;
use crate::derived::retention as derived;

/// Each signal's table and its column in the `ingest_log`.
const TABLES: &[(&str, &str)] = &[
    ("spans", "spans_upto"),
    ("metric_points", "points_upto"),
    ("logs", "logs_upto"),
];

/// Pages released per step (32 MiB at the store's 16 KiB pages).
const VACUUM_PAGES_PER_STEP: u32 = 2048;

/// Commits closer together than this share one `ingest_log` row...
const MARK_EVERY_NANOS: i64 = 1_000_000_000;
/// ...while the row covers fewer rows than this, so size-based retention
/// can still pick its cut finely after a burst.
const MARK_MAX_ROWS: i64 = 4096;

/// One `ingest_log` row: everything up to these ids arrived by `id`'s time.
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
struct Mark {
    id: i64,
    spans_upto: i64,
    points_upto: i64,
    logs_upto: i64,
}

impl Mark {
    fn upto(&self, column: &str) -> i64 {
        match column {
            "spans_upto" => self.spans_upto,
            "points_upto" => self.points_upto,
            _ => self.logs_upto,
        }
    }
}

/// Records, at the end of a commit, that everything up to these ids (of
/// spans, metric points and log records) has arrived.
pub(crate) async fn mark_arrival(
    conn: &mut SqliteConnection,
    now: i64,
    [spans, points, logs]: [i64; 3],
) -> sqlx::Result<()> {
    let total = spans + points + logs;
    let moved = sqlx::query(
        "UPDATE ingest_log SET spans_upto = ?, points_upto = ?, logs_upto = ?
         WHERE id = (SELECT MAX(id) FROM ingest_log) AND at > ? AND ? - opened_total < ?",
    )
    .bind(spans)
    .bind(points)
    .bind(logs)
    .bind(now - MARK_EVERY_NANOS)
    .bind(total)
    .bind(MARK_MAX_ROWS)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if moved == 0 {
        sqlx::query(
            "INSERT INTO ingest_log (at, spans_upto, points_upto, logs_upto, opened_total)
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(now)
        .bind(spans)
        .bind(points)
        .bind(logs)
        .bind(total)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

#[derive(Debug)]
pub(crate) struct Retainer {
    policy: Retention,
}

impl Retainer {
    pub(crate) fn new(policy: Retention) -> Self {
        Self { policy }
    }

    /// Deletes one step's worth; returns whether more is left to do.
    pub(crate) async fn step(&self, conn: &mut SqliteConnection) -> sqlx::Result<bool> {
        let mut target: Option<Mark> = None;
        if let Some(age) = self.policy.max_age {
            let cutoff = unix_nanos_now().saturating_sub(age.as_nanos() as i64);
            target = sqlx::query_as(
                "SELECT id, spans_upto, points_upto, logs_upto FROM ingest_log
                 WHERE at < ? ORDER BY id DESC LIMIT 1",
            )
            .bind(cutoff)
            .fetch_optional(&mut *conn)
            .await?;
        }
        let mut over_size = false;
        if let Some(max_bytes) = self.policy.max_bytes {
            let size = used_bytes(conn).await?;
            if size > max_bytes {
                over_size = true;
                let by_size = size_target(conn, size, max_bytes).await?;
                target = match (target, by_size) {
                    (Some(a), Some(b)) => Some(if a.id >= b.id { a } else { b }),
                    (a, b) => a.or(b),
                };
            }
        }

        let mut more = false;
        let mut deleted_any = false;
        if let Some(target) = target {
            let mut range_done = true;
            for (table, column) in TABLES {
                let deleted = sqlx::query(&format!(
                    "DELETE FROM {table} WHERE id IN
                        (SELECT id FROM {table} WHERE id <= ? ORDER BY id LIMIT ?)"
                ))
                .bind(target.upto(column))
                .bind(self.policy.step_rows)
                .execute(&mut *conn)
                .await?
                .rows_affected();
                if deleted >= u64::from(self.policy.step_rows) {
                    range_done = false;
                }
                deleted_any |= deleted > 0;
                if deleted > 0 {
                    tracing::debug!(table, deleted, "retention deleted old rows");
                }
            }
            // The derived rows follow: everything below the first span left.
            let first_kept: Option<i64> = sqlx::query_scalar("SELECT MIN(id) FROM spans")
                .fetch_one(&mut *conn)
                .await?;
            let first_kept = first_kept.unwrap_or(target.spans_upto + 1);
            if derived::trim_sagas(conn, first_kept).await? {
                range_done = false;
            }
            if range_done {
                sqlx::query("DELETE FROM ingest_log WHERE id <= ?")
                    .bind(target.id)
                    .execute(&mut *conn)
                    .await?;
                let kept_since: Option<i64> = sqlx::query_scalar("SELECT MIN(at) FROM ingest_log")
                    .fetch_one(&mut *conn)
                    .await?;
                derived::trim_transitions(conn, kept_since.unwrap_or(i64::MAX)).await?;
            }
            more |= !range_done;
        }
        let free: i64 = sqlx::query_scalar("PRAGMA freelist_count")
            .fetch_one(&mut *conn)
            .await?;
        if free > 0 {
            sqlx::query(&format!(
                "PRAGMA incremental_vacuum({VACUUM_PAGES_PER_STEP})"
            ))
            .execute(&mut *conn)
            .await?;
            more |= free > i64::from(VACUUM_PAGES_PER_STEP);
        }
        // Still too big after deleting something: go again soon.
        Ok(more || (over_size && deleted_any))
    }
}

async fn used_bytes(conn: &mut SqliteConnection) -> sqlx::Result<u64> {
    let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
        .fetch_one(&mut *conn)
        .await?;
    let page_size: i64 = sqlx::query_scalar("PRAGMA page_size")
        .fetch_one(&mut *conn)
        .await?;
    Ok((pages * page_size) as u64)
}

/// The arrival mark to delete up to so the file drops under `max_bytes`,
/// assuming data spreads evenly over arrivals: the share of marks that the
/// file is over by, plus a tenth of the limit as headroom.
async fn size_target(
    conn: &mut SqliteConnection,
    size: u64,
    max_bytes: u64,
) -> sqlx::Result<Option<Mark>> {
    let marks: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ingest_log")
        .fetch_one(&mut *conn)
        .await?;
    if marks == 0 {
        return Ok(None);
    }
    let excess = size.saturating_sub(max_bytes - max_bytes / 10) as f64 / size as f64;
    let share = excess.clamp(0.01, 0.5);
    let drop = ((marks as f64 * share).ceil() as i64).clamp(1, marks);
    sqlx::query_as(
        "SELECT id, spans_upto, points_upto, logs_upto FROM ingest_log
         ORDER BY id LIMIT 1 OFFSET ?",
    )
    .bind(drop - 1)
    .fetch_optional(&mut *conn)
    .await
}
