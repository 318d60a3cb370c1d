//! Switchyard's console core: clusters of agents and commands to them, the models of
//! sagas and breakers over stored telemetry ([`model`]), the checks on top (closed
//! loop, impact preview, stuck detectors), the HTTP API for the UI, and the
//! `switchyard` command line over the telemetry store and the OTLP receiver.
#![forbid(unsafe_code)]

pub mod api;
pub mod bulk;
pub mod cli;
pub mod clock;
pub mod closed_loop;
pub mod clusters;
mod config_file;
pub mod counters;
pub mod findings;
pub mod impact;
pub mod model;
pub mod otlp_file;
pub mod plot;
pub mod render;
pub mod runtime;
pub mod settings;
