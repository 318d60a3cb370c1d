//! Projections: read models built from the event stream, one batch per transaction with
//! the checkpoint, so a killed projector resumes exactly where its last commit left it.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use sqlx::{Executor as _, Row as _};
use tokio::sync::watch;

use super::documents::{Documents, create_table_sql};
use super::lag::{Lag, LagGauges};
use super::{table_name, validate_name};
use crate::store::{Backend, EventStore, RecordedEvent, StoreError};

/// Builds one read model from events.
#[async_trait]
pub trait Projection: Send + Sync + 'static {
    /// Names the read model (`rm_{name}`) and the checkpoint; `[a-z][a-z0-9_]*`.
    fn name(&self) -> &str;

    /// Events of other types are skipped (the checkpoint still moves past them).
    fn handles(&self, _event_type: &str) -> bool {
        true
    }

    /// Applies one event. An error stops the projector at this event, which stays
    /// unapplied, rather than skipping it and leaving the read model wrong.
    async fn apply(
        &self,
        docs: &mut Documents<'_>,
        event: &RecordedEvent,
    ) -> Result<(), ProjectionError>;
}

#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("projection {projection} cannot apply the event at position {position}: {reason}")]
    Event {
        projection: String,
        position: i64,
        reason: String,
    },
}

impl From<sqlx::Error> for ProjectionError {
    fn from(error: sqlx::Error) -> Self {
        ProjectionError::Store(error.into())
    }
}

/// How a rebuilt read model differs from the live one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Comparison {
    pub live_table: String,
    pub other_table: String,
    pub equal: usize,
    pub only_live: Vec<String>,
    pub only_other: Vec<String>,
    pub different: Vec<String>,
}

impl Comparison {
    pub fn is_identical(&self) -> bool {
        self.only_live.is_empty() && self.only_other.is_empty() && self.different.is_empty()
    }
}

/// Runs a [`Projection`]: catches up, follows new events, rebuilds, reports lag.
#[derive(Debug)]
pub struct Projector<P> {
    store: EventStore,
    projection: Arc<P>,
    batch: usize,
    gauges: LagGauges,
}

/// Where one build of a read model goes: the live one, or a rebuild as of a position.
struct Target {
    table: String,
    checkpoint: String,
    until: i64,
}

impl<P: Projection> Projector<P> {
    /// Creates the read model's table if needed.
    pub async fn new(store: EventStore, projection: P) -> Result<Self, ProjectionError> {
        validate_name(projection.name())?;
        let projector = Projector {
            gauges: LagGauges::register(projection.name()),
            store,
            projection: Arc::new(projection),
            batch: 500,
        };
        projector.prepare(&projector.live()).await?;
        Ok(projector)
    }

    /// Events applied per transaction.
    pub fn batch(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }

    pub fn name(&self) -> &str {
        self.projection.name()
    }

    /// The read model's table, for a [`super::ReadModel`].
    pub fn table(&self) -> String {
        table_name(self.name())
    }

    /// Applies the next batch; returns how many events it went past (0: caught up).
    pub async fn step(&self) -> Result<usize, ProjectionError> {
        self.step_into(&self.live()).await
    }

    /// Applies everything up to the store's current head; returns the position reached.
    pub async fn catch_up(&self) -> Result<i64, ProjectionError> {
        while self.step().await? > 0 {}
        let lag = self.lag().await?;
        Ok(lag.position)
    }

