//! Routes: the gateway's strangler-fig splits, in wire terms.

use async_trait::async_trait;
use switchyard_control_api::proto::{self, state_change::Change};
use switchyard_control_api::{BackendError, Command, RouteControl};
use switchyard_gateway::{Error as GatewayError, RouteState, RouteTarget};

use super::{AgentBackend, Result};

#[async_trait]
impl RouteControl for AgentBackend {
    async fn routes(&self) -> Result<Vec<proto::Route>> {
        Ok(self
            .gateway
            .iter()
            .flat_map(|g| g.routes())
            .filter_map(|r| route_view(&r))
            .collect())
    }

    async fn set_route_weight(
        &self,
        route: &str,
        percent: u32,
        command: Command,
    ) -> Result<proto::Route> {
        let percent = percent_u8(percent)?;
        // The caller goes into the gateway's journal too, so a revert can name them.
        let by = command.by.clone();
        self.route_command(route, command, |g| g.set_weight_as(route, percent, &by))
    }

    async fn set_shadow(
        &self,
        route: &str,
        percent: u32,
        command: Command,
    ) -> Result<proto::Route> {
        let percent = percent_u8(percent)?;
        let by = command.by.clone();
        self.route_command(route, command, |g| g.set_shadow_as(route, percent, &by))
    }
}

impl AgentBackend {
    fn route_command(
        &self,
        route: &str,
        command: Command,
        apply: impl FnOnce(&switchyard_gateway::Gateway) -> switchyard_gateway::Result<RouteState>,
    ) -> Result<proto::Route> {
        let gateway = self
            .gateway
            .as_ref()
            .ok_or_else(|| BackendError::not_found("route", route))?;
        let state = {
            // Applied and marked under the poller's lock, so that it never reports
            // this change a second time.
            let mut marks = self.route_marks.lock().unwrap_or_else(|p| p.into_inner());
            let state = apply(gateway).map_err(|e| route_error(route, e))?;
            marks.insert(state.name.clone(), (state.weight, state.shadow));
            state
        };
        let view = route_view(&state).ok_or_else(|| {
            BackendError::NotAllowed(format!("route {route:?} has no traffic split"))
        })?;
        self.bus.emit(Change::Route(proto::RouteChange {
            route: Some(view.clone()),
            by: command.by,
            note: command.reason,
        }));
        Ok(view)
    }
}

/// A split route as the control API shows it; `None` for a route to one cluster.
pub(super) fn route_view(route: &RouteState) -> Option<proto::Route> {
    let RouteTarget::Split { legacy, new } = &route.target else {
        return None;
    };
    let c = &route.counters;
    Some(proto::Route {
        name: route.name.clone(),
        primary_target: legacy.clone(),
        new_target: new.clone(),
        new_percent: route.weight.map_or(0, u32::from),
        shadow_percent: route.shadow.map_or(0, u32::from),
        counters: Some(proto::RouteCounters {
            primary_requests: c.legacy,
            new_requests: c.new,
            shadow_requests: c.shadowed,
            shadow_diffs: c.differing,
        }),
    })
}

fn percent_u8(percent: u32) -> Result<u8> {
    u8::try_from(percent)
        .ok()
        .filter(|p| *p <= 100)
        .ok_or_else(|| BackendError::InvalidArgument(format!("{percent} is not a percentage")))
}

fn route_error(route: &str, error: GatewayError) -> BackendError {
    match error {
        GatewayError::UnknownRoute { .. } => BackendError::not_found("route", route),
        GatewayError::NotSplit { .. } => {
            BackendError::NotAllowed(format!("route {route:?} has no traffic split"))
        }
        GatewayError::Percent { .. } => BackendError::InvalidArgument(error.to_string()),
        other => BackendError::Internal(other.to_string()),
    }
}
