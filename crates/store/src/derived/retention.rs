//! Retention of the derived tables, following the telemetry they come from:
//! a saga span's row goes with its span, an instance (with its step results
//! and its share of the rollups) with its newest span, a breaker transition
//! with the arrival mark it came in.

use sqlx::SqliteConnection;

use super::rollup::Deltas;
use super::write::{apply_deltas, subtract_counted};

/// Instances dropped per statement group, to keep each step bounded.
const INSTANCES_PER_STEP: i64 = 4096;

/// Deletes derived rows of spans below `first_kept_span` (the lowest span row
/// id left). Returns whether instances are left to drop.
pub(crate) async fn trim_sagas(
    conn: &mut SqliteConnection,
    first_kept_span: i64,
) -> sqlx::Result<bool> {
    sqlx::query("DELETE FROM saga_spans WHERE span_row < ?")
        .bind(first_kept_span)
        .execute(&mut *conn)
        .await?;
    let gone: Vec<String> = sqlx::query_scalar(
        "SELECT saga_id FROM saga_instances WHERE last_span_row < ? ORDER BY last_span_row LIMIT ?",
    )
    .bind(first_kept_span)
    .bind(INSTANCES_PER_STEP)
    .fetch_all(&mut *conn)
    .await?;
    if !gone.is_empty() {
        let ids = serde_json::to_string(&gone).expect("strings serialize");
        let mut deltas = Deltas::default();
        subtract_counted(conn, &ids, &mut deltas).await?;
        apply_deltas(conn, deltas).await?;
        for table in ["saga_step_results", "saga_instances"] {
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE saga_id IN (SELECT value FROM json_each(?))"
            ))
            .bind(&ids)
            .execute(&mut *conn)
            .await?;
        }
        // Rollup rows of hours that emptied out.
        sqlx::query("DELETE FROM saga_step_stats WHERE count <= 0")
            .execute(&mut *conn)
            .await?;
        sqlx::query("DELETE FROM saga_outcome_stats WHERE count <= 0")
            .execute(&mut *conn)
            .await?;
    }
    Ok(gone.len() as i64 == INSTANCES_PER_STEP)
}

/// Deletes the transitions that arrived before `kept_since`: the time of the
/// oldest arrival mark left (every commit of a mark is at or after its time).
pub(crate) async fn trim_transitions(
    conn: &mut SqliteConnection,
    kept_since: i64,
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM breaker_transitions WHERE arrived < ?")
        .bind(kept_since)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
