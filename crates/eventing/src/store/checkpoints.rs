//! Durable positions of the log's followers (projections, outbox relays), by name.

use std::time::SystemTime;

use sqlx::{Any, Executor, Row as _};

use super::EventStore;
use super::types::{StoreError, to_micros};

impl EventStore {
    /// The follower's saved position; 0 when it has none.
    pub async fn checkpoint(&self, name: &str) -> Result<i64, StoreError> {
        load_checkpoint(self.read_pool(), name).await
    }

    /// Saves the follower's position on its own (outside any other write).
    pub async fn save_checkpoint(&self, name: &str, position: i64) -> Result<(), StoreError> {
        save_checkpoint(self.write_pool(), name, position).await
    }

    /// Forgets the follower's position, so it starts again from the beginning.
    pub async fn delete_checkpoint(&self, name: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM checkpoints WHERE name = $1")
            .bind(name)
            .execute(self.write_pool())
            .await?;
        Ok(())
    }
}

pub(crate) async fn load_checkpoint<'e>(
    executor: impl Executor<'e, Database = Any>,
    name: &str,
) -> Result<i64, StoreError> {
    let row = sqlx::query("SELECT position FROM checkpoints WHERE name = $1")
        .bind(name)
        .fetch_optional(executor)
        .await?;
    Ok(match row {
        Some(row) => row.try_get(0)?,
        None => 0,
    })
}

/// Upserts a checkpoint; inside a projection's transaction this commits together with
/// the read model's changes, so they never disagree.
pub(crate) async fn save_checkpoint<'e>(
    executor: impl Executor<'e, Database = Any>,
    name: &str,
    position: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO checkpoints (name, position, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at",
    )
    .bind(name)
    .bind(position)
    .bind(to_micros(SystemTime::now()))
    .execute(executor)
    .await?;
    Ok(())
}
