//! Switchyard's console core: clusters of agents and commands to them, the HTTP API
//! for the UI, and the `switchyard` command line over the
//! telemetry store and the OTLP receiver, OTLP JSON files, and text rendering.
#![forbid(unsafe_code)]

pub mod api;
pub mod cli;
pub mod clock;
pub mod closed_loop;
pub mod clusters;
pub mod counters;
pub mod findings;
pub mod impact;
pub mod otlp_file;
pub mod render;
