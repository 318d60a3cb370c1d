//! Ids of resources, scopes and metric descriptors: looked up once, then cached.
//!
//! New ids found inside a transaction stay pending until it commits, so a
//! rolled-back transaction never leaves an id in the cache that the database
//! does not have.

use std::collections::HashMap;

use sqlx::SqliteConnection;

use crate::batch::{MetricRow, ResourceRow, ScopeRow};

/// Entries past this are dropped wholesale: a flood of distinct resources must
/// not grow memory without bound, and a miss only costs one upsert.
const MAX_CACHED: usize = 100_000;

#[derive(Debug, Default)]
pub(super) struct IdCache {
    resources: HashMap<String, i64>,
    scopes: HashMap<String, i64>,
    metrics: HashMap<String, i64>,
}

/// Ids resolved inside the current transaction.
#[derive(Debug, Default)]
pub(super) struct Pending {
    resources: HashMap<String, i64>,
    scopes: HashMap<String, i64>,
    metrics: HashMap<String, i64>,
}

impl IdCache {
    pub(super) fn publish(&mut self, pending: Pending) {
        for (cache, new) in [
            (&mut self.resources, pending.resources),
            (&mut self.scopes, pending.scopes),
            (&mut self.metrics, pending.metrics),
        ] {
            if cache.len() + new.len() > MAX_CACHED {
                cache.clear();
            }
            cache.extend(new);
        }
    }

    pub(super) async fn resource(
        &self,
        pending: &mut Pending,
        conn: &mut SqliteConnection,
        row: &ResourceRow,
        now: i64,
    ) -> sqlx::Result<i64> {
        if let Some(id) = lookup(&self.resources, &pending.resources, &row.key) {
            return Ok(id);
        }
        let id = sqlx::query_scalar(
            "INSERT INTO resources
                 (key, service_name, attributes, dropped_attributes_count, schema_url, first_seen, last_seen)
             VALUES (?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (key) DO UPDATE SET last_seen = excluded.last_seen
             RETURNING id",
        )
        .bind(&row.key)
        .bind(&row.service_name)
        .bind(row.attributes.as_deref())
        .bind(row.dropped_attributes_count)
        .bind(row.schema_url.as_deref())
        .bind(now)
        .bind(now)
        .fetch_one(conn)
        .await?;
        pending.resources.insert(row.key.clone(), id);
        Ok(id)
    }

    pub(super) async fn scope(
        &self,
        pending: &mut Pending,
        conn: &mut SqliteConnection,
        row: &ScopeRow,
    ) -> sqlx::Result<i64> {
        if let Some(id) = lookup(&self.scopes, &pending.scopes, &row.key) {
            return Ok(id);
        }
        let id = sqlx::query_scalar(
            "INSERT INTO scopes (key, name, version, attributes, dropped_attributes_count, schema_url)
             VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (key) DO UPDATE SET name = excluded.name
             RETURNING id",
        )
        .bind(&row.key)
        .bind(&row.name)
        .bind(row.version.as_deref())
        .bind(row.attributes.as_deref())
        .bind(row.dropped_attributes_count)
        .bind(row.schema_url.as_deref())
        .fetch_one(conn)
        .await?;
        pending.scopes.insert(row.key.clone(), id);
        Ok(id)
    }

    pub(super) async fn metric(
        &self,
        pending: &mut Pending,
        conn: &mut SqliteConnection,
        row: &MetricRow,
        resource_id: i64,
        scope_id: i64,
    ) -> sqlx::Result<i64> {
        let key = format!("{resource_id}\u{1f}{scope_id}\u{1f}{}", row.key);
        if let Some(id) = lookup(&self.metrics, &pending.metrics, &key) {
            return Ok(id);
        }
        let id = sqlx::query_scalar(
            "INSERT INTO metrics
                 (key, resource_id, scope_id, name, description, unit, type, temporality, monotonic, metadata)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (key) DO UPDATE SET name = excluded.name
             RETURNING id",
        )
        .bind(&key)
        .bind(resource_id)
        .bind(scope_id)
        .bind(&row.name)
        .bind(row.description.as_deref())
        .bind(row.unit.as_deref())
        .bind(row.metric_type as i32)
        .bind(row.temporality)
        .bind(row.monotonic)
        .bind(row.metadata.as_deref())
        .fetch_one(conn)
        .await?;
        pending.metrics.insert(key, id);
        Ok(id)
    }
}

fn lookup(cache: &HashMap<String, i64>, pending: &HashMap<String, i64>, key: &str) -> Option<i64> {
    cache.get(key).or_else(|| pending.get(key)).copied()
}
