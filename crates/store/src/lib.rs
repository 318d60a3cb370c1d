//! Switchyard's telemetry store: one SQLite file holding the spans, metric
//! points and log records received over OTLP.
//!
//! - [`Batch`] turns an OTLP export request into rows (on the caller's task).
//! - [`Ingest`] queues batches for the single writer and answers once they are
//!   committed, or busy when the bounded queue is full.
//! - [`Reader`] answers queries: a trace by id, trace search, services, metric
//!   series, and a trace as OTLP for export.
//! - [`Store`] opens the file (WAL, migrations), runs the writer, a WAL
//!   checkpointer and retention, and shuts them down cleanly.
#![forbid(unsafe_code)]

pub mod attributes;
mod batch;
mod config;
pub mod derived;
mod error;
mod export;
mod ingest;
pub mod model;
mod open;
mod query;
pub mod records;
mod writer;

/// The store's schema, for tools that build the same tables (the raw-SQLite benchmark).
pub const SCHEMA_SQL: &str = include_str!("../migrations/0001_telemetry.sql");

use std::path::Path;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub use batch::{Batch, Rejected, SpanRow};
pub use config::{Durability, Retention, StoreConfig, default_db_path};
pub use error::{IngestError, InvalidRequest, Result, StoreError};
pub use ingest::Ingest;
pub use query::{
    AttrFilter, BreakerKey, BreakerPointRecord, MetricQuery, SagaInstanceRecord, SagaQuery,
    StepBucketCount, TraceQuery, TransitionRecord, parse_trace_id,
};

/// The store while it is open for writing: a writer, a checkpointer and a
/// pool of readers over one SQLite file.
#[derive(Debug)]
pub struct Store {
    reader: Reader,
    ingest: Ingest,
    writer: writer::Running,
    checkpointer: JoinHandle<()>,
    shutdown: Option<oneshot::Sender<()>>,
    stop_checkpoints: Option<oneshot::Sender<()>>,
}

impl Store {
    /// Opens (creating if needed) the store at `config.path` and brings its
    /// schema up to date.
    pub async fn open(config: StoreConfig) -> Result<Store> {
        let config = Arc::new(config);
        let mut write_conn = open::writer(&config).await?;
        sqlx::migrate!("./migrations").run(&mut write_conn).await?;
        let reader = Reader {
            pool: open::readers(&config.path).await?,
        };
        let checkpoint_conn = open::checkpointer(&config.path).await?;

        let (jobs_tx, jobs_rx) = mpsc::channel(4096);
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let writer = writer::Writer::new(write_conn, (*config).clone()).spawn(jobs_rx, shutdown_rx);
        let (stop_tx, stop_rx) = oneshot::channel();
        let checkpointer = tokio::spawn(open::run_checkpoints(
            checkpoint_conn,
            config.checkpoint_every,
            stop_rx,
        ));
        Ok(Store {
            reader,
            ingest: Ingest::new(jobs_tx, config),
            writer,
            checkpointer,
            shutdown: Some(shutdown_tx),
            stop_checkpoints: Some(stop_tx),
        })
    }

    /// The handle receivers submit batches through.
    pub fn ingest(&self) -> Ingest {
        self.ingest.clone()
    }

    /// Queries over the same file.
    pub fn reader(&self) -> &Reader {
        &self.reader
    }

    /// Commits everything already queued, stops the background tasks and
    /// checkpoints the WAL into the database file.
    pub async fn close(mut self) -> Result<()> {
        if let Some(stop) = self.stop_checkpoints.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.checkpointer).await;
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        self.writer.wait().await;
        self.reader.pool.close().await;
        Ok(())
    }
}

/// Read-only access to a store file, for queries. Several readers and one
/// writer (in this process or another) can use the file at once.
#[derive(Debug, Clone)]
pub struct Reader {
    pool: sqlx::SqlitePool,
}

impl Reader {
    /// Opens an existing store for queries; fails if the file does not exist.
    pub async fn open(path: impl AsRef<Path>) -> Result<Reader> {
        let path = path.as_ref();
        if !path.exists() {
            return Err(StoreError::Missing(path.to_owned()));
        }
        Ok(Reader {
            pool: open::readers(path).await?,
        })
    }

    pub(crate) fn pool(&self) -> &sqlx::SqlitePool {
        &self.pool
    }
}