    /// Follows the store until `stop` turns true; lag is reported as it goes.
    pub async fn run(&self, mut stop: watch::Receiver<bool>) -> Result<(), ProjectionError> {
        loop {
            if *stop.borrow() {
                return Ok(());
            }
            let moved = self.step().await?;
            let lag = self.lag().await?;
            if moved == 0 {
                tokio::select! {
                    _ = self.store.wait_for_events(lag.position) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }

    /// Measures the lag now (and updates the gauges).
    pub async fn lag(&self) -> Result<Lag, ProjectionError> {
        let position = self.store.checkpoint(&self.live().checkpoint).await?;
        let head = self.store.head_position().await?;
        let oldest = self.store.recorded_after(position).await?;
        let lag = Lag::new(position, head, oldest);
        self.gauges.record(lag);
        Ok(lag)
    }

    /// Empties the read model and builds it again from the first event.
    pub async fn rebuild(&self) -> Result<i64, ProjectionError> {
        self.reset(&self.live()).await?;
        self.catch_up().await
    }

    /// Builds the read model as it was at `position` into its own table (`rm_{name}_at_{position}`),
    /// beside the live one; returns that table's name.
    pub async fn rebuild_as_of(&self, position: i64) -> Result<String, ProjectionError> {
        let target = self.as_of(position);
        self.reset(&target).await?;
        while self.step_into(&target).await? > 0 {}
        Ok(target.table)
    }

    /// Drops a table made by [`Projector::rebuild_as_of`].
    pub async fn drop_rebuilt(&self, position: i64) -> Result<(), ProjectionError> {
        let target = self.as_of(position);
        let sql = format!("DROP TABLE IF EXISTS {}", target.table);
        self.store.write_pool().execute(sql.as_str()).await?;
        self.store.delete_checkpoint(&target.checkpoint).await?;
        Ok(())
    }

    /// Compares the live read model with another table of the same projection (one made
    /// by [`Projector::rebuild_as_of`]), document by document.
    pub async fn compare(&self, other_table: &str) -> Result<Comparison, ProjectionError> {
        let prefix = format!("{}_at_", self.table());
        if other_table
            .strip_prefix(&prefix)
            .is_none_or(|position| position.parse::<i64>().is_err())
        {
            return Err(StoreError::Invalid {
                what: "table to compare",
                reason: format!("{other_table:?} is not a rebuild of {}", self.name()),
            }
            .into());
        }
        let live = self.documents(&self.table()).await?;
        let other = self.documents(other_table).await?;
        let mut comparison = Comparison {
            live_table: self.table(),
            other_table: other_table.to_owned(),
            ..Comparison::default()
        };
        for (key, doc) in &live {
            match other.get(key) {
                None => comparison.only_live.push(key.clone()),
                Some(other_doc) if other_doc != doc => comparison.different.push(key.clone()),
                Some(_) => comparison.equal += 1,
            }
        }
        comparison.only_other = other
            .keys()
            .filter(|key| !live.contains_key(*key))
            .cloned()
            .collect();
        Ok(comparison)
    }

    fn live(&self) -> Target {
        Target {
            table: self.table(),
            checkpoint: format!("projection:{}", self.name()),
            until: i64::MAX,
        }
    }

    fn as_of(&self, position: i64) -> Target {
        Target {
            table: format!("{}_at_{}", self.table(), position.max(0)),
            checkpoint: format!("projection:{}@{}", self.name(), position.max(0)),
            until: position,
        }
    }

    async fn prepare(&self, target: &Target) -> Result<(), ProjectionError> {
        let pool = self.store.write_pool();
        pool.execute(create_table_sql(&target.table).as_str())
            .await?;
        // The row must exist for PostgreSQL's FOR UPDATE in `step_into` to lock it.
        sqlx::query(
            "INSERT INTO checkpoints (name, position, updated_at) VALUES ($1, 0, 0) ON CONFLICT (name) DO NOTHING",
        )
        .bind(&target.checkpoint)
        .execute(pool)
        .await?;
        Ok(())
    }

    async fn reset(&self, target: &Target) -> Result<(), ProjectionError> {
        self.prepare(target).await?;
        let mut tx = self.store.begin_side_write().await?;
        tx.execute(format!("DELETE FROM {}", target.table).as_str())
            .await?;
        crate::store::save_checkpoint(&mut *tx, &target.checkpoint, 0).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn step_into(&self, target: &Target) -> Result<usize, ProjectionError> {
        let mut tx = self.store.begin_side_write().await?;
        // Locks the checkpoint, so two projectors of one read model take turns instead of
        // applying the same batch twice (SQLite's IMMEDIATE transaction already does).
        let lock = match self.store.backend() {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        };
        let sql = format!("SELECT position FROM checkpoints WHERE name = $1{lock}");
        let position: i64 = sqlx::query(&sql)
            .bind(&target.checkpoint)
            .fetch_optional(&mut *tx)
            .await?
            .map(|row| row.try_get(0))
            .transpose()?
            .unwrap_or(0);
        let room = usize::try_from(target.until.saturating_sub(position)).unwrap_or(usize::MAX);
        if room == 0 {
            return Ok(0);
        }
        let mut events = self.store.read_all(position, self.batch.min(room)).await?;
        events.retain(|event| event.position <= target.until);
        let Some(last) = events.last().map(|event| event.position) else {
            return Ok(0);
        };
        let mut docs = Documents::new(&mut tx, &target.table);
        for event in events
            .iter()
            .filter(|e| self.projection.handles(&e.event_type))
        {
            docs.at(event.position);
            self.projection.apply(&mut docs, event).await?;
        }
        crate::store::save_checkpoint(&mut *tx, &target.checkpoint, last).await?;
        tx.commit().await?;
        Ok(events.len())
    }

    async fn documents(&self, table: &str) -> Result<BTreeMap<String, Value>, ProjectionError> {
        let sql = format!("SELECT key, doc FROM {table}");
        let rows = sqlx::query(&sql).fetch_all(self.store.read_pool()).await?;
        let mut documents = BTreeMap::new();
        for row in rows {
            let key: String = row.try_get(0)?;
            let doc: String = row.try_get(1)?;
            let doc = serde_json::from_str(&doc).map_err(|e| StoreError::Corrupt {
                what: format!("document {key:?} of {table}"),
                reason: e.to_string(),
            })?;
            documents.insert(key, doc);
        }
        Ok(documents)
    }
}
