//! The event store: streams of events with optimistic concurrency, idempotent appends,
//! reads by stream and in global order, snapshots and durable checkpoints.
//!
//! SQLite by default (one file, WAL), PostgreSQL for clusters; the same code and the
//! same test suite run on both through sqlx's `Any` driver. Only the schema and the
//! write lock differ (see [`Backend`]).

mod append;
mod checkpoints;
mod read;
mod snapshots;
mod types;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sqlx::AnyPool;
use tokio::sync::watch;

pub use crate::database::Backend;
use crate::database::{Database, DatabaseOptions, Migrations};
pub use append::StreamAppend;
pub(crate) use checkpoints::save_checkpoint;
pub use snapshots::Snapshot;
pub use types::{
    Appended, EventLocation, ExpectedVersion, Metadata, NewEvent, RecordedEvent, StoreError,
};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");
const MIGRATIONS: Migrations = Migrations {
    sqlite: &SQLITE_MIGRATIONS,
    postgres: &POSTGRES_MIGRATIONS,
};

/// How to open the store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Connections for reads (SQLite) or for everything (PostgreSQL).
    pub max_connections: u32,
    /// SQLite only: `synchronous=FULL` (survives power loss) instead of `NORMAL` (survives
    /// a killed process; the WAL default).
    pub sync_full: bool,
    /// How often followers (projections, outbox relays) poll for events written by other
    /// processes; writes in this process wake them at once.
    pub poll_interval: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_connections: 4,
            sync_full: false,
            poll_interval: Duration::from_millis(200),
        }
    }
}

/// A handle to the event store; cheap to clone.
#[derive(Debug, Clone)]
pub struct EventStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: Database,
    /// The last position this process wrote, to wake followers without polling.
    head: watch::Sender<i64>,
    poll_interval: Duration,
}

/// Arbitrary but fixed: the advisory lock key of appends on PostgreSQL ("swyd" in ASCII).
const POSTGRES_APPEND_LOCK: i64 = 0x7377_7964;

impl EventStore {
    /// Opens (creating if needed) a SQLite store at `path`.
    pub async fn open_sqlite(path: &Path) -> Result<Self, StoreError> {
        let url = format!("sqlite://{}?mode=rwc", path.display());
        Self::connect_with(&url, StoreOptions::default()).await
    }

    /// Opens `sqlite:PATH`, `sqlite://PATH`, a plain file path, or `postgres://...`.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, StoreOptions::default()).await
    }

    pub async fn connect_with(url: &str, options: StoreOptions) -> Result<Self, StoreError> {
        let db_options = DatabaseOptions {
            max_connections: options.max_connections,
            sync_full: options.sync_full,
        };
        let db = Database::connect(url, &db_options, MIGRATIONS).await?;
        let store = EventStore {
            inner: Arc::new(Inner {
                db,
                head: watch::Sender::new(0),
                poll_interval: options.poll_interval,
            }),
        };
        let head = store.head_position().await?;
        store.inner.head.send_replace(head);
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.inner.db.backend()
    }

    /// The database under the store, for tables that live beside it.
    pub fn database(&self) -> &Database {
        &self.inner.db
    }

    /// Waits until a position above `after` may exist: at once when this process wrote
    /// one, else after the poll interval (another process may have).
    pub async fn wait_for_events(&self, after: i64) {
        let mut head = self.inner.head.subscribe();
        if *head.borrow_and_update() > after {
            return;
        }
        let _ = tokio::time::timeout(self.inner.poll_interval, head.changed()).await;
    }

    pub(crate) fn read_pool(&self) -> &AnyPool {
        self.inner.db.read_pool()
    }

    /// Begins a write transaction holding the store's write lock.
    pub(crate) async fn begin_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(self.inner.db.begin_exclusive(POSTGRES_APPEND_LOCK).await?)
    }

    /// Connections for writes other than appends (checkpoints, snapshots): SQLite's one
    /// writer, so they queue in-process instead of retrying on a busy file.
    pub(crate) fn write_pool(&self) -> &AnyPool {
        self.inner.db.write_pool()
    }

    /// Begins a transaction for writes other than appends (a projection's read model and
    /// checkpoint). On PostgreSQL it does not take the append lock.
    pub(crate) async fn begin_side_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(self.inner.db.begin().await?)
    }

    pub(crate) fn wrote(&self, position: i64) {
        self.inner.head.send_if_modified(|head| {
            let moved = position > *head;
            *head = (*head).max(position);
            moved
        });
    }

    /// Closes the connections (waits for them to be returned).
    pub async fn close(&self) {
        self.inner.db.close().await;
    }
}
