//! Commands to agents: find the agent that has the breaker, saga, route or service,
//! send the command with the cluster's token, wait for the answer, and keep the command
//! in the store's audit history (who, what, when, result) whatever the outcome. A
//! view-only cluster refuses every command here, before anything is sent.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchyard_control_api::{ClientError, ControlClient, proto};
use switchyard_store::records::{CommandRecord, Outcome, Records};
use tonic::Code;

use super::config::{AgentEndpoint, ClusterConfig};
use super::connect::{ConnectError, connect};
use super::live::LiveState;
use super::views::{BreakerView, FaultView, LiveEvent, RouteView};
use crate::clock::now_unix_ms;

/// A write command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Command {
    /// Force a breaker open.
    Trip {
        breaker: String,
        ttl_seconds: Option<u64>,
    },
    /// Force a breaker closed, whatever the calls do.
    Disable {
        breaker: String,
        ttl_seconds: Option<u64>,
    },
    /// Back to closed with fresh counts.
    Reset { breaker: String },
    /// End a manual override: back to automatic.
    Release { breaker: String },
    /// Retry a failed saga from its failed step, optionally with new input.
    RetrySaga {
        saga_id: String,
        /// Replaces the failed step's input.
        input: Option<Value>,
    },
    /// Compensate a saga now.
    CompensateSaga { saga_id: String },
    /// Mark a failed saga resolved by hand.
    ResolveSaga { saga_id: String, comment: String },
    /// Percent of clients a strangler-fig route sends to its new side.
    SetWeight { route: String, new_percent: u32 },
    /// Percent of requests also sent to the other side.
    SetShadow { route: String, percent: u32 },
    /// A demo service's injected errors and latency.
    SetFault {
        service: String,
        error_rate: f64,
        added_latency_ms: u64,
    },
}

/// What a command is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Subject {
    Breaker,
    Saga,
    Route,
    Service,
}

impl Command {
    /// The action's name in the audit history.
    pub fn action(&self) -> &'static str {
        match self {
            Command::Trip { .. } => "trip",
            Command::Disable { .. } => "disable",
            Command::Reset { .. } => "reset",
            Command::Release { .. } => "release",
            Command::RetrySaga { .. } => "retry_saga",
            Command::CompensateSaga { .. } => "compensate_saga",
            Command::ResolveSaga { .. } => "resolve_saga",
            Command::SetWeight { .. } => "set_weight",
            Command::SetShadow { .. } => "set_shadow",
            Command::SetFault { .. } => "set_fault",
        }
    }

    /// The breaker, saga id, route or service it acts on.
    pub fn target(&self) -> &str {
        match self {
            Command::Trip { breaker, .. }
            | Command::Disable { breaker, .. }
            | Command::Reset { breaker }
            | Command::Release { breaker } => breaker,
            Command::RetrySaga { saga_id, .. }
            | Command::CompensateSaga { saga_id }
            | Command::ResolveSaga { saga_id, .. } => saga_id,
            Command::SetWeight { route, .. } | Command::SetShadow { route, .. } => route,
            Command::SetFault { service, .. } => service,
        }
    }

    fn subject(&self) -> Subject {
        match self {
            Command::Trip { .. }
            | Command::Disable { .. }
            | Command::Reset { .. }
            | Command::Release { .. } => Subject::Breaker,
            Command::RetrySaga { .. }
            | Command::CompensateSaga { .. }
            | Command::ResolveSaga { .. } => Subject::Saga,
            Command::SetWeight { .. } | Command::SetShadow { .. } => Subject::Route,
            Command::SetFault { .. } => Subject::Service,
        }
    }
}

/// A command for a cluster, with who asks and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandRequest {
    pub cluster: String,
    pub command: Command,
    pub reason: String,
    pub who: String,
}

/// Why a command was not carried out. The message is meant for the user as it is.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("no cluster named {0:?}")]
    UnknownCluster(String),
    #[error("cluster {0:?} is view-only: write commands are refused")]
    ViewOnly(String),
    #[error("{0}")]
    NotFound(String),
    #[error("agent {endpoint} did not accept the token: {message}")]
    Unauthenticated { endpoint: String, message: String },
    #[error("agent {endpoint} is unreachable: {message}")]
    Unreachable { endpoint: String, message: String },
    #[error("agent {endpoint} refused: {message}")]
    Refused { endpoint: String, message: String },
    #[error("agent {endpoint}: {message}")]
    Agent { endpoint: String, message: String },
}

