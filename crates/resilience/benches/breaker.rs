//! Closed-state overhead of a circuit breaker per call: ours against `failsafe` and
//! `recloser` on the same workload, and a bare call as the floor; on one thread, then
//! on two threads calling one shared breaker at once. Both groups run the same loop,
//! so their figures compare directly.
//!
//! Time is wall time, averaged over the threads. On a shared 2-core machine other
//! processes steal time from both groups alike; the bare call's figures show how much.

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{
    BenchmarkGroup, Criterion, criterion_group, criterion_main, measurement::WallTime,
};
use failsafe::CircuitBreaker as _;
use switchyard_resilience::breaker::{Breaker, BreakerConfig};

/// The protected call: returns its input, never fails.
#[inline(never)]
fn work(i: u64) -> Result<u64, ()> {
    Ok(black_box(i))
}

/// Runs `call` `iters` times on each of `threads` threads started together, and
/// returns the threads' mean wall time: with `iters` as criterion's iteration count,
/// the time per call of one caller.
fn run(threads: usize, iters: u64, call: &(impl Fn(u64) + Sync)) -> Duration {
    let barrier = Barrier::new(threads);
    let one = || {
        barrier.wait();
        let start = Instant::now();
        for i in 0..iters {
            call(i);
        }
        start.elapsed()
    };
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads).map(|_| s.spawn(one)).collect();
        let total: Duration = handles.into_iter().map(|h| h.join().unwrap()).sum();
        total / threads as u32
    })
}

fn bench(
    group: &mut BenchmarkGroup<'_, WallTime>,
    threads: usize,
    name: &str,
    call: impl Fn(u64) + Sync,
) {
    group.bench_function(name, |b| b.iter_custom(|iters| run(threads, iters, &call)));
}

fn compare(c: &mut Criterion, threads: usize) {
    let title = if threads == 1 {
        "closed/1 thread".to_string()
    } else {
        format!("closed/{threads} threads")
    };
    let mut group = c.benchmark_group(title);

    bench(&mut group, threads, "bare", |i| {
        black_box(work(i).ok());
    });

    let ours = Breaker::new("bench", BreakerConfig::default()).unwrap();
    bench(&mut group, threads, "switchyard", |i| {
        black_box(ours.call_sync(|| work(i)).ok());
    });

    // The same breaker with a time window and slow-call detection: two clock reads a call.
    let timed = Breaker::new(
        "bench-timed",
        BreakerConfig::default()
            .time_window(Duration::from_secs(10), 10)
            .slow_calls(Duration::from_secs(1), 80.0),
    )
    .unwrap();
    bench(
        &mut group,
        threads,
        "switchyard (time window + slow calls)",
        |i| {
            black_box(timed.call_sync(|| work(i)).ok());
        },
    );

    let failsafe = failsafe::Config::new().build();
    bench(&mut group, threads, "failsafe", |i| {
        black_box(failsafe.call(|| work(i)).ok());
    });

    let recloser = recloser::Recloser::default();
    bench(&mut group, threads, "recloser", |i| {
        black_box(recloser.call(|| work(i)).ok());
    });

    group.finish();
}

fn one_thread(c: &mut Criterion) {
    compare(c, 1);
}

fn two_threads(c: &mut Criterion) {
    compare(c, 2);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = one_thread, two_threads
}
criterion_main!(benches);
