//! Background tasks that turn the parts' own change streams into the control API's
//! state changes on the bus.

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt as _;
use switchyard_control_api::StateBus;
use switchyard_control_api::proto::{self, state_change::Change};
use switchyard_gateway::Gateway;
use switchyard_resilience::breaker::Registry;
use switchyard_saga::Orchestrator;
use tokio::sync::broadcast::error::RecvError;
use tokio::task::AbortHandle;

use super::RouteMarks;
use super::journal::entry_view;
use super::routes::route_view;

/// How often the gateway's weights are compared with what was last reported: the
/// governor and ramps change them without telling anyone.
const ROUTE_POLL: Duration = Duration::from_millis(500);

/// Breaker transitions, manual and expired ones included.
pub(super) fn breakers(registry: Registry, bus: StateBus) -> AbortHandle {
    let transitions = registry.watch();
    tokio::spawn(async move {
        let mut transitions = std::pin::pin!(transitions);
        while let Some(item) = transitions.next().await {
            match item {
                // A dry run (observe-only) changes nothing that is enforced.
                Ok(t) if t.dry_run => {}
                Ok(t) => bus.emit(Change::Breaker(proto::BreakerTransition {
                    name: t.breaker.to_string(),
                    from: t.from.to_string(),
                    to: t.to.to_string(),
                    reason: t.reason.to_string(),
                    by: t.by.unwrap_or_default(),
                    note: t.note.unwrap_or_default(),
                })),
                Err(lagged) => {
                    tracing::warn!(missed = lagged.missed, "breaker transitions lagged");
                }
            }
        }
    })
    .abort_handle()
}

/// Saga status changes.
pub(super) fn sagas(orchestrator: Orchestrator, bus: StateBus) -> AbortHandle {
    let mut events = orchestrator.subscribe();
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(e) => bus.emit(Change::Saga(proto::SagaStatusChange {
                    id: e.id,
                    name: e.name,
                    status: e.status.to_string(),
                    failed_step: e.failed_step.unwrap_or_default(),
                })),
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "saga events lagged");
                }
                Err(RecvError::Closed) => return,
            }
        }
    })
    .abort_handle()
}

/// Route weight and shadow changes the API did not make (ramps, the governor's
/// rollback, a reloaded file).
pub(super) fn routes(gateway: Gateway, bus: StateBus, marks: RouteMarks) -> AbortHandle {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(ROUTE_POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut first = true;
        loop {
            tick.tick().await;
            let changed: Vec<proto::Route> = {
                let mut marks = marks.lock().unwrap_or_else(|p| p.into_inner());
                let routes = gateway.routes();
                let mut changed = Vec::new();
                let mut seen = HashMap::new();
                for route in &routes {
                    let now = (route.weight, route.shadow);
                    seen.insert(route.name.clone(), now);
                    if marks.get(&route.name) != Some(&now)
                        && !first
                        && let Some(view) = route_view(route)
                    {
                        changed.push(view);
                    }
                }
                *marks = seen;
                changed
            };
            first = false;
            for route in changed {
                bus.emit(Change::Route(proto::RouteChange {
                    route: Some(route),
                    by: String::new(),
                    note: "changed by the gateway (ramp, governor or configuration)".to_owned(),
                }));
            }
        }
    })
    .abort_handle()
}

/// New entries of the gateway's configuration journal, whoever made them (a file, a
/// command, a ramp, the governor, a revert).
pub(super) fn journal(gateway: Gateway, bus: StateBus) -> AbortHandle {
    let mut entries = gateway.watch_journal();
    tokio::spawn(async move {
        loop {
            match entries.recv().await {
                Ok(entry) => bus.emit(Change::Config(proto::ConfigChange {
                    entry: Some(entry_view(&entry)),
                })),
                // ListJournal still has them all.
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "journal entries lagged");
                }
                Err(RecvError::Closed) => return,
            }
        }
    })
    .abort_handle()
}
