//! Breakers: the resilience registry, in wire terms.

use async_trait::async_trait;
use switchyard_control_api::proto;
use switchyard_control_api::time::unix_ms;
use switchyard_control_api::{BackendError, BreakerAction, BreakerControl, Command};
use switchyard_resilience::breaker::{self, Snapshot};

use super::{AgentBackend, Result};

#[async_trait]
impl BreakerControl for AgentBackend {
    async fn breakers(&self) -> Result<Vec<proto::Breaker>> {
        Ok(self
            .registry
            .list()
            .iter()
            .map(|s| self.breaker_view(s))
            .collect())
    }

    async fn breaker_command(
        &self,
        name: &str,
        action: BreakerAction,
        command: Command,
    ) -> Result<proto::Breaker> {
        let Command { by, reason, ttl } = command;
        let manual = breaker::Command {
            by: by.clone(),
            reason: reason.clone(),
            ttl,
        };
        // The registry expires overrides itself and reports every transition, manual
        // ones included, on its stream: the bridge puts them on the bus.
        let snapshot = match action {
            BreakerAction::Trip => self.registry.trip(name, manual),
            BreakerAction::Disable => self.registry.disable(name, manual),
            BreakerAction::Reset => self.registry.reset(name, &by, &reason),
            BreakerAction::Release => self.registry.release(name, &by, &reason),
        }
        .map_err(|e| breaker_error(name, e))?;
        Ok(self.breaker_view(&snapshot))
    }
}

impl AgentBackend {
    fn breaker_view(&self, s: &Snapshot) -> proto::Breaker {
        proto::Breaker {
            name: s.name.to_string(),
            service: self.breaker_service(&s.name),
            state: s.state.to_string(),
            automatic_state: s.automatic_state.to_string(),
            failure_rate: s.failure_rate,
            slow_call_rate: s.slow_call_rate,
            window_calls: s.window_calls,
            since_unix_ms: unix_ms(s.since),
            manual: s.manual.as_ref().map(|m| proto::Override {
                state: m.state.to_string(),
                by: m.by.clone(),
                reason: m.reason.clone(),
                set_at_unix_ms: unix_ms(m.set_at),
                expires_at_unix_ms: m.expires_at.map(unix_ms),
            }),
        }
    }

    /// The service owning breaker `name`: the cluster of a gateway instance's breaker,
    /// a managed service whose name prefixes it, else the breaker's own name.
    fn breaker_service(&self, name: &str) -> String {
        if let Some(gateway) = &self.gateway
            && let Some(instance) = gateway.instances().into_iter().find(|i| i.breaker == name)
        {
            return instance.cluster;
        }
        self.services
            .iter()
            .filter(|s| name == s.as_str() || name.starts_with(&format!("{s}.")))
            .max_by_key(|s| s.len())
            .cloned()
            .unwrap_or_else(|| name.to_owned())
    }
}

fn breaker_error(name: &str, error: switchyard_resilience::Error) -> BackendError {
    match error {
        switchyard_resilience::Error::UnknownBreaker { .. } => {
            BackendError::not_found("breaker", name)
        }
        other => BackendError::Internal(other.to_string()),
    }
}
