//! The console's link to one agent: connect (again, with backoff, for as long as the
//! cluster is configured), take the state stream's snapshot, apply every change to the
//! live view and record it in the store, and refresh the inventory now and then for the
//! counters the stream does not carry (failure rates, route traffic).

use std::time::Duration;

use futures::StreamExt as _;
use switchyard_control_api::proto::state_change::Change;
use switchyard_control_api::{ControlClient, proto};
use switchyard_store::records::{ControlEvent, Records};
use tokio::task::JoinHandle;

use super::config::AgentEndpoint;
use super::connect::connect;
use super::live::{BreakerTransition, LiveState};
use super::views::{AgentHealth, AgentInventory, FaultView, LiveEvent, RouteView, SagaStatusView};
use crate::clock::now_unix_ms;

/// First and longest wait between connection attempts.
const BACKOFF_START: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(10);
/// How often the whole inventory is read again.
const REFRESH: Duration = Duration::from_secs(5);

/// Starts the link task; it runs until aborted.
pub(crate) fn spawn(
    cluster: String,
    agent: AgentEndpoint,
    live: LiveState,
    records: Option<Records>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut link = Link {
            health: AgentHealth {
                cluster: cluster.clone(),
                endpoint: agent.endpoint.clone(),
                agent_id: None,
                version: None,
                connected: false,
                last_seen_unix_ms: None,
                last_error: None,
                reconnects: 0,
            },
            cluster,
            agent,
            live,
            records,
        };
        link.run().await;
    })
}

struct Link {
    cluster: String,
    agent: AgentEndpoint,
    live: LiveState,
    records: Option<Records>,
    health: AgentHealth,
}

