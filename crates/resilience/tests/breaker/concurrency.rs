//! Many callers at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use switchyard_resilience::breaker::{BreakerConfig, BreakerState, HalfOpenTransition};
use switchyard_resilience::error::CallError;
use tokio::sync::Semaphore;

use crate::support::{calls, manual_breaker};

/// Half-open admits exactly its permitted probes, whatever the number of callers;
/// the rest are rejected at once rather than queued behind the probes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn half_open_admits_exactly_the_permitted_probes() {
    const CALLERS: usize = 64;
    const PROBES: u32 = 3;
    let config = BreakerConfig::default()
        .count_window(10)
        .minimum_calls(5)
        .wait_in_open(Duration::from_secs(1))
        .permitted_probes(PROBES)
        .half_open_transition(HalfOpenTransition::OnNextCall);
    let (breaker, clock) = manual_breaker(config);
    for round in 0..20 {
        calls(&breaker, 5, true);
        assert_eq!(breaker.state(), BreakerState::Open, "round {round}");
        clock.advance(Duration::from_secs(1));

        let admitted = Arc::new(AtomicUsize::new(0));
        let release = Arc::new(Semaphore::new(0));
        let start = Arc::new(tokio::sync::Barrier::new(CALLERS));
        let tasks: Vec<_> = (0..CALLERS)
            .map(|_| {
                let (breaker, admitted, release, start) = (
                    breaker.clone(),
                    admitted.clone(),
                    release.clone(),
                    start.clone(),
                );
                tokio::spawn(async move {
                    start.wait().await;
                    breaker
                        .call(|| async {
                            admitted.fetch_add(1, Ordering::SeqCst);
                            // Probes stay in flight until every caller has been decided.
                            release.acquire().await.unwrap().forget();
                            Ok::<_, ()>(())
                        })
                        .await
                })
            })
            .collect();
        // Wait until every caller is either admitted or back with a rejection.
        let mut rejected = 0;
        let mut pending = Vec::new();
        for task in tasks {
            if task.is_finished() {
                match task.await.unwrap() {
                    Err(CallError::BreakerOpen(e)) => {
                        assert_eq!(e.state, BreakerState::HalfOpen);
                        rejected += 1;
                    }
                    other => panic!("round {round}: unexpected {other:?}"),
                }
            } else {
                pending.push(task);
            }
        }
        // Unfinished tasks are probes or callers not yet scheduled: let them all run.
        while admitted.load(Ordering::SeqCst) + rejected < CALLERS {
            let mut still = Vec::new();
            for task in pending {
                if task.is_finished() {
                    match task.await.unwrap() {
                        Err(CallError::BreakerOpen(_)) => rejected += 1,
                        other => panic!("round {round}: unexpected {other:?}"),
                    }
                } else {
                    still.push(task);
                }
            }
            pending = still;
            tokio::task::yield_now().await;
        }
        assert_eq!(
            admitted.load(Ordering::SeqCst),
            PROBES as usize,
            "round {round}"
        );
        assert_eq!(rejected, CALLERS - PROBES as usize, "round {round}");
        release.add_permits(CALLERS);
        for task in pending {
            assert!(task.await.unwrap().is_ok());
        }
        assert_eq!(
            breaker.state(),
            BreakerState::Closed,
            "round {round}: probes succeeded"
        );
    }
}

/// Threads hammering a closed breaker lose no count, and a failure burst from any
/// thread still opens it.
#[test]
fn concurrent_calls_are_all_counted() {
    const THREADS: usize = 4;
    const CALLS: usize = 50_000;
    let config = BreakerConfig::default()
        .count_window(1_000)
        .minimum_calls(100)
        .failure_rate_threshold(60.0);
    let (breaker, _clock) = manual_breaker(config);
    let barrier = Arc::new(Barrier::new(THREADS));
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (breaker, barrier) = (breaker.clone(), barrier.clone());
            s.spawn(move || {
                barrier.wait();
                for i in 0..CALLS {
                    // One call in ten fails: far below the threshold.
                    let fail = (i + t) % 10 == 0;
                    breaker
                        .call_sync(|| if fail { Err(()) } else { Ok(()) })
                        .ok();
                }
            });
        }
    });
    let s = breaker.snapshot();
    assert_eq!(s.state, BreakerState::Closed);
    assert_eq!(
        s.totals.success + s.totals.failure,
        (THREADS * CALLS) as u64
    );
    assert_eq!(s.totals.failure, (THREADS * CALLS / 10) as u64);
    assert_eq!(s.window_calls, 1_000);
    assert!(s.failure_rate < 60.0);

    std::thread::scope(|s| {
        for _ in 0..THREADS {
            let breaker = breaker.clone();
            s.spawn(move || {
                for _ in 0..2_000 {
                    let _ = breaker.call_sync(|| Err::<(), _>(()));
                }
            });
        }
    });
    let s = breaker.snapshot();
    assert_eq!(s.state, BreakerState::Open);
    assert_eq!(
        s.totals.success + s.totals.failure + s.totals.rejected,
        (THREADS * (CALLS + 2_000)) as u64
    );
}
