//! The Switchyard gateway: an HTTP reverse proxy on hyper. Routes match by host, path
//! prefix, method and headers; upstream clusters are balanced by round robin or least
//! outstanding requests, with active health checks and a circuit breaker per instance;
//! routes carry timeouts, retries (idempotent methods, within a budget), rate limits,
//! API-key and JWT authentication, strangler-fig splits with shadowing and a migration
//! governor, and JSON ↔ XML / form adapters. The configuration is TOML, checked before
//! it is applied and swapped live without dropping connections; every change is
//! journaled and can be reverted. A `[sidecar]` section serves the same proxy on the
//! egress side of one service ([`Gateway::serve_sidecar_on`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), switchyard_gateway::Error> {
//! use switchyard_gateway::{Config, Gateway};
//!
//! let config = Config::from_toml(r#"
//!     listeners = ["127.0.0.1:8080"]
//!     [[cluster]]
//!     name = "catalog"
//!     instances = ["127.0.0.1:9001"]
//!     [[route]]
//!     name = "catalog"
//!     path_prefix = "/catalog"
//!     cluster = "catalog"
//! "#)?;
//! let running = Gateway::start(config).await?;
//! println!("listening on {}", running.local_addr());
//! running.gateway().apply_toml("listeners = []")?; // no routes: everything is 404
//! running.shutdown().await;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

pub mod adapter;
mod auth;
mod balancer;
mod cluster;
pub mod config;
mod error;
mod forward;
mod gateway;
pub mod governor;
mod headers;
mod health;
mod inventory;
mod journal;
mod pool;
mod proxy;
mod route;
mod server;
mod sidecar;
pub mod split;
mod stats;
mod trace;

pub use cluster::breaker_name;
pub use config::Config;
pub use error::{ConfigError, Error, Result};
pub use gateway::Gateway;
pub use inventory::{InstanceState, RouteCounters, RouteState, RouteTarget};
pub use journal::{ChangeSource, GOVERNOR, JOURNAL_CAPACITY, JournalEntry, RAMP};
pub use proxy::Body;
pub use server::RunningGateway;
