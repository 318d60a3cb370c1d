//! The Switchyard agent: runs the patterns around managed services — gateway with
//! breakers, sagas, eventing — and serves the control API the console drives.
#![forbid(unsafe_code)]

pub mod assemble;
pub mod backend;
pub mod config;
pub mod demo;
pub mod faults;
pub mod parts;
pub mod reload;
pub mod telemetry;

pub use backend::AgentBackend;
pub use parts::AgentParts;
