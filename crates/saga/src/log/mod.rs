//! The durable saga log on SQLite or PostgreSQL: every transition committed before the
//! orchestrator makes the next effect.
//!
//! Writes go through one writer task that commits whatever is queued in one transaction
//! (group commit) and answers each write after the commit, so hundreds of sagas advancing
//! at once share a commit instead of queueing for one each.

mod types;
mod writer;

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde_json::Value;
use sqlx::Row as _;
use sqlx::any::AnyRow;
use switchyard_eventing::database::{Database, DatabaseError, DatabaseOptions};
use tokio::sync::{mpsc, oneshot};

pub use types::{EntryKind, InstanceFilter, LogEntry, SagaInstance, SagaStatus};
pub(crate) use types::{from_micros, to_micros};
pub(crate) use writer::InstanceWrite;
use writer::Write;

/// What went wrong with the log.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LogError {
    #[error("saga log: {0}")]
    Database(String),
    #[error("saga {saga_id:?} was advanced by another orchestrator (log entry {seq} exists)")]
    Conflict { saga_id: String, seq: i64 },
    #[error("no saga instance {0:?}")]
    UnknownSaga(String),
    #[error("saga log is corrupt at {what}: {reason}")]
    Corrupt { what: String, reason: String },
    #[error("the saga log is closed")]
    Closed,
}

impl From<sqlx::Error> for LogError {
    fn from(error: sqlx::Error) -> Self {
        LogError::Database(error.to_string())
    }
}

impl From<DatabaseError> for LogError {
    fn from(error: DatabaseError) -> Self {
        LogError::Database(error.to_string())
    }
}

/// A handle to the log; cheap to clone.
#[derive(Debug, Clone)]
pub struct SagaLog {
    db: Database,
    queue: mpsc::Sender<Write>,
}

const INSTANCE_COLUMNS: &str = "id, name, status, input, failed_step, error, trace_context, deadline_at, created_at, updated_at";

impl SagaLog {
    /// Opens `sqlite:PATH`, a file path, or `postgres://...`, creating the schema.
    pub async fn connect(url: &str) -> Result<Self, LogError> {
        Self::connect_with(url, &DatabaseOptions::default()).await
    }

    pub async fn connect_with(url: &str, options: &DatabaseOptions) -> Result<Self, LogError> {
        let db = Database::connect(url, options, crate::MIGRATIONS).await?;
        Ok(Self::on(db))
    }

