//! Errors of the store, one type per family of operations.

use std::path::PathBuf;
use std::time::Duration;

use crate::attributes::StoredJsonError;

/// Opening, querying or maintaining the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no telemetry database at {0} (run `switchyard serve` or `switchyard import` first)")]
    Missing(PathBuf),
    #[error("{0} is not a Switchyard telemetry database")]
    NotAStore(PathBuf),
    #[error("cannot open the telemetry database at {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot bring the telemetry database's schema up to date: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    StoredJson(#[from] StoredJsonError),
    #[error("invalid query: {0}")]
    InvalidQuery(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A request that cannot be stored at all; nothing of it is kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InvalidRequest {
    message: String,
}

impl InvalidRequest {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

/// Handing a batch to the writer did not end in a commit. Nothing of the
/// batch is stored, so the sender may retry it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IngestError {
    /// The writer's queue is full; try again later.
    #[error("the store's writer is behind; retry after {} ms", retry_after.as_millis())]
    Busy { retry_after: Duration },
    /// The batch alone is larger than the writer's whole queue.
    #[error("the batch needs {needed} bytes of queue but the queue holds {capacity}")]
    TooLarge { needed: usize, capacity: usize },
    /// The store is shutting down or its writer stopped.
    #[error("the store is closed")]
    Closed,
    /// The transaction failed (disk full, I/O error, ...).
    #[error("the batch could not be committed: {0}")]
    Commit(String),
}
