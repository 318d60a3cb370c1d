//! The circuit breaker through its public API: timed behaviour on tokio's paused clock,
//! manual control and the registry, and concurrent callers.

#[path = "../support/mod.rs"]
mod support;

mod concurrency;
mod control;
mod time;
