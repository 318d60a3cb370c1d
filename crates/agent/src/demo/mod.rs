//! The demo cluster (`switchyard-agent demo`): a small instrumented shop on loopback,
//! inside the agent process, so a new user sees sagas, breakers, a strangler fig and a
//! CQRS read model at once.
//!
//! - **Services** (axum, each on 127.0.0.1 with an ephemeral port): `orders`,
//!   `inventory`, `payments`, `shipping`, the legacy `catalog-monolith` (XML) and the new
//!   `catalog` (JSON). Participants remember answers by `Idempotency-Key` and honour the
//!   fault set for them through the control API ([`DemoFaults`]).
//! - **Gateway** in front of all of them, its per-instance breakers
//!   (`upstream.{service}.127.0.0.1:{port}`) in the agent's registry; `/catalog` is split
//!   20 % to the new catalogue, sticky by `x-user-id`, with an XML adapter on the legacy
//!   side and 10 % shadowing.
//! - **Checkout saga** (TOML, HTTP steps through the gateway): reserve-stock →
//!   charge-card → create-shipment, compensated in reverse. It compensates on its own:
//!   stock runs out now and then (409), 8 % of orders use a card payments declines (402),
//!   6 % ship to a country shipping does not serve (422).
//! - **Breakers open on their own**: the payments card processor has a scheduled outage
//!   ([`DemoOptions::payments_outage`], by default 8 s from 15 s after start, then every
//!   90 s) answering 503 to new charges; the saga's retries make the gateway's payments
//!   breaker open within a second or two, and charges fail fast (502) until it probes
//!   again. Refunds keep working through an outage.
//! - **Order history**: events in a SQLite event store → outbox relay → in-process bus;
//!   a projector builds the `order_history` read model (see [`OrderHistory`]).
//! - **Traffic**: at [`DemoOptions::rate_per_second`], one order and one catalogue
//!   lookup per tick.
//!
//! Everything runs in background tasks until the runtime stops.

mod catalog;
mod faults;
mod gateway;
mod history;
mod idempotency;
mod orders;
mod saga;
mod services;
mod traffic;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use switchyard_resilience::breaker::Registry;
use tokio::time::Instant;

pub use faults::{DemoFaults, Outage};
pub use gateway::CATALOG_ROUTE;
pub use history::{OrderHistory, PROJECTION};
pub use saga::CHECKOUT;
pub use traffic::TrafficStats;

use crate::AgentParts;

/// The demo's services, as the inventory and fault injection name them (and as the
/// gateway names their clusters).
pub const SERVICES: [&str; 6] = [
    "orders",
    "inventory",
    "payments",
    "shipping",
    "catalog-monolith",
    "catalog",
];

/// How to run the demo.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Orders (and catalogue lookups) per second; 0 runs no traffic.
    pub rate_per_second: f64,
    /// Seeds the traffic generator, so two runs send the same orders.
    pub seed: u64,
    /// Where the saga log and the event store go; a temporary directory (removed when
    /// the runtime stops) when `None`.
    pub data_dir: Option<PathBuf>,
    /// Where the gateway listens.
    pub gateway_listen: String,
    /// The payments card processor's scheduled outage; `None` for none.
    pub payments_outage: Option<Outage>,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            rate_per_second: 5.0,
            seed: 42,
            data_dir: None,
            gateway_listen: "127.0.0.1:0".to_owned(),
            payments_outage: Some(Outage {
                first_after: Duration::from_secs(15),
                every: Duration::from_secs(90),
                lasting: Duration::from_secs(8),
            }),
        }
    }
}

/// A running demo: the agent's parts, and what else a caller may want to show or check.
#[derive(Debug)]
pub struct Demo {
    /// What the agent's control API drives.
    pub parts: AgentParts,
    /// The faults, typed (the same as `parts.faults`).
    pub faults: Arc<DemoFaults>,
    /// Each service's address, by name.
    pub services: BTreeMap<&'static str, SocketAddr>,
    /// The gateway's address.
    pub gateway: SocketAddr,
    /// The order history read model and its projection.
    pub history: OrderHistory,
    /// The traffic generator's counters.
    pub traffic: Arc<TrafficStats>,
    /// Where the saga log and event store are.
    pub data_dir: PathBuf,
}

/// Starts the demo and returns the agent's parts.
pub async fn start(options: DemoOptions) -> anyhow::Result<AgentParts> {
    Ok(launch(options).await?.parts)
}

/// Starts the demo and returns it whole.
pub async fn launch(options: DemoOptions) -> anyhow::Result<Demo> {
    let started = Instant::now();
    let data_dir = match &options.data_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating the data directory {}", dir.display()))?;
            dir.clone()
        }
        None => {
            let dir = tempfile::Builder::new()
                .prefix("switchyard-demo-")
                .tempdir()
                .context("creating a temporary data directory")?;
            let path = dir.path().to_owned();
            // Kept (and removed) with the runtime, like every other part of the demo.
            tokio::spawn(async move {
                let _dir = dir;
                std::future::pending::<()>().await;
            });
            path
        }
    };

    let faults = Arc::new(DemoFaults::new(SERVICES));
    let registry = Registry::new();
    let history = OrderHistory::start(&data_dir.join("events.db")).await?;

    // Orders' port is needed by the gateway, and orders needs the orchestrator, which
    // needs the gateway's address: bind first, serve last.
    let orders_listener = services::bind().await?;
    let mut addresses = BTreeMap::new();
    addresses.insert("orders", orders_listener.local_addr()?);
    let participants = [
        ("inventory", services::inventory()),
        (
            "payments",
            services::payments(started, options.payments_outage),
        ),
        ("shipping", services::shipping()),
        ("catalog-monolith", catalog::monolith()),
        ("catalog", catalog::new_catalogue()),
    ];
    for (name, router) in participants {
        let addr = services::serve(services::bind().await?, name, router, faults.clone())?;
        addresses.insert(name, addr);
    }

    let running = gateway::start(&addresses, registry.clone(), &options.gateway_listen)
        .await
        .context("starting the demo gateway")?;
    let gateway_addr = running.local_addr();
    let orchestrator = saga::orchestrator(&data_dir.join("sagas.db"), gateway_addr).await?;
    services::serve(
        orders_listener,
        "orders",
        orders::router(orchestrator.clone(), history.clone()),
        faults.clone(),
    )?;

    let stats = Arc::new(TrafficStats::default());
    tokio::spawn(traffic::run(
        gateway_addr,
        options.rate_per_second,
        options.seed,
        stats.clone(),
    ));
    tracing::info!(gateway = %gateway_addr, data_dir = %data_dir.display(), "demo cluster started");

    Ok(Demo {
        parts: AgentParts {
            id: "demo".to_owned(),
            services: SERVICES.iter().map(|name| (*name).to_owned()).collect(),
            registry,
            orchestrator: Some(orchestrator),
            gateway: Some(running),
            sidecar: None,
            faults: faults.clone(),
        },
        faults,
        services: addresses,
        gateway: gateway_addr,
        history,
        traffic: stats,
        data_dir,
    })
}
