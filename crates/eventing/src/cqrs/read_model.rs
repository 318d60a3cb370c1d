//! The query side: reads a projection's documents, optionally only once the projection has
//! reached a given position (read-your-writes).

use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::Row as _;

use super::{table_name, validate_name};
use crate::store::{EventStore, StoreError};

/// The read model had not reached the wanted position before the timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the read model is at position {reached}, not yet at {wanted}")]
pub struct NotYet {
    pub wanted: i64,
    pub reached: i64,
}

/// Read access to one projection's documents.
#[derive(Debug, Clone)]
pub struct ReadModel {
    store: EventStore,
    table: String,
    checkpoint: String,
}

impl ReadModel {
    pub fn new(store: EventStore, projection: &str) -> Result<Self, StoreError> {
        validate_name(projection)?;
        Ok(ReadModel {
            store,
            table: table_name(projection),
            checkpoint: format!("projection:{projection}"),
        })
    }

    /// The position up to which the read model reflects the store.
    pub async fn position(&self) -> Result<i64, StoreError> {
        self.store.checkpoint(&self.checkpoint).await
    }

    /// Waits until the read model reflects `position` (a command's answer), polling,
    /// for at most `timeout`.
    pub async fn wait_for(
        &self,
        position: i64,
        timeout: Duration,
    ) -> Result<Result<(), NotYet>, StoreError> {
        let deadline = Instant::now() + timeout;
        loop {
            let reached = self.position().await?;
            if reached >= position {
                return Ok(Ok(()));
            }
            if Instant::now() >= deadline {
                return Ok(Err(NotYet {
                    wanted: position,
                    reached,
                }));
            }
            tokio::time::sleep(Duration::from_millis(5).min(deadline - Instant::now())).await;
        }
    }

    /// One document, as the read model has it now.
    pub async fn get(&self, key: &str) -> Result<Option<Value>, StoreError> {
        let sql = format!("SELECT doc FROM {} WHERE key = $1", self.table);
        let row = sqlx::query(&sql)
            .bind(key)
            .fetch_optional(self.store.read_pool())
            .await
            .map_err(|e| self.missing_table(e))?;
        match row {
            Some(row) => decode(&self.table, key, row.try_get(0)?).map(Some),
            None => Ok(None),
        }
    }

    /// One document once the read model has reached `position`, or [`NotYet`].
    pub async fn get_after(
        &self,
        key: &str,
        position: i64,
        timeout: Duration,
    ) -> Result<Result<Option<Value>, NotYet>, StoreError> {
        match self.wait_for(position, timeout).await? {
            Ok(()) => self.get(key).await.map(Ok),
            Err(not_yet) => Ok(Err(not_yet)),
        }
    }

    /// Documents in key order, after `after_key` (for paging), at most `limit`.
    pub async fn list(
        &self,
        after_key: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Value)>, StoreError> {
        let sql = format!(
            "SELECT key, doc FROM {} WHERE key > $1 ORDER BY key LIMIT $2",
            self.table
        );
        let rows = sqlx::query(&sql)
            .bind(after_key.unwrap_or(""))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(self.store.read_pool())
            .await
            .map_err(|e| self.missing_table(e))?;
        rows.iter()
            .map(|row| {
                let key: String = row.try_get(0)?;
                let doc = decode(&self.table, &key, row.try_get(1)?)?;
                Ok((key, doc))
            })
            .collect()
    }

    fn missing_table(&self, error: sqlx::Error) -> StoreError {
        match &error {
            sqlx::Error::Database(db) if db.message().contains(&self.table) => {
                StoreError::Invalid {
                    what: "read model",
                    reason: format!(
                        "{} does not exist yet: start its projector first ({db})",
                        self.table
                    ),
                }
            }
            _ => error.into(),
        }
    }
}

fn decode(table: &str, key: &str, doc: String) -> Result<Value, StoreError> {
    serde_json::from_str(&doc).map_err(|e| StoreError::Corrupt {
        what: format!("document {key:?} of {table}"),
        reason: e.to_string(),
    })
}
