//! Span durations by name over a time range, for latency histograms.

use crate::Reader;
use crate::error::Result;

impl Reader {
    /// The durations (ns) of spans named `name` that started in `[since, until)`,
    /// optionally of one service; at most `limit`, newest first. Walks the start-time
    /// index, so the range bounds the work.
    pub async fn span_durations(
        &self,
        name: &str,
        service: Option<&str>,
        since_unix_nano: i64,
        until_unix_nano: i64,
        limit: u32,
    ) -> Result<Vec<i64>> {
        let rows: Vec<(i64,)> = sqlx::query_as(
            "SELECT s.end_time - s.start_time FROM spans s
             WHERE s.start_time >= ?1 AND s.start_time < ?2 AND s.name = ?3
               AND (?4 IS NULL OR s.resource_id IN
                    (SELECT id FROM resources WHERE service_name = ?4))
             ORDER BY s.start_time DESC LIMIT ?5",
        )
        .bind(since_unix_nano)
        .bind(until_unix_nano)
        .bind(name)
        .bind(service)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|(d,)| d.max(0)).collect())
    }
}
