//! A read model as a table of JSON documents by key, changed inside the projection's
//! transaction so that documents and the projection's checkpoint commit together.

use serde_json::Value;
use sqlx::{Any, Row as _, Transaction};

use crate::store::StoreError;

/// The documents of one read model, inside the transaction applying one batch of events.
#[derive(Debug)]
pub struct Documents<'t> {
    tx: &'t mut Transaction<'static, Any>,
    table: &'t str,
    position: i64,
}

impl<'t> Documents<'t> {
    pub(crate) fn new(tx: &'t mut Transaction<'static, Any>, table: &'t str) -> Self {
        Documents {
            tx,
            table,
            position: 0,
        }
    }

    /// The position of the event being applied; recorded on the documents it changes.
    pub(crate) fn at(&mut self, position: i64) {
        self.position = position;
    }

    pub async fn get(&mut self, key: &str) -> Result<Option<Value>, StoreError> {
        let sql = format!("SELECT doc FROM {} WHERE key = $1", self.table);
        let row = sqlx::query(&sql)
            .bind(key)
            .fetch_optional(&mut **self.tx)
            .await?;
        match row {
            Some(row) => {
                let doc: String = row.try_get(0)?;
                serde_json::from_str(&doc)
                    .map(Some)
                    .map_err(|e| StoreError::Corrupt {
                        what: format!("document {key:?} of {}", self.table),
                        reason: e.to_string(),
                    })
            }
            None => Ok(None),
        }
    }

    pub async fn put(&mut self, key: &str, doc: &Value) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO {} (key, doc, position) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET doc = excluded.doc, position = excluded.position",
            self.table
        );
        sqlx::query(&sql)
            .bind(key)
            .bind(doc.to_string())
            .bind(self.position)
            .execute(&mut **self.tx)
            .await?;
        Ok(())
    }

    pub async fn delete(&mut self, key: &str) -> Result<(), StoreError> {
        let sql = format!("DELETE FROM {} WHERE key = $1", self.table);
        sqlx::query(&sql).bind(key).execute(&mut **self.tx).await?;
        Ok(())
    }

    /// Reads the document (or `Value::Null`), lets `change` edit it, and stores it.
    pub async fn update(
        &mut self,
        key: &str,
        change: impl FnOnce(&mut Value),
    ) -> Result<(), StoreError> {
        let mut doc = self.get(key).await?.unwrap_or(Value::Null);
        change(&mut doc);
        self.put(key, &doc).await
    }
}

pub(crate) fn create_table_sql(table: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {table} (key TEXT PRIMARY KEY, doc TEXT NOT NULL, position BIGINT NOT NULL)"
    )
}
