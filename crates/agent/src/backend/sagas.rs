//! Sagas: the orchestrator and its log, in wire terms.

use async_trait::async_trait;
use sqlx::Row as _;
use switchyard_control_api::proto;
use switchyard_control_api::time::unix_ms;
use switchyard_control_api::{BackendError, Command, SagaControl, SagaFilter};
use switchyard_saga::orchestrator::{SagaDetails, StepView};
use switchyard_saga::state::Phase;
use switchyard_saga::{InstanceFilter, LogEntry, Orchestrator, OrchestratorError, SagaInstance};

use super::{AgentBackend, Result};

#[async_trait]
impl SagaControl for AgentBackend {
    async fn saga_definitions(&self) -> Result<Vec<proto::SagaDefinition>> {
        let Some(orchestrator) = &self.orchestrator else {
            return Ok(Vec::new());
        };
        Ok(orchestrator
            .definitions()
            .iter()
            .map(|d| proto::SagaDefinition {
                name: d.name.clone(),
                steps: d
                    .steps
                    .iter()
                    .map(|s| proto::SagaStepDefinition {
                        name: s.name.clone(),
                        compensable: s.compensation.is_some(),
                    })
                    .collect(),
            })
            .collect())
    }

    async fn saga_counts(&self) -> Result<Vec<proto::SagaCount>> {
        let Some(orchestrator) = &self.orchestrator else {
            return Ok(Vec::new());
        };
        // Straight from the log's instance table: listing would cap at a page.
        let rows = sqlx::query(
            "SELECT name, status, COUNT(*) AS n FROM saga_instances GROUP BY name, status ORDER BY name, status",
        )
        .fetch_all(orchestrator.log().database().read_pool())
        .await
        .map_err(|e| BackendError::Unavailable(format!("saga log: {e}")))?;
        rows.iter()
            .map(|row| {
                let count: i64 = row.try_get("n").map_err(internal)?;
                Ok(proto::SagaCount {
                    name: row.try_get("name").map_err(internal)?,
                    status: row.try_get("status").map_err(internal)?,
                    count: u64::try_from(count).unwrap_or(0),
                })
            })
            .collect()
    }

    async fn list_sagas(&self, filter: SagaFilter) -> Result<Vec<proto::SagaSummary>> {
        let Some(orchestrator) = &self.orchestrator else {
            return Ok(Vec::new());
        };
        let statuses = match &filter.status {
            Some(status) => vec![status.parse().map_err(BackendError::InvalidArgument)?],
            None => Vec::new(),
        };
        let instances = orchestrator
            .list(&InstanceFilter {
                statuses,
                name: filter.name,
                since: filter.since,
                until: None,
                limit: filter.limit,
            })
            .await
            .map_err(|e| saga_error("", e))?;
        Ok(instances.iter().map(summary).collect())
    }

    async fn get_saga(&self, id: &str) -> Result<proto::SagaDetail> {
        let orchestrator = self.orchestrator(id)?;
        detail(orchestrator, id).await
    }

    async fn retry_saga(
        &self,
        id: &str,
        step_input: Option<serde_json::Value>,
        command: Command,
    ) -> Result<proto::SagaDetail> {
        let orchestrator = self.orchestrator(id)?;
        orchestrator
            .retry(id, &command.by, &command.reason, step_input)
            .await
            .map_err(|e| saga_error(id, e))?;
        detail(orchestrator, id).await
    }

    async fn compensate_saga(&self, id: &str, command: Command) -> Result<proto::SagaDetail> {
        let orchestrator = self.orchestrator(id)?;
        orchestrator
            .compensate(id, &command.by, &command.reason)
            .await
            .map_err(|e| saga_error(id, e))?;
        detail(orchestrator, id).await
    }

    async fn resolve_saga(
        &self,
        id: &str,
        comment: &str,
        command: Command,
    ) -> Result<proto::SagaDetail> {
        let orchestrator = self.orchestrator(id)?;
        orchestrator
            .resolve(id, &command.by, comment)
            .await
            .map_err(|e| saga_error(id, e))?;
        detail(orchestrator, id).await
    }

    async fn preview_compensation(&self, id: &str) -> Result<Vec<String>> {
        let orchestrator = self.orchestrator(id)?;
        let plan = orchestrator
            .compensation_plan(id)
            .await
            .map_err(|e| saga_error(id, e))?;
        Ok(plan.into_iter().map(|p| p.step).collect())
    }
}

impl AgentBackend {
    /// The orchestrator; an agent without one knows no saga `id`.
    fn orchestrator(&self, id: &str) -> Result<&Orchestrator> {
        self.orchestrator
            .as_ref()
            .ok_or_else(|| BackendError::not_found("saga", id))
    }
}

async fn detail(orchestrator: &Orchestrator, id: &str) -> Result<proto::SagaDetail> {
    let details = orchestrator.get(id).await.map_err(|e| saga_error(id, e))?;
    Ok(detail_view(&details))
}

pub(super) fn summary(instance: &SagaInstance) -> proto::SagaSummary {
    proto::SagaSummary {
        id: instance.id.clone(),
        name: instance.name.clone(),
        status: instance.status.to_string(),
        failed_step: instance.failed_step.clone().unwrap_or_default(),
        started_at_unix_ms: unix_ms(instance.created_at),
        updated_at_unix_ms: unix_ms(instance.updated_at),
    }
}

fn detail_view(details: &SagaDetails) -> proto::SagaDetail {
    proto::SagaDetail {
        saga: Some(summary(&details.instance)),
        steps: details.steps.iter().map(step_view).collect(),
        log: details.entries.iter().map(log_entry).collect(),
    }
}

fn step_view(step: &StepView) -> proto::SagaStep {
    proto::SagaStep {
        name: step.name.clone(),
        index: u32::try_from(step.index).unwrap_or(u32::MAX),
        forward: phase(&step.forward).to_owned(),
        compensation: phase(&step.compensation).to_owned(),
        forward_attempts: step.forward_attempts,
        compensation_attempts: step.compensation_attempts,
        error: step.last_error.clone().unwrap_or_default(),
    }
}

/// A step phase's wire name (the error of a failed phase travels in `SagaStep.error`).
fn phase(phase: &Phase) -> &'static str {
    match phase {
        Phase::Pending => "pending",
        Phase::InFlight => "in_flight",
        Phase::Succeeded => "succeeded",
        Phase::Failed(_) => "failed",
        Phase::Skipped => "skipped",
    }
}

fn log_entry(entry: &LogEntry) -> proto::SagaLogEntry {
    proto::SagaLogEntry {
        seq: entry.seq,
        at_unix_ms: unix_ms(entry.at),
        kind: entry.kind.to_string(),
        step: entry.step.clone().unwrap_or_default(),
        attempt: entry.attempt.unwrap_or(0),
        data_json: if entry.data.is_null() {
            String::new()
        } else {
            entry.data.to_string()
        },
        actor: entry.actor.clone().unwrap_or_default(),
        reason: entry.reason.clone().unwrap_or_default(),
    }
}

fn saga_error(id: &str, error: OrchestratorError) -> BackendError {
    match error {
        OrchestratorError::UnknownSaga(_) => BackendError::not_found("saga", id),
        OrchestratorError::NotAllowed { .. } | OrchestratorError::UnknownDefinition(_) => {
            BackendError::NotAllowed(error.to_string())
        }
        OrchestratorError::Log(_) => BackendError::Unavailable(error.to_string()),
        other => BackendError::Internal(other.to_string()),
    }
}

fn internal(error: sqlx::Error) -> BackendError {
    BackendError::Internal(format!("saga log: {error}"))
}
