//! The console's models of stored telemetry: saga instances and flows, and
//! circuit breakers over time. Each is a function over a [`Reader`] returning
//! plain serializable types, so the CLI, the HTTP API and the desktop app serve
//! the same JSON.
//!
//! - [`saga::search`], [`saga::flow`], [`saga::aggregate_flow`]
//! - [`breaker::board`], [`breaker::history`], [`breaker::state_at`],
//!   [`breaker::state_for_span`]
//!
//! [`Reader`]: switchyard_store::Reader

pub mod breaker;
mod error;
pub mod saga;
mod time;

pub use error::{ModelError, Result};
pub use time::TimeRange;
