//! The log's one writer: group commit of queued writes, per-write answers after commit.

use sqlx::{Any, Transaction};
use switchyard_eventing::database::Database;
use tokio::sync::{mpsc, oneshot};

use super::types::{LogEntry, SagaInstance, SagaStatus, to_micros};
use super::{LogError, now};

/// Writes taken into one transaction at most.
const MAX_BATCH: usize = 512;
/// Log rows per INSERT statement (9 parameters each).
const ROWS_PER_INSERT: usize = 256;

/// How a write changes the instance's summary row.
#[derive(Debug, Clone)]
pub(crate) enum InstanceWrite {
    /// Leaves it as it is (most step transitions).
    Unchanged,
    /// A new instance.
    Insert(Box<SagaInstance>),
    /// A new status, failed step and error.
    Status {
        status: SagaStatus,
        failed_step: Option<String>,
        error: Option<String>,
    },
}

pub(super) struct Write {
    pub(super) saga_id: String,
    pub(super) entries: Vec<LogEntry>,
    pub(super) instance: InstanceWrite,
    pub(super) done: oneshot::Sender<Result<(), LogError>>,
}

pub(super) async fn run(db: Database, mut requests: mpsc::Receiver<Write>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while requests.recv_many(&mut batch, MAX_BATCH).await > 0 {
        match commit(&db, &batch).await {
            Ok(()) => {
                for write in batch.drain(..) {
                    let _ = write.done.send(Ok(()));
                }
            }
            // One bad write (a conflict) must not fail the others: commit each alone.
            Err(_) => {
                for write in batch.drain(..) {
                    let result = commit(&db, std::slice::from_ref(&write)).await;
                    let _ = write.done.send(result);
                }
            }
        }
    }
}

async fn commit(db: &Database, writes: &[Write]) -> Result<(), LogError> {
    let mut tx = db.begin().await?;
    let now = to_micros(now());
    let inserts: Vec<&SagaInstance> = writes
        .iter()
        .filter_map(|write| match &write.instance {
            InstanceWrite::Insert(instance) => Some(&**instance),
            _ => None,
        })
        .collect();
    if !inserts.is_empty() {
        insert_instances(db, &mut tx, &inserts).await?;
    }
    let rows: Vec<(&str, &LogEntry)> = writes
        .iter()
        .flat_map(|write| {
            write
                .entries
                .iter()
                .map(|entry| (write.saga_id.as_str(), entry))
        })
        .collect();
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        insert_entries(db, &mut tx, chunk)
            .await
            .map_err(|error| conflict(error, writes))?;
    }
    for write in writes {
        if let InstanceWrite::Status {
            status,
            failed_step,
            error,
        } = &write.instance
        {
            sqlx::query(
                "UPDATE saga_instances SET status = $1, failed_step = $2, error = $3, updated_at = $4 WHERE id = $5",
            )
            .bind(status.as_str())
            .bind(failed_step.clone())
            .bind(error.clone())
            .bind(now)
            .bind(write.saga_id.as_str())
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// A duplicate (saga, seq) means another orchestrator advanced the saga: say so.
fn conflict(error: sqlx::Error, writes: &[Write]) -> LogError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() && writes.len() == 1 => {
            LogError::Conflict {
                saga_id: writes[0].saga_id.clone(),
                seq: writes[0].entries.first().map(|e| e.seq).unwrap_or(0),
            }
        }
        _ => error.into(),
    }
}

fn values_sql(db: &Database, rows: usize, columns: usize) -> String {
    let mut sql = String::new();
    for row in 0..rows {
        if row > 0 {
            sql.push(',');
        }
        sql.push('(');
        for column in 1..=columns {
            if column > 1 {
                sql.push(',');
            }
            sql.push_str(&db.placeholder(row * columns + column));
        }
        sql.push(')');
    }
    sql
}

async fn insert_instances(
    db: &Database,
    tx: &mut Transaction<'static, Any>,
    instances: &[&SagaInstance],
) -> Result<(), LogError> {
    for chunk in instances.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO saga_instances (id, name, status, input, failed_step, error, trace_context, deadline_at, created_at, updated_at) VALUES {}",
            values_sql(db, chunk.len(), 10)
        );
        let mut query = sqlx::query(&sql);
        for instance in chunk {
            query = query
                .bind(instance.id.as_str())
                .bind(instance.name.as_str())
                .bind(instance.status.as_str())
                .bind(instance.input.to_string())
                .bind(instance.failed_step.clone())
                .bind(instance.error.clone())
                .bind(serde_json::to_string(&instance.trace_context).unwrap_or_default())
                .bind(instance.deadline_at.map(to_micros))
                .bind(to_micros(instance.created_at))
                .bind(to_micros(instance.updated_at));
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

async fn insert_entries(
    db: &Database,
    tx: &mut Transaction<'static, Any>,
    rows: &[(&str, &LogEntry)],
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "INSERT INTO saga_log (saga_id, seq, at, kind, step, attempt, data, actor, reason) VALUES {}",
        values_sql(db, rows.len(), 9)
    );
    let mut query = sqlx::query(&sql);
    for (saga_id, entry) in rows {
        query = query
            .bind(*saga_id)
            .bind(entry.seq)
            .bind(to_micros(entry.at))
            .bind(entry.kind.as_str())
            .bind(entry.step.clone())
            .bind(entry.attempt.map(i64::from))
            .bind(entry.data.to_string())
            .bind(entry.actor.clone())
            .bind(entry.reason.clone());
    }
    query.execute(&mut **tx).await?;
    Ok(())
}
