//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test binary uses a different part of this module

use std::time::Duration;

use switchyard_resilience::breaker::{
    Breaker, BreakerConfig, BreakerState, Transition, TransitionReason,
};
use switchyard_resilience::clock::ManualClock;
use tokio::sync::broadcast;

/// A breaker on a manual clock, with the clock to drive it.
pub(crate) fn manual_breaker(config: BreakerConfig) -> (Breaker, ManualClock) {
    let clock = ManualClock::new();
    let breaker = Breaker::builder("test")
        .config(config)
        .clock(clock.clone())
        .build()
        .expect("valid config");
    (breaker, clock)
}

/// A small config that trips after 4 calls at 50% failures and waits 1 s open.
pub(crate) fn small_config() -> BreakerConfig {
    BreakerConfig::default()
        .count_window(4)
        .minimum_calls(4)
        .failure_rate_threshold(50.0)
        .wait_in_open(Duration::from_secs(1))
        .permitted_probes(2)
}

/// Makes `n` calls with the given outcome through the permit API.
#[track_caller]
pub(crate) fn calls(breaker: &Breaker, n: usize, fail: bool) {
    for i in 0..n {
        let permit = breaker
            .try_acquire()
            .unwrap_or_else(|e| panic!("call {i} of {n} was rejected: {e}"));
        permit.record(fail);
    }
}

/// Asserts the breaker's state in force.
#[track_caller]
pub(crate) fn assert_state(breaker: &Breaker, state: BreakerState) {
    let snapshot = breaker.snapshot();
    assert_eq!(snapshot.state, state, "snapshot: {snapshot:#?}");
}

/// The transitions received so far, as (from, to, reason).
pub(crate) fn drain(
    rx: &mut broadcast::Receiver<Transition>,
) -> Vec<(BreakerState, BreakerState, TransitionReason)> {
    let mut out = Vec::new();
    while let Ok(t) = rx.try_recv() {
        out.push((t.from, t.to, t.reason));
    }
    out
}
