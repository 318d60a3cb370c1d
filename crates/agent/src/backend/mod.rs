//! The control backend over an agent's parts: the control server's traits
//! (`switchyard_control_api::backend`) answered by the resilience registry, the saga
//! orchestrator, the gateway (routes and its configuration journal) and the fault
//! switch, plus a state bus fed by background bridges from each of them.

mod breakers;
mod bridge;
mod journal;
mod routes;
mod sagas;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use async_trait::async_trait;
use switchyard_control_api::proto;
use switchyard_control_api::time::unix_ms;
use switchyard_control_api::{
    BackendError, Command, ControlBackend, FaultControl, StateBus, StateSource,
};
use switchyard_gateway::Gateway;
use switchyard_resilience::breaker::Registry;
use switchyard_saga::Orchestrator;
use tokio::sync::broadcast;
use tokio::task::AbortHandle;

use crate::parts::AgentParts;

type Result<T> = std::result::Result<T, BackendError>;

/// How many changes the state bus keeps for a slow watcher before it lags (the
/// server then re-sends it a snapshot).
const BUS_CAPACITY: usize = 1024;

/// The last weight and shadow seen per split route, shared by the route commands and
/// the poller so that a change made through the API is reported once.
type RouteMarks = Arc<Mutex<HashMap<String, (Option<u8>, Option<u8>)>>>;

/// Serves the control API over an agent's parts. It holds clones of the parts'
/// handles (all cheap), so the caller keeps the [`AgentParts`] for shutting down.
pub struct AgentBackend {
    id: String,
    started_at: SystemTime,
    services: Vec<String>,
    registry: Registry,
    orchestrator: Option<Orchestrator>,
    gateway: Option<Gateway>,
    faults: Arc<dyn FaultControl>,
    bus: StateBus,
    route_marks: RouteMarks,
    /// The bridges feeding the bus; stopped when the backend is dropped.
    bridges: Vec<AbortHandle>,
}

impl std::fmt::Debug for AgentBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentBackend")
            .field("id", &self.id)
            .field("registry", &self.registry)
            .field("orchestrator", &self.orchestrator.is_some())
            .field("gateway", &self.gateway.is_some())
            .finish_non_exhaustive()
    }
}

impl AgentBackend {
    /// A backend over `parts`, with its state bridges running. Must be called within a
    /// Tokio runtime.
    pub fn new(parts: &AgentParts) -> Self {
        let bus = StateBus::new(BUS_CAPACITY);
        let gateway = parts.gateway.as_ref().map(|g| g.gateway().clone());
        let route_marks = RouteMarks::default();
        let mut bridges = vec![bridge::breakers(parts.registry.clone(), bus.clone())];
        if let Some(orchestrator) = &parts.orchestrator {
            bridges.push(bridge::sagas(orchestrator.clone(), bus.clone()));
        }
        if let Some(gateway) = &gateway {
            bridges.push(bridge::routes(
                gateway.clone(),
                bus.clone(),
                Arc::clone(&route_marks),
            ));
            bridges.push(bridge::journal(gateway.clone(), bus.clone()));
        }
        AgentBackend {
            id: parts.id.clone(),
            started_at: SystemTime::now(),
            services: parts.services.clone(),
            registry: parts.registry.clone(),
            orchestrator: parts.orchestrator.clone(),
            gateway,
            faults: Arc::clone(&parts.faults),
            bus,
            route_marks,
            bridges,
        }
    }

    /// The bus the backend publishes its changes on.
    pub fn bus(&self) -> &StateBus {
        &self.bus
    }
}

impl Drop for AgentBackend {
    fn drop(&mut self) {
        for bridge in &self.bridges {
            bridge.abort();
        }
    }
}

#[async_trait]
impl ControlBackend for AgentBackend {
    fn identity(&self) -> proto::Identity {
        proto::Identity {
            agent_id: self.id.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            started_at_unix_ms: unix_ms(self.started_at),
        }
    }

    async fn services(&self) -> Result<Vec<proto::Service>> {
        let mut services: Vec<proto::Service> = self
            .services
            .iter()
            .map(|name| proto::Service {
                name: name.clone(),
                kind: "managed".to_owned(),
                address: String::new(),
            })
            .collect();
        // The gateway's upstream instances are services the agent stands in front of.
        if let Some(gateway) = &self.gateway {
            services.extend(gateway.instances().into_iter().map(|i| proto::Service {
                name: i.cluster,
                kind: "upstream".to_owned(),
                address: i.address,
            }));
        }
        Ok(services)
    }
}

#[async_trait]
impl FaultControl for AgentBackend {
    fn faults_enabled(&self) -> bool {
        self.faults.faults_enabled()
    }

    async fn faults(&self) -> Result<Vec<proto::Fault>> {
        self.faults.faults().await
    }

    async fn set_fault(&self, fault: proto::Fault, command: Command) -> Result<proto::Fault> {
        let applied = self.faults.set_fault(fault, command.clone()).await?;
        self.bus
            .emit(proto::state_change::Change::Fault(proto::FaultChange {
                fault: Some(applied.clone()),
                by: command.by,
                note: command.reason,
            }));
        Ok(applied)
    }
}

impl StateSource for AgentBackend {
    fn subscribe(&self) -> broadcast::Receiver<proto::StateChange> {
        self.bus.subscribe()
    }

    fn publish(&self, change: proto::StateChange) {
        self.bus.publish(change);
    }
}
