//! What an agent implements to be controlled: one trait per concern, gathered in
//! [`ControlBackend`]. Messages are the protocol's own types ([`crate::proto`]), so a
//! backend answers in wire terms and nothing is converted twice.

use std::time::SystemTime;

use async_trait::async_trait;
use tokio::sync::broadcast;

use crate::command::Command;
use crate::error::Result;
use crate::proto;

/// A manual breaker command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BreakerAction {
    /// Force open: reject every call until released, reset or expired.
    Trip,
    /// Force closed: let every call through, record nothing.
    Disable,
    /// Close and clear the window, dropping any override.
    Reset,
    /// Drop the override: the automatic state machine takes over.
    Release,
}

impl BreakerAction {
    /// The RPC's name, as written in the audit log.
    pub fn rpc(self) -> &'static str {
        match self {
            BreakerAction::Trip => "TripBreaker",
            BreakerAction::Disable => "DisableBreaker",
            BreakerAction::Reset => "ResetBreaker",
            BreakerAction::Release => "ReleaseBreaker",
        }
    }
}

/// Breakers: the resilience registry in the agent.
#[async_trait]
pub trait BreakerControl: Send + Sync {
    /// Every breaker, as it stands.
    async fn breakers(&self) -> Result<Vec<proto::Breaker>>;

    /// Applies `action` to breaker `name` and answers with its resulting state.
    /// `command.ttl` is set for trip and disable when the override should expire by
    /// itself; backends without native expiry can use [`crate::ttl::TtlTimers`].
    async fn breaker_command(
        &self,
        name: &str,
        action: BreakerAction,
        command: Command,
    ) -> Result<proto::Breaker>;
}

/// Which sagas [`SagaControl::list_sagas`] returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SagaFilter {
    /// Only this status.
    pub status: Option<String>,
    /// Only this definition.
    pub name: Option<String>,
    /// Only sagas started at or after.
    pub since: Option<SystemTime>,
    /// At most this many, newest first.
    pub limit: usize,
}

/// Sagas: the orchestrator in the agent.
#[async_trait]
pub trait SagaControl: Send + Sync {
    /// The definitions the agent runs.
    async fn saga_definitions(&self) -> Result<Vec<proto::SagaDefinition>>;
    /// Instances per definition and status.
    async fn saga_counts(&self) -> Result<Vec<proto::SagaCount>>;
    /// Instances matching `filter`, newest first.
    async fn list_sagas(&self, filter: SagaFilter) -> Result<Vec<proto::SagaSummary>>;
    /// One instance with its steps and log.
    async fn get_saga(&self, id: &str) -> Result<proto::SagaDetail>;
    /// Retries a failed saga from its failed step, with an edited input if given.
    async fn retry_saga(
        &self,
        id: &str,
        step_input: Option<serde_json::Value>,
        command: Command,
    ) -> Result<proto::SagaDetail>;
    /// Compensates a saga now.
    async fn compensate_saga(&self, id: &str, command: Command) -> Result<proto::SagaDetail>;
    /// Closes a failed saga by hand.
    async fn resolve_saga(
        &self,
        id: &str,
        comment: &str,
        command: Command,
    ) -> Result<proto::SagaDetail>;
    /// The steps whose compensations would run, in order; changes nothing.
    async fn preview_compensation(&self, id: &str) -> Result<Vec<String>>;
}

/// Routes: the gateway in the agent.
#[async_trait]
pub trait RouteControl: Send + Sync {
    /// Every weighted route.
    async fn routes(&self) -> Result<Vec<proto::Route>>;
    /// Sends `percent` (0..=100, checked by the server) of `route`'s traffic to its new target.
    async fn set_route_weight(
        &self,
        route: &str,
        percent: u32,
        command: Command,
    ) -> Result<proto::Route>;
    /// Mirrors `percent` (0..=100) of `route`'s primary traffic to its new target.
    async fn set_shadow(&self, route: &str, percent: u32, command: Command)
    -> Result<proto::Route>;
}

/// The configuration journal: the gateway's in the agent.
#[async_trait]
pub trait JournalControl: Send + Sync {
    /// Every entry kept, oldest first (the server pages them). `NotAllowed` when
    /// there is nothing journaled here (no gateway).
    async fn journal(&self) -> Result<Vec<proto::JournalEntry>>;
    /// Puts back the state from just before entry `seq` and answers with the entry
    /// recording that. `NotFound` for an unknown `seq`; `NotAllowed` when it cannot be
    /// reverted (the first configuration) or there is no gateway.
    async fn revert_journal(&self, seq: u64, command: Command) -> Result<proto::JournalEntry>;
}

/// Fault injection on demo services.
#[async_trait]
pub trait FaultControl: Send + Sync {
    /// Whether fault injection is configured on; when off the server refuses
    /// `SetFault` and experiments with `FAILED_PRECONDITION` without calling
    /// [`FaultControl::set_fault`].
    fn faults_enabled(&self) -> bool;
    /// The faults in force (services without one may be left out).
    async fn faults(&self) -> Result<Vec<proto::Fault>>;
    /// Sets a service's fault (error rate 0 and latency 0: none). The server has
    /// checked the error rate is within 0..=1.
    async fn set_fault(&self, fault: proto::Fault, command: Command) -> Result<proto::Fault>;
}

/// The agent's changes, as they happen.
pub trait StateSource: Send + Sync {
    /// Changes from now on. A receiver that lags gets `RecvError::Lagged`; the server
    /// then sends its client a fresh snapshot.
    fn subscribe(&self) -> broadcast::Receiver<proto::StateChange>;
    /// Publishes a change to every subscriber (the server publishes experiment
    /// results here).
    fn publish(&self, change: proto::StateChange);
}

/// Everything the control server needs from an agent.
#[async_trait]
pub trait ControlBackend:
    BreakerControl + SagaControl + RouteControl + JournalControl + FaultControl + StateSource
{
    /// Which agent this is.
    fn identity(&self) -> proto::Identity;
    /// The services it manages.
    async fn services(&self) -> Result<Vec<proto::Service>>;
}