    /// The log on an open database (migrated with [`crate::MIGRATIONS`]).
    pub fn on(db: Database) -> Self {
        let (queue, requests) = mpsc::channel(4096);
        tokio::spawn(writer::run(db.clone(), requests));
        SagaLog { db, queue }
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Commits `entries` (numbered by the caller, in order) and the instance change; returns
    /// after the commit.
    pub(crate) async fn write(
        &self,
        saga_id: &str,
        entries: Vec<LogEntry>,
        instance: InstanceWrite,
    ) -> Result<(), LogError> {
        let (done, committed) = oneshot::channel();
        self.queue
            .send(Write {
                saga_id: saga_id.to_owned(),
                entries,
                instance,
                done,
            })
            .await
            .map_err(|_| LogError::Closed)?;
        committed.await.map_err(|_| LogError::Closed)?
    }

    pub async fn instance(&self, id: &str) -> Result<Option<SagaInstance>, LogError> {
        let sql = format!("SELECT {INSTANCE_COLUMNS} FROM saga_instances WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.db.read_pool())
            .await?;
        row.as_ref().map(decode_instance).transpose()
    }

    /// Instances matching `filter`, newest first.
    pub async fn instances(&self, filter: &InstanceFilter) -> Result<Vec<SagaInstance>, LogError> {
        let mut sql = format!("SELECT {INSTANCE_COLUMNS} FROM saga_instances WHERE 1 = 1");
        let mut binds: Vec<Bind> = Vec::new();
        if !filter.statuses.is_empty() {
            let marks: Vec<String> = filter
                .statuses
                .iter()
                .map(|status| {
                    binds.push(Bind::Text(status.as_str().to_owned()));
                    format!("${}", binds.len())
                })
                .collect();
            sql.push_str(&format!(" AND status IN ({})", marks.join(", ")));
        }
        if let Some(name) = &filter.name {
            binds.push(Bind::Text(name.clone()));
            sql.push_str(&format!(" AND name = ${}", binds.len()));
        }
        if let Some(since) = filter.since {
            binds.push(Bind::Int(to_micros(since)));
            sql.push_str(&format!(" AND created_at >= ${}", binds.len()));
        }
        if let Some(until) = filter.until {
            binds.push(Bind::Int(to_micros(until)));
            sql.push_str(&format!(" AND created_at < ${}", binds.len()));
        }
        let limit = if filter.limit == 0 { 100 } else { filter.limit };
        sql.push_str(&format!(" ORDER BY created_at DESC, id DESC LIMIT {limit}"));
        let mut query = sqlx::query(&sql);
        for bind in binds {
            query = match bind {
                Bind::Text(text) => query.bind(text),
                Bind::Int(int) => query.bind(int),
            };
        }
        let rows = query.fetch_all(self.db.read_pool()).await?;
        rows.iter().map(decode_instance).collect()
    }

    /// Every instance the orchestrator still has work on (running or compensating).
    pub async fn active(&self) -> Result<Vec<SagaInstance>, LogError> {
        let sql = format!(
            "SELECT {INSTANCE_COLUMNS} FROM saga_instances WHERE status IN ('running', 'compensating') ORDER BY created_at"
        );
        let rows = sqlx::query(&sql).fetch_all(self.db.read_pool()).await?;
        rows.iter().map(decode_instance).collect()
    }

    /// The instance's transitions, in order.
    pub async fn entries(&self, id: &str) -> Result<Vec<LogEntry>, LogError> {
        let rows = sqlx::query(
            "SELECT seq, at, kind, step, attempt, data, actor, reason FROM saga_log WHERE saga_id = $1 ORDER BY seq",
        )
        .bind(id)
        .fetch_all(self.db.read_pool())
        .await?;
        rows.iter().map(|row| decode_entry(id, row)).collect()
    }
}

enum Bind {
    Text(String),
    Int(i64),
}

fn corrupt(what: String, reason: impl ToString) -> LogError {
    LogError::Corrupt {
        what,
        reason: reason.to_string(),
    }
}

fn decode_instance(row: &AnyRow) -> Result<SagaInstance, LogError> {
    let id: String = row.try_get(0)?;
    let status: String = row.try_get(2)?;
    let input: String = row.try_get(3)?;
    let trace: String = row.try_get(6)?;
    let deadline: Option<i64> = row.try_get(7)?;
    Ok(SagaInstance {
        name: row.try_get(1)?,
        status: status
            .parse()
            .map_err(|e| corrupt(format!("status of {id}"), e))?,
        input: serde_json::from_str(&input).map_err(|e| corrupt(format!("input of {id}"), e))?,
        failed_step: row.try_get(4)?,
        error: row.try_get(5)?,
        trace_context: serde_json::from_str::<BTreeMap<String, String>>(&trace)
            .map_err(|e| corrupt(format!("trace context of {id}"), e))?,
        deadline_at: deadline.map(from_micros),
        created_at: from_micros(row.try_get(8)?),
        updated_at: from_micros(row.try_get(9)?),
        id,
    })
}

fn decode_entry(id: &str, row: &AnyRow) -> Result<LogEntry, LogError> {
    let seq: i64 = row.try_get(0)?;
    let kind: String = row.try_get(2)?;
    let attempt: Option<i64> = row.try_get(4)?;
    let data: String = row.try_get(5)?;
    Ok(LogEntry {
        seq,
        at: from_micros(row.try_get(1)?),
        kind: kind
            .parse()
            .map_err(|e| corrupt(format!("entry {seq} of {id}"), e))?,
        step: row.try_get(3)?,
        attempt: attempt.map(|a| u32::try_from(a).unwrap_or(u32::MAX)),
        data: serde_json::from_str::<Value>(&data)
            .map_err(|e| corrupt(format!("entry {seq} of {id}"), e))?,
        actor: row.try_get(6)?,
        reason: row.try_get(7)?,
    })
}

/// The current time as the log records it (microseconds).
pub(crate) fn now() -> SystemTime {
    from_micros(to_micros(SystemTime::now()))
}
