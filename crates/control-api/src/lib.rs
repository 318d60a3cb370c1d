//! The control API of a Switchyard agent (gRPC package `switchyard.control.v1`):
//! the protocol, a server that authenticates, validates and audits every command
//! before handing it to a [`ControlBackend`], and a typed client.
//!
//! The agent implements the backend traits over its resilience registry, saga
//! orchestrator and gateway; this crate depends on none of them.
#![forbid(unsafe_code)]

pub mod audit;
pub mod auth;
pub mod backend;
pub mod bus;
pub mod client;
pub mod command;
pub mod error;
pub mod experiment;
pub mod inventory;
pub mod journal;
pub mod server;
pub mod time;
pub mod tls;
pub mod ttl;

/// The generated messages, client and server of `switchyard.control.v1`.
pub mod proto {
    // Generated code (checked in, kept fresh by tests/bootstrap.rs): prost does not derive
    // Debug on the service wrappers and emits items clippy would word differently.
    #![allow(missing_debug_implementations, unreachable_pub, clippy::all)]
    include!("generated/switchyard.control.v1.rs");
}

pub use audit::{AuditEntry, AuditLog};
pub use auth::{AuthConfig, LiveAuth};
pub use backend::{
    BreakerAction, BreakerControl, ControlBackend, FaultControl, JournalControl, RouteControl,
    SagaControl, SagaFilter, StateSource,
};
pub use bus::StateBus;
pub use client::{ClientError, ControlClient};
pub use command::Command;
pub use error::BackendError;
pub use experiment::{Expectation, Experiment, ExperimentReport, run_experiment};
pub use server::ControlServer;
pub use tls::{ClientTls, ServerTls};
pub use ttl::TtlTimers;
