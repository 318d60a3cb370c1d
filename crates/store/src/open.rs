//! Connections to the store file and their settings.

use std::path::Path;
use std::str::FromStr as _;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteAutoVacuum, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions as _, Connection as _, SqliteConnection, SqlitePool};
use tokio::sync::oneshot;

use crate::config::{Durability, StoreConfig};
use crate::error::{Result, StoreError};

/// Larger pages than SQLite's 4 KiB default: fewer pages touched per commit
/// and cheaper checkpoints for this append-heavy workload.
const PAGE_SIZE: u32 = 16 * 1024;

fn base_options(path: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::from_str("sqlite:")
        .expect("a constant URL parses")
        .filename(path)
        .journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(Duration::from_secs(10))
        .pragma("temp_store", "memory")
        .disable_statement_logging()
}

fn open_error(path: &Path) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
    move |source| StoreError::Open {
        path: path.to_owned(),
        source,
    }
}

/// The write connection. Page size and incremental auto-vacuum only take
/// effect on a new file, before the first table exists.
pub(crate) async fn writer(config: &StoreConfig) -> Result<SqliteConnection> {
    if let Some(dir) = config.path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| open_error(&config.path)(sqlx::Error::Io(e)))?;
    }
    let options = base_options(&config.path)
        .create_if_missing(true)
        .page_size(PAGE_SIZE)
        .auto_vacuum(SqliteAutoVacuum::Incremental)
        .synchronous(match config.durability {
            Durability::Normal => SqliteSynchronous::Normal,
            Durability::Full => SqliteSynchronous::Full,
        })
        // The background checkpointer copies the WAL; the writer must not
        // stall a commit doing it.
        .pragma("wal_autocheckpoint", "0")
        // After the WAL starts over, cut its file back to this size.
        .pragma("journal_size_limit", "134217728")
        // Keep the hot part of the indexes in memory (64 MiB).
        .pragma("cache_size", "-65536")
        // Room for every multi-row insert statement of the telemetry and the
        // derived tables (about a hundred), so none is prepared twice.
        .statement_cache_capacity(256);
    options.connect().await.map_err(open_error(&config.path))
}

/// The console's records connection: one writer of small rows, next to the ingest
/// writer (in this process or another). Settings a new file needs match the writer's.
pub(crate) async fn records(path: &Path) -> Result<SqlitePool> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| open_error(path)(sqlx::Error::Io(e)))?;
    }
    let options = base_options(path)
        .create_if_missing(true)
        .page_size(PAGE_SIZE)
        .auto_vacuum(SqliteAutoVacuum::Incremental)
        .synchronous(SqliteSynchronous::Normal);
    SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .connect_with(options)
        .await
        .map_err(open_error(path))
}

/// The pool that answers queries. `query_only` makes a slip into writing an error.
pub(crate) async fn readers(path: &Path) -> Result<SqlitePool> {
    let options = base_options(path)
        .create_if_missing(false)
        .pragma("query_only", "ON")
        .pragma("cache_size", "-32768")
        .pragma("mmap_size", "268435456");
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .min_connections(0)
        .connect_with(options)
        .await
        .map_err(open_error(path))?;
    let tables: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'spans'",
    )
    .fetch_one(&pool)
    .await
    .map_err(open_error(path))?;
    if tables == 0 {
        return Err(StoreError::NotAStore(path.to_owned()));
    }
    Ok(pool)
}

pub(crate) async fn checkpointer(path: &Path) -> Result<SqliteConnection> {
    base_options(path)
        .create_if_missing(false)
        .connect()
        .await
        .map_err(open_error(path))
}

/// Copies the WAL into the database file in the background (PASSIVE: never
/// blocks the writer or readers), so the writer's commits don't do it.
pub(crate) async fn run_checkpoints(
    mut conn: SqliteConnection,
    every: Duration,
    mut stop: oneshot::Receiver<()>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = tick.tick() => {
                if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&mut conn).await {
                    tracing::warn!("WAL checkpoint failed: {e}");
                }
            }
        }
    }
    let _ = conn.close().await;
}
