//! What the console shows of its agents, as plain serializable values (the HTTP API and
//! the desktop app send them as JSON), converted from the control protocol's messages.

use serde::{Deserialize, Serialize};
use switchyard_control_api::proto;

/// One agent's connection as the console sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentHealth {
    pub cluster: String,
    pub endpoint: String,
    /// The agent's id, once it has answered.
    pub agent_id: Option<String>,
    pub version: Option<String>,
    pub connected: bool,
    /// When the agent last answered or sent a change.
    pub last_seen_unix_ms: Option<i64>,
    /// Why the last connection attempt or stream failed.
    pub last_error: Option<String>,
    /// Connections made after the first.
    pub reconnects: u64,
}

/// A manual override on a breaker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverrideView {
    pub state: String,
    pub by: String,
    pub reason: String,
    pub set_at_unix_ms: i64,
    pub expires_at_unix_ms: Option<i64>,
}

/// A circuit breaker, as its agent last reported it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BreakerView {
    pub cluster: String,
    /// The agent's id (its endpoint until it has answered).
    pub agent: String,
    pub name: String,
    pub service: String,
    /// The state in force: `closed`, `open`, `half_open`, `forced_open`, `disabled`.
    pub state: String,
    /// The automatic state machine's state.
    pub automatic_state: String,
    /// Percent of failed calls in the current window.
    pub failure_rate: f64,
    pub window_calls: u64,
    /// In this state since.
    pub since_unix_ms: i64,
    pub manual: Option<OverrideView>,
}

impl BreakerView {
    pub(crate) fn from_proto(cluster: &str, agent: &str, b: &proto::Breaker) -> BreakerView {
        BreakerView {
            cluster: cluster.to_owned(),
            agent: agent.to_owned(),
            name: b.name.clone(),
            service: b.service.clone(),
            state: b.state.clone(),
            automatic_state: b.automatic_state.clone(),
            failure_rate: b.failure_rate,
            window_calls: b.window_calls,
            since_unix_ms: b.since_unix_ms,
            manual: b.manual.as_ref().map(|o| OverrideView {
                state: o.state.clone(),
                by: o.by.clone(),
                reason: o.reason.clone(),
                set_at_unix_ms: o.set_at_unix_ms,
                expires_at_unix_ms: o.expires_at_unix_ms,
            }),
        }
    }
}

/// A strangler-fig route and its traffic so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteView {
    pub cluster: String,
    pub agent: String,
    pub name: String,
    pub primary_target: String,
    pub new_target: String,
    /// Percent of clients sent to the new side.
    pub new_percent: u32,
    /// Percent of requests also sent to the other side.
    pub shadow_percent: u32,
    pub primary_requests: u64,
    pub new_requests: u64,
    pub shadow_requests: u64,
    /// Shadowed answers that differed.
    pub shadow_diffs: u64,
}

impl RouteView {
    pub(crate) fn from_proto(cluster: &str, agent: &str, r: &proto::Route) -> RouteView {
        let counters = r.counters.unwrap_or_default();
        RouteView {
            cluster: cluster.to_owned(),
            agent: agent.to_owned(),
            name: r.name.clone(),
            primary_target: r.primary_target.clone(),
            new_target: r.new_target.clone(),
            new_percent: r.new_percent,
            shadow_percent: r.shadow_percent,
            primary_requests: counters.primary_requests,
            new_requests: counters.new_requests,
            shadow_requests: counters.shadow_requests,
            shadow_diffs: counters.shadow_diffs,
        }
    }
}

/// A demo service's injected fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultView {
    pub cluster: String,
    pub agent: String,
    pub service: String,
    /// Share of requests failed, 0.0..=1.0.
    pub error_rate: f64,
    pub added_latency_ms: u64,
}

/// A saga instance's latest status, as its orchestrator reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SagaStatusView {
    pub cluster: String,
    pub agent: String,
    pub id: String,
    pub name: String,
    pub status: String,
    pub failed_step: Option<String>,
    pub at_unix_ms: i64,
}

/// One agent's inventory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentInventory {
    pub breakers: Vec<BreakerView>,
    pub routes: Vec<RouteView>,
    pub faults: Vec<FaultView>,
    /// Whether the agent accepts fault commands.
    pub faults_enabled: bool,
    /// Saga definitions: name and step names in order.
    pub saga_definitions: Vec<(String, Vec<String>)>,
    /// Services: name and kind.
    pub services: Vec<(String, String)>,
}

impl AgentInventory {
    pub(crate) fn from_proto(cluster: &str, agent: &str, inv: &proto::Inventory) -> Self {
        let faults = inv.faults.clone().unwrap_or_default();
        AgentInventory {
            breakers: inv
                .breakers
                .iter()
                .map(|b| BreakerView::from_proto(cluster, agent, b))
                .collect(),
            routes: inv
                .routes
                .iter()
                .map(|r| RouteView::from_proto(cluster, agent, r))
                .collect(),
            faults: faults
                .faults
                .iter()
                .map(|f| FaultView {
                    cluster: cluster.to_owned(),
                    agent: agent.to_owned(),
                    service: f.service.clone(),
                    error_rate: f.error_rate,
                    added_latency_ms: f.added_latency_ms,
                })
                .collect(),
            faults_enabled: faults.enabled,
            saga_definitions: inv
                .saga_definitions
                .iter()
                .map(|d| {
                    (
                        d.name.clone(),
                        d.steps.iter().map(|s| s.name.clone()).collect(),
                    )
                })
                .collect(),
            services: inv
                .services
                .iter()
                .map(|s| (s.name.clone(), s.kind.clone()))
                .collect(),
        }
    }
}

/// A change pushed to whoever watches the console (the UI's live stream).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveEvent {
    /// An agent connected, disconnected or answered.
    Agent(AgentHealth),
    /// A breaker changed state (with the transition's reason and, if manual, who).
    Breaker {
        breaker: BreakerView,
        from: String,
        reason: String,
        by: Option<String>,
    },
    Route(RouteView),
    Saga(SagaStatusView),
    Fault(FaultView),
    /// An agent's whole inventory was refreshed.
    Inventory {
        cluster: String,
        agent: String,
    },
    /// A command was sent (or refused), with its outcome.
    Command(switchyard_store::records::CommandRecord),
}
