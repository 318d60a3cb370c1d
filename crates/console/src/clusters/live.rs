//! The current view of every cluster: per agent, its health and its last inventory with
//! the changes streamed since, merged across agents on reading. Changes also go out on
//! a broadcast channel for live screens.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};

use tokio::sync::broadcast;

use super::views::{
    AgentHealth, AgentInventory, BreakerView, FaultView, LiveEvent, OverrideView, RouteView,
    SagaStatusView,
};

/// Saga statuses kept per agent (the newest); the store has the full history.
const RECENT_SAGAS: usize = 500;

/// One breaker transition an agent reported.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BreakerTransition<'a> {
    pub(crate) name: &'a str,
    pub(crate) to: &'a str,
    pub(crate) by: &'a str,
    pub(crate) reason: &'a str,
}

#[derive(Debug, Default)]
struct AgentState {
    health: Option<AgentHealth>,
    inventory: AgentInventory,
    sagas: Vec<SagaStatusView>,
}

/// Key: (cluster, endpoint).
type Agents = BTreeMap<(String, String), AgentState>;

/// The live view, shared by the agents' links and the readers. Cheap to clone.
#[derive(Debug, Clone)]
pub struct LiveState {
    agents: Arc<RwLock<Agents>>,
    events: broadcast::Sender<LiveEvent>,
}

impl Default for LiveState {
    fn default() -> Self {
        LiveState {
            agents: Arc::default(),
            events: broadcast::channel(1024).0,
        }
    }
}

