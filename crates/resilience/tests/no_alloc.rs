//! The closed state allocates nothing per call. A counting global allocator (from
//! `stats_alloc`, so this crate needs no `unsafe`) watches every allocation of the
//! process while calls run; this binary holds a single test so nothing else runs
//! meanwhile.

use std::alloc::System;
use std::time::Duration;

use futures::FutureExt;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use switchyard_resilience::breaker::{Breaker, BreakerConfig, BreakerState};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[track_caller]
fn assert_no_allocation(what: &str, breaker: &Breaker, calls: impl Fn(u64)) {
    // Warm up: fill the window past its minimum, and let thread-locals initialise.
    for i in 0..1_000 {
        calls(i);
    }
    // The allocator is global: the test harness's own thread may allocate now and then
    // while we measure. An allocation of ours would recur in every round (100,000 calls
    // each), so the quietest of three rounds must show none.
    let rounds: Vec<_> = (0..3)
        .map(|round| {
            let region = Region::new(GLOBAL);
            for i in 0..100_000 {
                calls(round * 100_000 + i);
            }
            region.change()
        })
        .collect();
    let quietest = rounds.iter().min_by_key(|c| c.allocations).unwrap();
    assert_eq!(
        (
            quietest.allocations,
            quietest.reallocations,
            quietest.bytes_allocated
        ),
        (0, 0, 0),
        "{what}: {rounds:?}"
    );
    assert_eq!(breaker.state(), BreakerState::Closed, "{what}");
}

#[test]
fn closed_state_calls_do_not_allocate() {
    let counted = Breaker::new("count window", BreakerConfig::default()).unwrap();
    assert_no_allocation("successes, sync", &counted, |i| {
        let _ = counted.call_sync(|| Ok::<_, ()>(i));
    });
    assert_no_allocation("one failure in ten, sync", &counted, |i| {
        let _ = counted.call_sync(|| if i % 10 == 0 { Err(()) } else { Ok(i) });
    });
    assert_no_allocation("async call", &counted, |i| {
        let result = counted
            .call(|| async move { Ok::<_, ()>(i) })
            .now_or_never();
        assert!(matches!(result, Some(Ok(_))));
    });

    let timed = Breaker::new(
        "time window with slow calls",
        BreakerConfig::default()
            .time_window(Duration::from_secs(10), 10)
            .slow_calls(Duration::from_secs(1), 80.0),
    )
    .unwrap();
    assert_no_allocation("time window, slow-call timing", &timed, |i| {
        let _ = timed.call_sync(|| if i % 10 == 0 { Err(()) } else { Ok(i) });
    });
}
