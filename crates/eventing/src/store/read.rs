//! Reading: one stream forward from a version, everything in global order from a position.

use std::time::SystemTime;

use sqlx::Row as _;
use sqlx::any::AnyRow;

use super::EventStore;
use super::types::{EventLocation, Metadata, RecordedEvent, StoreError, from_micros, to_micros};

const COLUMNS: &str = "position, event_id, stream_id, version, event_type, schema_version, payload, metadata, recorded_at";

impl EventStore {
    /// Events of `stream_id` with version ≥ `from_version`, in order, at most `limit`.
    pub async fn read_stream(
        &self,
        stream_id: &str,
        from_version: i64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.read_stream_until(stream_id, from_version, i64::MAX, limit)
            .await
    }

    /// Events of `stream_id` with `from_version ≤ version ≤ to_version`, in order.
    pub async fn read_stream_until(
        &self,
        stream_id: &str,
        from_version: i64,
        to_version: i64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM events WHERE stream_id = $1 AND version >= $2 AND version <= $3 ORDER BY version LIMIT $4"
        );
        let rows = sqlx::query(&sql)
            .bind(stream_id)
            .bind(from_version)
            .bind(to_version)
            .bind(limit_param(limit))
            .fetch_all(self.read_pool())
            .await?;
        rows.iter().map(decode).collect()
    }

    /// Every event with a position above `after`, in global order, at most `limit`.
    pub async fn read_all(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let sql =
            format!("SELECT {COLUMNS} FROM events WHERE position > $1 ORDER BY position LIMIT $2");
        let rows = sqlx::query(&sql)
            .bind(after)
            .bind(limit_param(limit))
            .fetch_all(self.read_pool())
            .await?;
        rows.iter().map(decode).collect()
    }

    /// The stream's last version; 0 when it has no events.
    pub async fn stream_version(&self, stream_id: &str) -> Result<i64, StoreError> {
        Ok(
            sqlx::query("SELECT COALESCE(MAX(version), 0) FROM events WHERE stream_id = $1")
                .bind(stream_id)
                .fetch_one(self.read_pool())
                .await?
                .try_get(0)?,
        )
    }

    /// The stream's last version recorded at or before `time`; 0 when none was.
    pub async fn stream_version_at(
        &self,
        stream_id: &str,
        time: SystemTime,
    ) -> Result<i64, StoreError> {
        Ok(sqlx::query(
            "SELECT COALESCE(MAX(version), 0) FROM events WHERE stream_id = $1 AND recorded_at <= $2",
        )
        .bind(stream_id)
        .bind(to_micros(time))
        .fetch_one(self.read_pool())
        .await?
        .try_get(0)?)
    }

    /// Where the event with this id is stored, if it is.
    pub async fn find_event(&self, event_id: &str) -> Result<Option<EventLocation>, StoreError> {
        let row =
            sqlx::query("SELECT stream_id, version, position FROM events WHERE event_id = $1")
                .bind(event_id)
                .fetch_optional(self.read_pool())
                .await?;
        Ok(match row {
            Some(row) => Some(EventLocation {
                stream_id: row.try_get(0)?,
                version: row.try_get(1)?,
                position: row.try_get(2)?,
            }),
            None => None,
        })
    }

    /// The last position written; 0 for an empty store.
    pub async fn head_position(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query("SELECT COALESCE(MAX(position), 0) FROM events")
            .fetch_one(self.read_pool())
            .await?
            .try_get(0)?)
    }

    /// When the event at the lowest position above `after` was recorded, if there is one.
    pub async fn recorded_after(&self, after: i64) -> Result<Option<SystemTime>, StoreError> {
        let row = sqlx::query(
            "SELECT recorded_at FROM events WHERE position > $1 ORDER BY position LIMIT 1",
        )
        .bind(after)
        .fetch_optional(self.read_pool())
        .await?;
        Ok(match row {
            Some(row) => Some(from_micros(row.try_get(0)?)),
            None => None,
        })
    }
}

fn limit_param(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

fn decode(row: &AnyRow) -> Result<RecordedEvent, StoreError> {
    let position: i64 = row.try_get(0)?;
    let corrupt = |what: &str, error: serde_json::Error| StoreError::Corrupt {
        what: format!("{what} of the event at position {position}"),
        reason: error.to_string(),
    };
    let payload: String = row.try_get(6)?;
    let metadata: String = row.try_get(7)?;
    Ok(RecordedEvent {
        position,
        event_id: row.try_get(1)?,
        stream_id: row.try_get(2)?,
        version: row.try_get(3)?,
        event_type: row.try_get(4)?,
        schema_version: u32::try_from(row.try_get::<i64, _>(5)?).unwrap_or(0),
        payload: serde_json::from_str(&payload).map_err(|e| corrupt("payload", e))?,
        metadata: serde_json::from_str::<Metadata>(&metadata)
            .map_err(|e| corrupt("metadata", e))?,
        recorded_at: from_micros(row.try_get(8)?),
    })
}