impl LiveState {
    /// Every change from now on. A receiver that falls behind skips the oldest
    /// (`RecvError::Lagged`) and should re-read the whole view.
    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.events.subscribe()
    }

    pub(crate) fn publish(&self, event: LiveEvent) {
        // Nobody listening is fine.
        let _ = self.events.send(event);
    }

    fn update<T>(&self, cluster: &str, endpoint: &str, f: impl FnOnce(&mut AgentState) -> T) -> T {
        let mut agents = self.agents.write().unwrap_or_else(PoisonError::into_inner);
        f(agents
            .entry((cluster.to_owned(), endpoint.to_owned()))
            .or_default())
    }

    fn read<T>(&self, f: impl FnOnce(&Agents) -> T) -> T {
        f(&self.agents.read().unwrap_or_else(PoisonError::into_inner))
    }

    pub(crate) fn set_health(&self, health: AgentHealth) {
        let (cluster, endpoint) = (health.cluster.clone(), health.endpoint.clone());
        self.update(&cluster, &endpoint, |agent| {
            agent.health = Some(health.clone())
        });
        self.publish(LiveEvent::Agent(health));
    }

    pub(crate) fn set_inventory(&self, cluster: &str, endpoint: &str, inventory: AgentInventory) {
        let agent = self.update(cluster, endpoint, |agent| {
            agent.inventory = inventory;
            agent_name(agent, endpoint)
        });
        self.publish(LiveEvent::Inventory {
            cluster: cluster.to_owned(),
            agent,
        });
    }

    /// Applies a breaker transition; returns the breaker as it is now, if known.
    /// A transition: the new state, and the manual override it sets or ends (its
    /// expiry comes with the next inventory refresh).
    pub(crate) fn breaker_changed(
        &self,
        cluster: &str,
        endpoint: &str,
        transition: &BreakerTransition<'_>,
        at_unix_ms: i64,
    ) -> Option<BreakerView> {
        self.update(cluster, endpoint, |agent| {
            let breaker = agent
                .inventory
                .breakers
                .iter_mut()
                .find(|b| b.name == transition.name)?;
            breaker.state = transition.to.to_owned();
            breaker.since_unix_ms = at_unix_ms;
            breaker.manual = match transition.to {
                "forced_open" | "disabled" => Some(OverrideView {
                    state: transition.to.to_owned(),
                    by: transition.by.to_owned(),
                    reason: transition.reason.to_owned(),
                    set_at_unix_ms: at_unix_ms,
                    expires_at_unix_ms: None,
                }),
                _ => None,
            };
            Some(breaker.clone())
        })
    }

    pub(crate) fn route_changed(&self, cluster: &str, endpoint: &str, route: RouteView) {
        self.update(cluster, endpoint, |agent| {
            match agent
                .inventory
                .routes
                .iter_mut()
                .find(|r| r.name == route.name)
            {
                Some(slot) => *slot = route.clone(),
                None => agent.inventory.routes.push(route.clone()),
            }
        });
        self.publish(LiveEvent::Route(route));
    }

    pub(crate) fn fault_changed(&self, cluster: &str, endpoint: &str, fault: FaultView) {
        self.update(cluster, endpoint, |agent| {
            match agent
                .inventory
                .faults
                .iter_mut()
                .find(|f| f.service == fault.service)
            {
                Some(slot) => *slot = fault.clone(),
                None => agent.inventory.faults.push(fault.clone()),
            }
        });
        self.publish(LiveEvent::Fault(fault));
    }

    pub(crate) fn saga_changed(&self, cluster: &str, endpoint: &str, saga: SagaStatusView) {
        self.update(cluster, endpoint, |agent| {
            agent.sagas.retain(|s| s.id != saga.id);
            agent.sagas.push(saga.clone());
            if agent.sagas.len() > RECENT_SAGAS {
                agent.sagas.remove(0);
            }
        });
        self.publish(LiveEvent::Saga(saga));
    }

    /// The agent's id if it has answered, else its endpoint.
    pub(crate) fn agent_name(&self, cluster: &str, endpoint: &str) -> String {
        self.read(|agents| {
            agents
                .get(&(cluster.to_owned(), endpoint.to_owned()))
                .map_or_else(|| endpoint.to_owned(), |a| agent_name(a, endpoint))
        })
    }

    /// Forgets a cluster (removed from the file).
    pub(crate) fn forget(&self, cluster: &str) {
        let mut agents = self.agents.write().unwrap_or_else(PoisonError::into_inner);
        agents.retain(|(c, _), _| c != cluster);
    }

    /// Every agent's health, in cluster then endpoint order.
    pub fn agents(&self) -> Vec<AgentHealth> {
        self.read(|agents| agents.values().filter_map(|a| a.health.clone()).collect())
    }

    /// Every breaker of `cluster` (or of all clusters), by name.
    pub fn breakers(&self, cluster: Option<&str>) -> Vec<BreakerView> {
        let mut all: Vec<BreakerView> = self.read(|agents| {
            agents
                .iter()
                .filter(|((c, _), _)| cluster.is_none_or(|want| want == c))
                .flat_map(|(_, a)| a.inventory.breakers.iter().cloned())
                .collect()
        });
        all.sort_by(|a, b| (&a.cluster, &a.name).cmp(&(&b.cluster, &b.name)));
        all
    }

    /// Every route of `cluster` (or of all clusters), by name.
    pub fn routes(&self, cluster: Option<&str>) -> Vec<RouteView> {
        let mut all: Vec<RouteView> = self.read(|agents| {
            agents
                .iter()
                .filter(|((c, _), _)| cluster.is_none_or(|want| want == c))
                .flat_map(|(_, a)| a.inventory.routes.iter().cloned())
                .collect()
        });
        all.sort_by(|a, b| (&a.cluster, &a.name).cmp(&(&b.cluster, &b.name)));
        all
    }

    /// Every fault setting of `cluster` (or of all clusters).
    pub fn faults(&self, cluster: Option<&str>) -> Vec<FaultView> {
        self.read(|agents| {
            agents
                .iter()
                .filter(|((c, _), _)| cluster.is_none_or(|want| want == c))
                .flat_map(|(_, a)| a.inventory.faults.iter().cloned())
                .collect()
        })
    }

    /// The newest saga statuses the agents streamed, newest first.
    pub fn recent_sagas(&self, cluster: Option<&str>) -> Vec<SagaStatusView> {
        let mut all: Vec<SagaStatusView> = self.read(|agents| {
            agents
                .iter()
                .filter(|((c, _), _)| cluster.is_none_or(|want| want == c))
                .flat_map(|(_, a)| a.sagas.iter().cloned())
                .collect()
        });
        all.sort_by_key(|s| std::cmp::Reverse(s.at_unix_ms));
        all
    }
}

fn agent_name(agent: &AgentState, endpoint: &str) -> String {
    agent
        .health
        .as_ref()
        .and_then(|h| h.agent_id.clone())
        .unwrap_or_else(|| endpoint.to_owned())
}
