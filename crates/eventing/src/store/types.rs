//! What goes into the event store and what comes out.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// Free-form string metadata kept with an event: W3C trace context (`traceparent`),
/// correlation and causation ids, the actor who caused it.
pub type Metadata = BTreeMap<String, String>;

/// An event to append.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Unique across the store; appending an id that is already stored is recognised
    /// as a repeat (idempotent append), never stored twice.
    pub event_id: String,
    pub event_type: String,
    /// The payload's format version, for upcasting (see [`crate::aggregate::Upcasters`]).
    pub schema_version: u32,
    pub payload: Value,
    pub metadata: Metadata,
}

impl NewEvent {
    /// An event with a fresh time-ordered id (UUID v7), schema version 1, and the
    /// current trace context in its metadata.
    pub fn new(event_type: impl Into<String>, payload: Value) -> Self {
        let mut metadata = Metadata::new();
        crate::bus::inject_context(&opentelemetry::Context::current(), &mut metadata);
        NewEvent {
            event_id: uuid::Uuid::now_v7().to_string(),
            event_type: event_type.into(),
            schema_version: 1,
            payload,
            metadata,
        }
    }

    pub fn with_id(mut self, event_id: impl Into<String>) -> Self {
        self.event_id = event_id.into();
        self
    }

    pub fn with_schema_version(mut self, schema_version: u32) -> Self {
        self.schema_version = schema_version;
        self
    }

    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent {
    /// Global order across all streams, from 1, without gaps that fill in later.
    pub position: i64,
    pub event_id: String,
    pub stream_id: String,
    /// Position within the stream, from 1.
    pub version: i64,
    pub event_type: String,
    pub schema_version: u32,
    pub payload: Value,
    pub metadata: Metadata,
    pub recorded_at: SystemTime,
}

/// Where an event is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventLocation {
    pub stream_id: String,
    pub version: i64,
    pub position: i64,
}

/// What the writer expects the stream's current version to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// No check (use for streams with a single writer only).
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream's last version must be exactly this (0 = no stream).
    Exactly(i64),
}

impl ExpectedVersion {
    pub(crate) fn accepts(self, current: i64) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => current == 0,
            ExpectedVersion::Exactly(version) => current == version,
        }
    }
}

impl std::fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any version"),
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::Exactly(version) => write!(f, "version {version}"),
        }
    }
}

/// Where an append put its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Global position of the first and last event appended (equal for one event).
    pub first_position: i64,
    pub last_position: i64,
    /// The stream's version after the append.
    pub version: i64,
    /// Every event id was already stored by an earlier append of the same events: nothing
    /// was written, and the positions are those of the earlier append.
    pub duplicate: bool,
}

/// What went wrong in the event store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "concurrency conflict on stream {stream_id:?}: expected {expected}, but it is at version {actual}"
    )]
    Conflict {
        stream_id: String,
        expected: ExpectedVersion,
        actual: i64,
    },
    #[error(
        "event {event_id:?} is already stored {where_}, so this append is not a repeat of the one that stored it"
    )]
    IdempotencyMismatch { event_id: String, where_: String },
    #[error("invalid {what}: {reason}")]
    Invalid { what: &'static str, reason: String },
    #[error("event store: {0}")]
    Open(#[from] crate::database::DatabaseError),
    #[error("stored data is corrupt at {what}: {reason}")]
    Corrupt { what: String, reason: String },
    #[error("event store database error: {0}")]
    Database(#[from] sqlx::Error),
}

pub(crate) fn to_micros(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

pub(crate) fn from_micros(micros: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(micros.max(0) as u64)
}
