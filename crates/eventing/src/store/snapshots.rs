//! Snapshots: an aggregate's state at a version, so loading it does not replay the whole
//! stream.

use std::time::SystemTime;

use serde_json::Value;
use sqlx::Row as _;

use super::EventStore;
use super::types::{StoreError, to_micros};

/// An aggregate's state after the event at `version`.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub stream_id: String,
    pub version: i64,
    /// The state's format; a snapshot of another format is ignored (and rebuilt).
    pub state_version: u32,
    pub state: Value,
}

impl EventStore {
    /// Keeps a snapshot; a second one at the same version replaces the first.
    pub async fn save_snapshot(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO snapshots (stream_id, version, state_version, state, taken_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (stream_id, version) DO UPDATE SET state_version = excluded.state_version, \
             state = excluded.state, taken_at = excluded.taken_at",
        )
        .bind(&snapshot.stream_id)
        .bind(snapshot.version)
        .bind(i64::from(snapshot.state_version))
        .bind(snapshot.state.to_string())
        .bind(to_micros(SystemTime::now()))
        .execute(self.write_pool())
        .await?;
        Ok(())
    }

    /// The latest snapshot of `stream_id` at or below `max_version` in `state_version`.
    pub async fn load_snapshot(
        &self,
        stream_id: &str,
        max_version: i64,
        state_version: u32,
    ) -> Result<Option<Snapshot>, StoreError> {
        let row = sqlx::query(
            "SELECT version, state FROM snapshots WHERE stream_id = $1 AND version <= $2 AND state_version = $3 \
             ORDER BY version DESC LIMIT 1",
        )
        .bind(stream_id)
        .bind(max_version)
        .bind(i64::from(state_version))
        .fetch_optional(self.read_pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let version: i64 = row.try_get(0)?;
        let state: String = row.try_get(1)?;
        let state = serde_json::from_str(&state).map_err(|e| StoreError::Corrupt {
            what: format!("snapshot of {stream_id:?} at version {version}"),
            reason: e.to_string(),
        })?;
        Ok(Some(Snapshot {
            stream_id: stream_id.to_owned(),
            version,
            state_version,
            state,
        }))
    }
}
