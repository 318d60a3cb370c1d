//! Appending: expected-version checks, idempotent repeats, multi-row inserts.

use std::time::SystemTime;

use sqlx::{Any, Row as _, Transaction};

use super::EventStore;
use super::types::{Appended, ExpectedVersion, NewEvent, StoreError, to_micros};
use crate::database::Database;

/// Rows per INSERT statement: 9 parameters each, well under SQLite's 32,766 limit.
const ROWS_PER_INSERT: usize = 512;

/// One stream's share of an atomic multi-stream append.
#[derive(Debug, Clone)]
pub struct StreamAppend {
    pub stream_id: String,
    pub expected: ExpectedVersion,
    pub events: Vec<NewEvent>,
}

impl EventStore {
    /// Appends `events` to `stream_id` if the stream is at `expected`.
    ///
    /// Appending events whose ids are all stored already (by an earlier append of the same
    /// events to the same stream) writes nothing and answers the earlier positions with
    /// `duplicate: true`; that makes a retried append after a lost answer safe.
    pub async fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, StoreError> {
        let mut appended = self
            .append_many(vec![StreamAppend {
                stream_id: stream_id.to_owned(),
                expected,
                events,
            }])
            .await?;
        Ok(appended.remove(0))
    }

    /// Appends to several streams in one transaction: all or nothing.
    pub async fn append_many(
        &self,
        appends: Vec<StreamAppend>,
    ) -> Result<Vec<Appended>, StoreError> {
        for append in &appends {
            validate(append)?;
        }
        let mut tx = self.begin_write().await?;
        let mut head: i64 = sqlx::query("SELECT COALESCE(MAX(position), 0) FROM events")
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        let now = to_micros(SystemTime::now());
        let mut results = Vec::with_capacity(appends.len());
        let mut rows: Vec<Row<'_>> = Vec::new();
        for append in &appends {
            if let Some(repeat) = find_repeat(&mut tx, append).await? {
                results.push(repeat);
                continue;
            }
            let current = stream_version(&mut tx, &append.stream_id).await?;
            if !append.expected.accepts(current) {
                return Err(StoreError::Conflict {
                    stream_id: append.stream_id.clone(),
                    expected: append.expected,
                    actual: current,
                });
            }
            let first_position = head + 1;
            for (offset, event) in append.events.iter().enumerate() {
                head += 1;
                rows.push(Row {
                    position: head,
                    stream_id: &append.stream_id,
                    version: current + 1 + offset as i64,
                    event,
                });
            }
            results.push(Appended {
                first_position,
                last_position: head,
                version: current + append.events.len() as i64,
                duplicate: false,
            });
        }
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            insert(&mut tx, self.database(), chunk, now).await?;
        }
        tx.commit().await?;
        self.wrote(head);
        Ok(results)
    }
}

struct Row<'a> {
    position: i64,
    stream_id: &'a str,
    version: i64,
    event: &'a NewEvent,
}

fn validate(append: &StreamAppend) -> Result<(), StoreError> {
    if append.stream_id.is_empty() {
        return Err(StoreError::Invalid {
            what: "stream id",
            reason: "it is empty".into(),
        });
    }
    if append.events.is_empty() {
        return Err(StoreError::Invalid {
            what: "append",
            reason: format!("no events for stream {:?}", append.stream_id),
        });
    }
    let mut ids: Vec<&str> = append.events.iter().map(|e| e.event_id.as_str()).collect();
    ids.sort_unstable();
    if let Some(pair) = ids.windows(2).find(|pair| pair[0] == pair[1]) {
        return Err(StoreError::Invalid {
            what: "append",
            reason: format!("event id {:?} appears twice", pair[0]),
        });
    }
    if let Some(event) = append
        .events
        .iter()
        .find(|e| e.event_id.is_empty() || e.event_type.is_empty())
    {
        return Err(StoreError::Invalid {
            what: "event",
            reason: format!("empty event id or type in {:?}", event.event_id),
        });
    }
    Ok(())
}

async fn stream_version(
    tx: &mut Transaction<'static, Any>,
    stream_id: &str,
) -> Result<i64, StoreError> {
    Ok(
        sqlx::query("SELECT COALESCE(MAX(version), 0) FROM events WHERE stream_id = $1")
            .bind(stream_id)
            .fetch_one(&mut **tx)
            .await?
            .try_get(0)?,
    )
}

/// Recognises a repeat of an earlier append: every event id stored, in the same stream,
/// in the same order. A partial overlap is an error, never a silent half-append.
async fn find_repeat(
    tx: &mut Transaction<'static, Any>,
    append: &StreamAppend,
) -> Result<Option<Appended>, StoreError> {
    let mut stored = Vec::new();
    for event in &append.events {
        let row =
            sqlx::query("SELECT stream_id, version, position FROM events WHERE event_id = $1")
                .bind(&event.event_id)
                .fetch_optional(&mut **tx)
                .await?;
        match row {
            Some(row) => stored.push((
                event,
                row.try_get::<String, _>(0)?,
                row.try_get::<i64, _>(1)?,
                row.try_get::<i64, _>(2)?,
            )),
            // The common case: the first id is new, so this is not a repeat.
            None if stored.is_empty() => return Ok(None),
            None => break,
        }
    }
    let consistent = stored.len() == append.events.len()
        && stored
            .iter()
            .all(|(_, stream, _, _)| *stream == append.stream_id)
        && stored.windows(2).all(|pair| pair[1].2 == pair[0].2 + 1);
    if !consistent {
        let (event, stream, version, _) = &stored[0];
        return Err(StoreError::IdempotencyMismatch {
            event_id: event.event_id.clone(),
            where_: format!("in stream {stream:?} at version {version}"),
        });
    }
    let (first, last) = (&stored[0], &stored[stored.len() - 1]);
    Ok(Some(Appended {
        first_position: first.3,
        last_position: last.3,
        version: last.2,
        duplicate: true,
    }))
}

async fn insert(
    tx: &mut Transaction<'static, Any>,
    db: &Database,
    rows: &[Row<'_>],
    now: i64,
) -> Result<(), StoreError> {
    let mut sql = String::from(
        "INSERT INTO events (position, event_id, stream_id, version, event_type, schema_version, payload, metadata, recorded_at) VALUES ",
    );
    for index in 0..rows.len() {
        let base = index * 9;
        if index > 0 {
            sql.push(',');
        }
        sql.push('(');
        for column in 1..=9 {
            if column > 1 {
                sql.push(',');
            }
            sql.push_str(&db.placeholder(base + column));
        }
        sql.push(')');
    }
    let mut query = sqlx::query(&sql);
    for row in rows {
        query = query
            .bind(row.position)
            .bind(row.event.event_id.as_str())
            .bind(row.stream_id)
            .bind(row.version)
            .bind(row.event.event_type.as_str())
            .bind(i64::from(row.event.schema_version))
            .bind(row.event.payload.to_string())
            .bind(serde_json::to_string(&row.event.metadata).expect("string maps serialize"))
            .bind(now);
    }
    query
        .execute(&mut **tx)
        .await
        .map_err(|error| match &error {
            // Another append took an id of ours between our repeat check and insert cannot
            // happen under the write lock; a unique violation here is an id reused across
            // streams within this very batch.
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Invalid {
                what: "append",
                reason: format!("an event id is used twice: {db}"),
            },
            _ => StoreError::Database(error),
        })?;
    Ok(())
}
