//! Saga search: instances with outcome, failing step, error, compensations
//! and duration.

use serde::{Deserialize, Serialize};
use switchyard_store::{Reader, SagaInstanceRecord, SagaQuery};

use super::Outcome;
use crate::model::{Result, TimeRange};

/// What to search for. The default lists the newest 50 of every saga.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SagaSearch {
    /// Only instances where a step failed for good, or that ended compensated or failed.
    pub failed_only: bool,
    pub saga_name: Option<String>,
    /// Instances that started in this range.
    pub range: Option<TimeRange>,
    pub order: SagaOrder,
    pub limit: u32,
}

impl Default for SagaSearch {
    fn default() -> Self {
        Self {
            failed_only: false,
            saga_name: None,
            range: None,
            order: SagaOrder::NewestFirst,
            limit: 50,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SagaOrder {
    NewestFirst,
    /// Failed instances first (newest first), then the rest.
    FailedFirst,
}

/// One saga instance in a search result. `--json` prints these: the field
/// names are a contract (see the CLI snapshot test).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SagaInstance {
    pub saga_id: String,
    pub saga_name: String,
    pub outcome: Outcome,
    /// A step failed for good, or the saga ended compensated or failed.
    pub failed: bool,
    /// The furthest forward step whose last attempt failed.
    pub failed_step: Option<String>,
    pub failed_step_index: Option<i64>,
    /// The failed step's error, else the root's status message.
    pub error: Option<String>,
    /// The trace of the instance's (first) root span: 32 hex digits.
    pub trace_id: String,
    pub start_unix_nano: i64,
    pub duration_ns: i64,
    /// Forward steps seen.
    pub steps: i64,
    /// Steps that were compensated (or whose compensation was tried).
    pub compensations: i64,
    /// Step attempts, forward and compensating.
    pub attempts: i64,
}

impl From<SagaInstanceRecord> for SagaInstance {
    fn from(r: SagaInstanceRecord) -> Self {
        Self {
            saga_id: r.saga_id,
            saga_name: r.saga_name,
            outcome: Outcome::from_stored(&r.outcome),
            failed: r.failed,
            failed_step: r.failed_step,
            failed_step_index: r.failed_step_index,
            error: r.error,
            trace_id: const_hex::encode(&r.trace_id),
            start_unix_nano: r.start_time,
            duration_ns: (r.end_time - r.start_time).max(0),
            steps: r.steps,
            compensations: r.compensations,
            attempts: r.attempts,
        }
    }
}

/// Saga instances matching `search`, in its order.
pub async fn search(reader: &Reader, search: &SagaSearch) -> Result<Vec<SagaInstance>> {
    let range = search.range.unwrap_or(TimeRange::ALL);
    let query = SagaQuery {
        failed_only: search.failed_only,
        saga_name: search.saga_name.clone(),
        since_unix_nano: Some(range.since_unix_nano),
        until_unix_nano: Some(range.until_unix_nano),
        failed_first: search.order == SagaOrder::FailedFirst,
        limit: search.limit,
    };
    Ok(reader
        .saga_instances(&query)
        .await?
        .into_iter()
        .map(SagaInstance::from)
        .collect())
}
