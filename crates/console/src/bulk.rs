//! Bulk saga operations over a query: "compensate every checkout saga that failed at
//! charge-card in the last hour". A dry run lists the instances and sends nothing; a
//! real run sends one command per instance (each in the audit history, each with its
//! own outcome) and reports them all.

use serde::{Deserialize, Serialize};
use switchyard_store::Reader;

use switchyard_store::records::Records;

use crate::clusters::command::execute;
use crate::clusters::{ClusterConfig, Command, CommandRequest, LiveState};
use crate::model::saga::{self, SagaInstance, SagaOrder, SagaSearch};
use crate::model::{ModelError, TimeRange};

/// The most instances one bulk operation acts on.
pub const MAX_INSTANCES: u32 = 1000;

/// What to do to each instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BulkAction {
    Compensate,
    Retry,
    Resolve,
}

/// Which instances, and what to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BulkRequest {
    pub cluster: String,
    pub action: BulkAction,
    pub saga_name: Option<String>,
    /// Only instances whose failing step is this one.
    pub failed_step: Option<String>,
    /// Instances that started in this range (default: any time).
    pub range: Option<TimeRange>,
    /// At most this many (default and ceiling: [`MAX_INSTANCES`]).
    pub limit: Option<u32>,
    /// List them and send nothing.
    pub dry_run: bool,
    pub reason: String,
    pub who: String,
    /// For `resolve`: what was done about them.
    #[serde(default)]
    pub comment: String,
}

/// One instance's fate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BulkItem {
    pub saga_id: String,
    pub saga_name: String,
    pub failed_step: Option<String>,
    /// `planned` in a dry run, else `ok` or `error`.
    pub outcome: &'static str,
    pub error: Option<String>,
}

/// The instances matched and what became of them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BulkReport {
    pub dry_run: bool,
    pub matched: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub items: Vec<BulkItem>,
}

/// The failed instances `request` selects, newest first.
pub async fn select(
    reader: &Reader,
    request: &BulkRequest,
) -> Result<Vec<SagaInstance>, ModelError> {
    let limit = request.limit.unwrap_or(MAX_INSTANCES).min(MAX_INSTANCES);
    let found = saga::search(
        reader,
        &SagaSearch {
            failed_only: true,
            saga_name: request.saga_name.clone(),
            range: request.range,
            order: SagaOrder::NewestFirst,
            // The failing step is filtered here: read enough to fill the limit.
            limit: if request.failed_step.is_some() {
                MAX_INSTANCES * 10
            } else {
                limit
            },
        },
    )
    .await?;
    Ok(found
        .into_iter()
        .filter(|s| {
            request
                .failed_step
                .as_ref()
                .is_none_or(|step| s.failed_step.as_ref() == Some(step))
        })
        .take(limit as usize)
        .collect())
}

/// Runs `request` (or lists what it would do, for a dry run).
/// Runs `request` on `cluster` (or lists what it would do, for a dry run); each command
/// is recorded in `records` and published on `live` like any other.
pub async fn run(
    reader: &Reader,
    cluster: &ClusterConfig,
    records: Option<&Records>,
    live: Option<&LiveState>,
    request: &BulkRequest,
) -> Result<BulkReport, ModelError> {
    let instances = select(reader, request).await?;
    let mut report = BulkReport {
        dry_run: request.dry_run,
        matched: instances.len(),
        succeeded: 0,
        failed: 0,
        items: Vec::with_capacity(instances.len()),
    };
    for instance in instances {
        let mut item = BulkItem {
            saga_id: instance.saga_id.clone(),
            saga_name: instance.saga_name.clone(),
            failed_step: instance.failed_step.clone(),
            outcome: "planned",
            error: None,
        };
        if !request.dry_run {
            let saga_id = instance.saga_id;
            let command = match request.action {
                BulkAction::Compensate => Command::CompensateSaga { saga_id },
                BulkAction::Retry => Command::RetrySaga {
                    saga_id,
                    input: None,
                },
                BulkAction::Resolve => Command::ResolveSaga {
                    saga_id,
                    comment: request.comment.clone(),
                },
            };
            let sent = execute(
                cluster,
                &CommandRequest {
                    cluster: cluster.name.clone(),
                    command,
                    reason: request.reason.clone(),
                    who: request.who.clone(),
                },
                records,
                live,
            )
            .await;
            match sent {
                Ok(_) => {
                    item.outcome = "ok";
                    report.succeeded += 1;
                }
                Err(e) => {
                    item.outcome = "error";
                    item.error = Some(e.to_string());
                    report.failed += 1;
                }
            }
        }
        report.items.push(item);
    }
    Ok(report)
}
