//! How the store is opened and how its writer behaves.

use std::path::PathBuf;
use std::time::Duration;

/// Where the store lives and how it trades durability, memory and latency.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub path: PathBuf,
    pub durability: Durability,
    /// Bound on the rows waiting for the writer, in bytes (roughly). When it
    /// is full, [`crate::Ingest::submit`] answers busy instead of growing.
    pub queue_bytes: usize,
    /// How long a submit may wait for room in a full queue before answering busy.
    pub admission_wait: Duration,
    /// The retry hint given with a busy answer.
    pub retry_after: Duration,
    /// Upper bound on spans, points and records committed in one transaction.
    pub max_transaction_items: usize,
    /// When little is queued, how long the writer waits for more before
    /// committing: larger transactions make the random-key index cheaper.
    pub linger: Duration,
    /// How often a background connection copies the WAL into the database.
    pub checkpoint_every: Duration,
    pub retention: Retention,
}

impl StoreConfig {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            durability: Durability::Normal,
            queue_bytes: 64 << 20,
            admission_wait: Duration::from_millis(500),
            retry_after: Duration::from_secs(1),
            max_transaction_items: 65_536,
            linger: Duration::from_millis(5),
            checkpoint_every: Duration::from_millis(500),
            retention: Retention::default(),
        }
    }
}

/// What a commit survives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// A committed batch survives the process being killed; the last commits
    /// may be lost if the machine loses power (SQLite `synchronous=NORMAL` in WAL).
    #[default]
    Normal,
    /// Every commit is synced to disk before it is acknowledged (`synchronous=FULL`).
    Full,
}

/// What the store deletes by itself. Deletion runs in the writer between
/// batches, in bounded steps, so ingest never waits long for it.
#[derive(Debug, Clone)]
pub struct Retention {
    /// Delete telemetry older than this.
    pub max_age: Option<Duration>,
    /// Keep the database file under this many bytes, deleting the oldest first.
    pub max_bytes: Option<u64>,
    /// How often to check when nothing is left to delete.
    pub check_every: Duration,
    /// Rows deleted per table per step.
    pub step_rows: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            max_age: Some(Duration::from_secs(7 * 24 * 3600)),
            max_bytes: Some(2 << 30),
            check_every: Duration::from_secs(10),
            step_rows: 20_000,
        }
    }
}

/// The default database path: `telemetry.db` in the OS data directory
/// (`~/.local/share/switchyard/` on Linux).
pub fn default_db_path() -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("switchyard")
        .join("telemetry.db")
}