impl CommandError {
    pub(crate) fn from_client(endpoint: &str, error: ClientError) -> CommandError {
        let endpoint = endpoint.to_owned();
        let message = error.to_string();
        match error.code() {
            Some(Code::NotFound) => CommandError::NotFound(match error {
                ClientError::NotFound(m) => m,
                other => other.to_string(),
            }),
            Some(Code::Unauthenticated | Code::PermissionDenied) => {
                CommandError::Unauthenticated { endpoint, message }
            }
            Some(Code::FailedPrecondition | Code::InvalidArgument) => {
                CommandError::Refused { endpoint, message }
            }
            Some(Code::Unavailable) | None => CommandError::Unreachable { endpoint, message },
            Some(_) => CommandError::Agent { endpoint, message },
        }
    }

    pub(crate) fn from_connect(endpoint: &str, error: ConnectError) -> CommandError {
        match error {
            ConnectError::Client(e) => CommandError::from_client(endpoint, e),
            other => CommandError::Unreachable {
                endpoint: endpoint.to_owned(),
                message: other.to_string(),
            },
        }
    }
}

/// The default `who`: the OS user.
pub fn current_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "console".to_owned())
}

/// Sends `request` to the right agent of `cluster` and records it (when `records` is
/// given) with its outcome; the record is also published on `live`.
pub async fn execute(
    cluster: &ClusterConfig,
    request: &CommandRequest,
    records: Option<&Records>,
    live: Option<&LiveState>,
) -> Result<CommandRecord, CommandError> {
    let mut record = CommandRecord {
        id: 0,
        at_unix_ms: now_unix_ms(),
        cluster: cluster.name.clone(),
        agent: None,
        who: request.who.clone(),
        action: request.command.action().to_owned(),
        target: request.command.target().to_owned(),
        reason: request.reason.clone(),
        args: serde_json::to_value(&request.command).ok(),
        outcome: Outcome::Ok,
        error: None,
        result: None,
        verdict: None,
        verdict_at_unix_ms: None,
        verdict_detail: None,
    };
    let sent = if cluster.view_only {
        Err(CommandError::ViewOnly(cluster.name.clone()))
    } else {
        send(cluster, request, live, &mut record).await
    };
    match &sent {
        Ok(result) => record.result = Some(result.clone()),
        Err(e) => {
            record.outcome = if matches!(e, CommandError::ViewOnly(_)) {
                Outcome::Refused
            } else {
                Outcome::Error
            };
            record.error = Some(e.to_string());
        }
    }
    if let Some(records) = records {
        match records.add_command(&record).await {
            Ok(id) => record.id = id,
            Err(e) => tracing::warn!(error = %e, "cannot record a command in the audit history"),
        }
    }
    if let Some(live) = live {
        live.publish(LiveEvent::Command(record.clone()));
    }
    sent.map(|_| record)
}

async fn send(
    cluster: &ClusterConfig,
    request: &CommandRequest,
    live: Option<&LiveState>,
    record: &mut CommandRecord,
) -> Result<Value, CommandError> {
    let (agent, client) = choose_agent(cluster, &request.command, live).await?;
    record.agent = Some(agent.endpoint.clone());
    let endpoint = agent.endpoint.as_str();
    let cname = cluster.name.as_str();
    let reason = request.reason.as_str();
    let err = |e: ClientError| CommandError::from_client(endpoint, e);
    let ttl = |s: &Option<u64>| s.map(std::time::Duration::from_secs);
    let breaker = |b: proto::Breaker| json!(BreakerView::from_proto(cname, endpoint, &b));
    let route = |r: proto::Route| json!(RouteView::from_proto(cname, endpoint, &r));
    let saga = |d: proto::SagaDetail| {
        let s = d.saga.unwrap_or_default();
        json!({"id": s.id, "name": s.name, "status": s.status, "failed_step": s.failed_step})
    };
    Ok(match &request.command {
        Command::Trip {
            breaker: name,
            ttl_seconds,
        } => breaker(
            client
                .trip_breaker(name, reason, ttl(ttl_seconds))
                .await
                .map_err(err)?,
        ),
        Command::Disable {
            breaker: name,
            ttl_seconds,
        } => breaker(
            client
                .disable_breaker(name, reason, ttl(ttl_seconds))
                .await
                .map_err(err)?,
        ),
        Command::Reset { breaker: name } => {
            breaker(client.reset_breaker(name, reason).await.map_err(err)?)
        }
        Command::Release { breaker: name } => {
            breaker(client.release_breaker(name, reason).await.map_err(err)?)
        }
        Command::RetrySaga { saga_id, input } => saga(
            client
                .retry_saga(saga_id, reason, input.as_ref())
                .await
                .map_err(err)?,
        ),
        Command::CompensateSaga { saga_id } => {
            saga(client.compensate_saga(saga_id, reason).await.map_err(err)?)
        }
        Command::ResolveSaga { saga_id, comment } => saga(
            client
                .resolve_saga(saga_id, reason, comment)
                .await
                .map_err(err)?,
        ),
        Command::SetWeight {
            route: name,
            new_percent,
        } => route(
            client
                .set_route_weight(name, *new_percent, reason)
                .await
                .map_err(err)?,
        ),
        Command::SetShadow {
            route: name,
            percent,
        } => route(
            client
                .set_shadow(name, *percent, reason)
                .await
                .map_err(err)?,
        ),
        Command::SetFault {
            service,
            error_rate,
            added_latency_ms,
        } => {
            let fault = client
                .set_fault(
                    proto::Fault {
                        service: service.clone(),
                        error_rate: *error_rate,
                        added_latency_ms: *added_latency_ms,
                    },
                    reason,
                )
                .await
                .map_err(err)?;
            json!(FaultView {
                cluster: cname.to_owned(),
                agent: endpoint.to_owned(),
                service: fault.service,
                error_rate: fault.error_rate,
                added_latency_ms: fault.added_latency_ms,
            })
        }
    })
}

