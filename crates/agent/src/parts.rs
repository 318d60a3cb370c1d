//! What an agent is made of: the pieces the control API drives. The agent's own
//! configuration builds them (`switchyard-agent run`), and so does the demo cluster
//! (`switchyard-agent demo`); either way the same control backend serves them.

use std::sync::Arc;

use switchyard_control_api::FaultControl;
use switchyard_gateway::RunningGateway;
use switchyard_resilience::breaker::Registry;
use switchyard_saga::Orchestrator;

/// The running pieces of one agent.
pub struct AgentParts {
    /// Names this agent in the console (inventory, audit).
    pub id: String,
    /// The managed services this agent stands in front of or runs, for the inventory.
    pub services: Vec<String>,
    /// Every breaker of the agent: the gateway's per-upstream breakers and any others.
    pub registry: Registry,
    /// Sagas, when the agent orchestrates any.
    pub orchestrator: Option<Orchestrator>,
    /// The gateway, when the agent runs one.
    pub gateway: Option<RunningGateway>,
    /// The gateway's sidecar (egress) listener, when its file has a `[sidecar]`.
    pub sidecar: Option<RunningGateway>,
    /// Fault injection into managed services (the demo's services; off elsewhere).
    pub faults: Arc<dyn FaultControl>,
}

impl std::fmt::Debug for AgentParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentParts")
            .field("id", &self.id)
            .field("services", &self.services)
            .field("registry", &self.registry)
            .field("orchestrator", &self.orchestrator)
            .field("gateway", &self.gateway)
            .field("sidecar", &self.sidecar)
            .finish_non_exhaustive()
    }
}