impl Link {
    async fn run(&mut self) {
        let mut backoff = BACKOFF_START;
        let mut connections = 0u64;
        loop {
            match self.session(&mut connections).await {
                // The stream ended after working: start over soon.
                Ok(()) => backoff = BACKOFF_START,
                Err(error) => {
                    self.health.last_error = Some(error);
                }
            }
            if self.health.connected {
                self.health.connected = false;
                self.record("disconnected", self.health.last_error.clone())
                    .await;
            }
            self.live.set_health(self.health.clone());
            // Jitter, so that agents restarted together are not all retried together.
            let jitter = backoff.mul_f64(rand::random::<f64>() * 0.2);
            tokio::time::sleep(backoff + jitter).await;
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }

    /// One connection: returns when the stream ends.
    async fn session(&mut self, connections: &mut u64) -> Result<(), String> {
        let client = connect(&self.agent).await.map_err(|e| e.to_string())?;
        let identity = client.identity().await.map_err(|e| e.to_string())?;
        let mut stream = client.watch().await.map_err(|e| e.to_string())?;
        *connections += 1;
        self.health.reconnects = connections.saturating_sub(1);
        self.health.agent_id = Some(identity.agent_id.clone());
        self.health.version = Some(identity.version.clone());
        self.health.connected = true;
        self.health.last_error = None;
        self.seen();
        self.record("connected", None).await;

        let mut refresh = tokio::time::interval(REFRESH);
        refresh.tick().await;
        loop {
            tokio::select! {
                item = stream.next() => match item {
                    Some(Ok(change)) => {
                        // Noted here, published with the next refresh: a health event per
                        // change would double the live stream for nothing.
                        self.health.last_seen_unix_ms = Some(now_unix_ms());
                        self.apply(change).await;
                    }
                    Some(Err(e)) => return Err(format!("state stream: {e}")),
                    None => return Err("the agent ended the state stream".to_owned()),
                },
                _ = refresh.tick() => {
                    self.refresh(&client).await?;
                }
            }
        }
    }

    /// Records that the agent answered and publishes its health.
    fn seen(&mut self) {
        self.health.last_seen_unix_ms = Some(now_unix_ms());
        self.live.set_health(self.health.clone());
    }

    fn agent_name(&self) -> String {
        self.health
            .agent_id
            .clone()
            .unwrap_or_else(|| self.agent.endpoint.clone())
    }

    async fn refresh(&mut self, client: &ControlClient) -> Result<(), String> {
        let inventory = client
            .inventory()
            .await
            .map_err(|e| format!("inventory: {e}"))?;
        self.seen();
        self.set_inventory(&inventory);
        Ok(())
    }

    fn set_inventory(&self, inventory: &proto::Inventory) {
        let agent = self.agent_name();
        self.live.set_inventory(
            &self.cluster,
            &self.agent.endpoint,
            AgentInventory::from_proto(&self.cluster, &agent, inventory),
        );
    }

    async fn apply(&mut self, change: proto::StateChange) {
        let at = if change.at_unix_ms > 0 {
            change.at_unix_ms
        } else {
            now_unix_ms()
        };
        let agent = self.agent_name();
        let (cluster, endpoint) = (self.cluster.clone(), self.agent.endpoint.clone());
        let Some(change) = change.change else { return };
        let mut event = ControlEvent {
            id: 0,
            at_unix_ms: at,
            cluster: cluster.clone(),
            agent: agent.clone(),
            kind: String::new(),
            name: String::new(),
            from_state: None,
            to_state: None,
            reason: None,
            by: None,
            note: None,
            detail: None,
        };
        match change {
            Change::Snapshot(inventory) => {
                // The state as of now; history is in the store already.
                self.set_inventory(&inventory);
                return;
            }
            Change::Breaker(t) => {
                let transition = BreakerTransition {
                    name: &t.name,
                    to: &t.to,
                    by: &t.by,
                    reason: &t.reason,
                };
                if let Some(breaker) =
                    self.live
                        .breaker_changed(&cluster, &endpoint, &transition, at)
                {
                    self.live.publish(LiveEvent::Breaker {
                        breaker,
                        from: t.from.clone(),
                        reason: t.reason.clone(),
                        by: non_empty(&t.by),
                    });
                }
                event.kind = "breaker".into();
                event.name = t.name;
                event.from_state = Some(t.from);
                event.to_state = Some(t.to);
                event.reason = non_empty(&t.reason);
                event.by = non_empty(&t.by);
                event.note = non_empty(&t.note);
            }
            Change::Saga(s) => {
                self.live.saga_changed(
                    &cluster,
                    &endpoint,
                    SagaStatusView {
                        cluster: cluster.clone(),
                        agent: agent.clone(),
                        id: s.id.clone(),
                        name: s.name.clone(),
                        status: s.status.clone(),
                        failed_step: non_empty(&s.failed_step),
                        at_unix_ms: at,
                    },
                );
                event.kind = "saga".into();
                event.name = s.id;
                event.to_state = Some(s.status);
                event.detail = Some(serde_json::json!({
                    "saga_name": s.name,
                    "failed_step": non_empty(&s.failed_step),
                }));
            }
            Change::Route(r) => {
                let Some(route) = r.route else { return };
                let view = RouteView::from_proto(&cluster, &agent, &route);
                event.kind = "route".into();
                event.name = route.name.clone();
                event.to_state = Some(format!(
                    "new={} shadow={}",
                    route.new_percent, route.shadow_percent
                ));
                event.by = non_empty(&r.by);
                event.note = non_empty(&r.note);
                self.live.route_changed(&cluster, &endpoint, view);
            }
            Change::Fault(f) => {
                let Some(fault) = f.fault else { return };
                event.kind = "fault".into();
                event.name = fault.service.clone();
                event.to_state = Some(format!(
                    "error_rate={} added_latency_ms={}",
                    fault.error_rate, fault.added_latency_ms
                ));
                event.by = non_empty(&f.by);
                event.note = non_empty(&f.note);
                self.live.fault_changed(
                    &cluster,
                    &endpoint,
                    FaultView {
                        cluster: cluster.clone(),
                        agent: agent.clone(),
                        service: fault.service,
                        error_rate: fault.error_rate,
                        added_latency_ms: fault.added_latency_ms,
                    },
                );
            }
            Change::Config(c) => {
                let Some(entry) = c.entry else { return };
                event.kind = "config".into();
                event.name = format!("#{}", entry.seq);
                event.by = non_empty(&entry.who);
                event.reason = non_empty(&entry.source);
                event.detail = Some(serde_json::json!({
                    "seq": entry.seq,
                    "reverts_seq": entry.reverts_seq,
                    "diff": entry.diff,
                }));
            }
            Change::Experiment(x) => {
                event.kind = "experiment".into();
                event.name = x.expectation.clone();
                event.to_state = Some(if x.met { "met" } else { "not_met" }.into());
                event.detail = Some(serde_json::json!({
                    "observed": x.observed,
                    "observed_after_ms": x.observed_after_ms,
                    "duration_ms": x.duration_ms,
                    "fault_service": x.fault.map(|f| f.service),
                }));
            }
        }
        self.store(event).await;
    }

    /// Records the agent's own connection state as an event.
    async fn record(&self, state: &str, error: Option<String>) {
        let event = ControlEvent {
            id: 0,
            at_unix_ms: now_unix_ms(),
            cluster: self.cluster.clone(),
            agent: self.agent_name(),
            kind: "agent".into(),
            name: self.agent.endpoint.clone(),
            from_state: None,
            to_state: Some(state.to_owned()),
            reason: error,
            by: None,
            note: None,
            detail: None,
        };
        self.store(event).await;
    }

    async fn store(&self, event: ControlEvent) {
        if let Some(records) = &self.records
            && let Err(e) = records.add_event(&event).await
        {
            tracing::warn!(error = %e, kind = %event.kind, name = %event.name, "cannot record a state change");
        }
    }
}

fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}