/// The agent that has the command's subject: the only one, else the one the live view
/// or the agents' inventories (sagas: their orchestrators) name.
async fn choose_agent<'a>(
    cluster: &'a ClusterConfig,
    command: &Command,
    live: Option<&LiveState>,
) -> Result<(&'a AgentEndpoint, ControlClient), CommandError> {
    if let [only] = cluster.agents.as_slice() {
        let client = connect(only)
            .await
            .map_err(|e| CommandError::from_connect(&only.endpoint, e))?;
        return Ok((only, client));
    }
    let target = command.target();
    if let Some(live) = live {
        let known = match command.subject() {
            Subject::Breaker => live
                .breakers(Some(&cluster.name))
                .into_iter()
                .find(|b| b.name == target)
                .map(|b| b.agent),
            Subject::Route => live
                .routes(Some(&cluster.name))
                .into_iter()
                .find(|r| r.name == target)
                .map(|r| r.agent),
            Subject::Saga | Subject::Service => None,
        };
        if let Some(agent) = known
            && let Some(endpoint) = cluster.agents.iter().find(|a| {
                a.endpoint == agent || live.agent_name(&cluster.name, &a.endpoint) == agent
            })
            && let Ok(client) = connect(endpoint).await
        {
            return Ok((endpoint, client));
        }
    }
    // Ask each agent; an unreachable one is skipped, but named if none has it.
    let mut unreachable = Vec::new();
    for agent in &cluster.agents {
        let client = match connect(agent).await {
            Ok(client) => client,
            Err(e) => {
                unreachable.push(CommandError::from_connect(&agent.endpoint, e).to_string());
                continue;
            }
        };
        let has = match command.subject() {
            Subject::Saga => match client.get_saga(target).await {
                Ok(_) => true,
                Err(ClientError::NotFound(_)) => false,
                Err(e) => {
                    unreachable.push(CommandError::from_client(&agent.endpoint, e).to_string());
                    continue;
                }
            },
            subject => match client.inventory().await {
                Ok(inventory) => match subject {
                    Subject::Breaker => inventory.breakers.iter().any(|b| b.name == target),
                    Subject::Route => inventory.routes.iter().any(|r| r.name == target),
                    _ => inventory.services.iter().any(|s| s.name == target),
                },
                Err(e) => {
                    unreachable.push(CommandError::from_client(&agent.endpoint, e).to_string());
                    continue;
                }
            },
        };
        if has {
            return Ok((agent, client));
        }
    }
    let what = match command.subject() {
        Subject::Breaker => "breaker",
        Subject::Saga => "saga",
        Subject::Route => "route",
        Subject::Service => "service",
    };
    let mut message = format!(
        "no agent of cluster {:?} has a {what} named {target:?}",
        cluster.name
    );
    if !unreachable.is_empty() {
        message.push_str(&format!(" (not asked: {})", unreachable.join("; ")));
    }
    Err(CommandError::NotFound(message))
}
