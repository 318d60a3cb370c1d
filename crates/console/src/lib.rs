//! Switchyard's console core: the models of sagas and breakers over stored
//! telemetry ([`model`]), the `switchyard` command line over the telemetry
//! store and the OTLP receiver, OTLP JSON files, and text rendering.
#![forbid(unsafe_code)]

pub mod cli;
pub mod model;
pub mod otlp_file;
pub mod render;
