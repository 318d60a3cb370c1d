//! The services that sent telemetry.

use crate::Reader;
use crate::error::Result;
use crate::model::ServiceSummary;

impl Reader {
    /// Every service seen, by name.
    pub async fn services(&self) -> Result<Vec<ServiceSummary>> {
        let rows: Vec<(String, i64, i64, i64)> = sqlx::query_as(
            "SELECT service_name, COUNT(*), MIN(first_seen), MAX(last_seen)
             FROM resources GROUP BY service_name ORDER BY service_name",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(name, resources, first, last)| ServiceSummary {
                name,
                resources: resources as u64,
                first_seen_unix_nano: first,
                last_seen_unix_nano: last,
            })
            .collect())
    }
}
