//! The inventory: everything a backend manages, gathered in one answer.

use crate::backend::ControlBackend;
use crate::error::Result;
use crate::proto;

/// Asks every part of `backend` at once and assembles the inventory.
pub async fn collect(backend: &dyn ControlBackend) -> Result<proto::Inventory> {
    let (services, breakers, saga_definitions, saga_counts, routes, faults) = tokio::try_join!(
        backend.services(),
        backend.breakers(),
        backend.saga_definitions(),
        backend.saga_counts(),
        backend.routes(),
        backend.faults(),
    )?;
    Ok(proto::Inventory {
        identity: Some(backend.identity()),
        services,
        breakers,
        saga_definitions,
        saga_counts,
        routes,
        faults: Some(proto::FaultSettings {
            enabled: backend.faults_enabled(),
            faults,
        }),
    })
}
