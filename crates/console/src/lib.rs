//! Switchyard's console core. For now: the `switchyard` command line over the
//! telemetry store and the OTLP receiver, OTLP JSON files, text rendering, and
//! charts (SVG and PNG).
#![forbid(unsafe_code)]

pub mod cli;
pub mod otlp_file;
pub mod plot;
pub mod render;
