//! Timed behaviour, on tokio's paused clock: no real sleeps.

use std::time::Duration;

use switchyard_resilience::breaker::{
    Breaker, BreakerConfig, BreakerState, Command, HalfOpenTransition, TransitionReason,
};
use switchyard_resilience::error::CallError;
use tokio::time::{Instant, advance, sleep};

use crate::support::{assert_state, calls, drain, small_config};

use BreakerState::*;

fn breaker(config: BreakerConfig) -> Breaker {
    Breaker::builder("timed").config(config).build().unwrap()
}

#[tokio::test(start_paused = true)]
async fn opens_on_threshold_and_moves_to_half_open_by_itself() {
    let b = breaker(small_config());
    let mut rx = b.subscribe();
    calls(&b, 2, false);
    calls(&b, 1, true);
    assert_state(&b, Closed);
    calls(&b, 1, true); // 2 of 4 failed: 50%
    let opened = Instant::now();
    assert_eq!(
        drain(&mut rx),
        [(Closed, Open, TransitionReason::Threshold)]
    );
    let rejected = b.try_acquire().unwrap_err();
    assert_eq!((rejected.breaker.as_ref(), rejected.state), ("timed", Open));
    assert_eq!(b.snapshot().next_probe_in, Some(Duration::from_secs(1)));

    // Nobody calls; the breaker's own timer moves it to half-open exactly on time.
    let t = rx.recv().await.unwrap();
    assert_eq!(
        (t.from, t.to, t.reason),
        (Open, HalfOpen, TransitionReason::Timeout)
    );
    assert_eq!(Instant::now() - opened, Duration::from_secs(1));

    // Two successful probes close it.
    calls(&b, 2, false);
    assert_eq!(
        drain(&mut rx),
        [(HalfOpen, Closed, TransitionReason::Probe)]
    );
    let s = b.snapshot();
    assert_eq!(
        (s.state, s.window_calls),
        (Closed, 0),
        "closing clears the window"
    );
}

#[tokio::test(start_paused = true)]
async fn on_next_call_waits_for_a_call() {
    let b = breaker(
        small_config()
            .half_open_transition(HalfOpenTransition::OnNextCall)
            .permitted_probes(1),
    );
    calls(&b, 4, true);
    assert_state(&b, Open);
    advance(Duration::from_secs(5)).await;
    let s = b.snapshot();
    assert_eq!((s.state, s.next_probe_in), (Open, Some(Duration::ZERO)));
    let probe = b.try_acquire().unwrap();
    assert!(probe.is_probe());
    assert_state(&b, HalfOpen);
    assert_eq!(
        b.try_acquire().unwrap_err().state,
        HalfOpen,
        "one probe at a time"
    );
    probe.success();
    assert_state(&b, Closed);
}

#[tokio::test(start_paused = true)]
async fn failed_probes_grow_the_wait_up_to_its_cap() {
    let config = small_config()
        .permitted_probes(1)
        .half_open_transition(HalfOpenTransition::OnNextCall)
        .open_backoff(2.0, Duration::from_secs(5));
    let b = breaker(config);
    calls(&b, 4, true);
    let mut waits = vec![b.snapshot().next_probe_in.unwrap().as_secs()];
    for _ in 0..4 {
        advance(b.snapshot().next_probe_in.unwrap()).await;
        b.try_acquire().unwrap().failure();
        assert_state(&b, Open);
        waits.push(b.snapshot().next_probe_in.unwrap().as_secs());
    }
    assert_eq!(waits, [1, 2, 4, 5, 5]);
    // A good probe resets the growth.
    advance(Duration::from_secs(5)).await;
    b.try_acquire().unwrap().success();
    assert_state(&b, Closed);
    calls(&b, 4, true);
    assert_eq!(b.snapshot().next_probe_in, Some(Duration::from_secs(1)));
}

#[tokio::test(start_paused = true)]
async fn half_open_reopens_when_probes_take_too_long() {
    let b = breaker(
        small_config()
            .permitted_probes(2)
            .max_wait_in_half_open(Duration::from_secs(3)),
    );
    let mut rx = b.subscribe();
    calls(&b, 4, true);
    sleep(Duration::from_secs(1)).await;
    assert_state(&b, HalfOpen);
    let stuck = b.try_acquire().unwrap();
    assert!(stuck.is_probe());
    // The probe never answers: after 3 s in half-open the breaker gives up on it.
    let entered_half_open = Instant::now();
    drain(&mut rx);
    let t = rx.recv().await.unwrap();
    assert_eq!(
        (t.from, t.to, t.reason),
        (HalfOpen, Open, TransitionReason::Timeout)
    );
    assert_eq!(Instant::now() - entered_half_open, Duration::from_secs(3));
    // Its late answer belongs to a past state and changes nothing.
    stuck.success();
    assert_state(&b, Open);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_probe_gives_its_place_back() {
    let b = breaker(small_config().permitted_probes(1));
    calls(&b, 4, true);
    sleep(Duration::from_secs(1)).await;
    let abandoned = b.call(|| async {
        sleep(Duration::from_secs(60)).await;
        Ok::<_, ()>(())
    });
    // Give up on the probe before it finishes (like a cancelled request).
    assert!(
        tokio::time::timeout(Duration::from_millis(10), abandoned)
            .await
            .is_err()
    );
    let probe = b.try_acquire().expect("the probe's place is free again");
    assert!(probe.is_probe());
    probe.success();
    assert_state(&b, Closed);
}

#[tokio::test(start_paused = true)]
async fn manual_overrides_expire_by_themselves() {
    let b = breaker(small_config());
    let h = b.handle();
    let mut rx = b.subscribe();
    let s = h.trip(Command::new("alice", "maintenance").ttl(Duration::from_secs(600)));
    let manual = s.manual.unwrap();
    assert_eq!(
        (manual.by.as_str(), manual.reason.as_str()),
        ("alice", "maintenance")
    );
    assert_eq!(manual.expires_in, Some(Duration::from_secs(600)));
    assert!(
        matches!(b.call(|| async { Ok::<_, ()>(()) }).await, Err(CallError::BreakerOpen(e)) if e.state == ForcedOpen)
    );
    let tripped = Instant::now();
    drain(&mut rx);
    let t = rx.recv().await.unwrap();
    assert_eq!(
        (t.from, t.to, t.reason),
        (ForcedOpen, Closed, TransitionReason::Expired)
    );
    assert_eq!(Instant::now() - tripped, Duration::from_secs(600));
    assert!(b.snapshot().manual.is_none());

    // Without a TTL an override holds until released.
    h.disable(Command::new("bob", "noisy alarms"));
    advance(Duration::from_secs(365 * 24 * 3600)).await;
    assert_state(&b, Disabled);
    let s = h.release("bob", "quiet again");
    assert_eq!(s.state, Closed);
    let t = rx.try_recv().unwrap();
    assert_eq!((t.to, t.by.as_deref()), (Disabled, Some("bob")));
    let t = rx.try_recv().unwrap();
    assert_eq!(
        (t.from, t.to, t.reason, t.note.as_deref()),
        (
            Disabled,
            Closed,
            TransitionReason::Manual,
            Some("quiet again")
        )
    );
}

#[tokio::test(start_paused = true)]
async fn time_window_forgets_old_calls() {
    let config = BreakerConfig::default()
        .time_window(Duration::from_secs(10), 10)
        .minimum_calls(4)
        .failure_rate_threshold(50.0);
    let b = breaker(config);
    calls(&b, 10, false); // t = 0
    advance(Duration::from_secs(5)).await;
    calls(&b, 4, true); // 4 of 14: 29%
    assert_state(&b, Closed);
    advance(Duration::from_millis(5_500)).await;
    // The 10 successes of t = 0 have left the window: 4 failures remain.
    let s = b.snapshot();
    assert_eq!((s.window_calls, s.window_failures), (4, 4));
    assert_state(&b, Closed); // a snapshot does not decide; the next call does
    calls(&b, 1, false); // 4 of 5 failed
    assert_state(&b, Open);
}

#[tokio::test(start_paused = true)]
async fn slow_calls_open_the_breaker() {
    let config = small_config()
        .failure_rate_threshold(100.0)
        .slow_calls(Duration::from_millis(100), 50.0);
    let b = breaker(config);
    for delay in [10, 150, 20, 200] {
        b.call(|| async move {
            sleep(Duration::from_millis(delay)).await;
            Ok::<_, ()>(())
        })
        .await
        .unwrap();
    }
    let s = b.snapshot();
    assert_eq!(s.state, Open);
    assert_eq!(
        (s.totals.success, s.totals.slow, s.totals.failure),
        (2, 2, 0)
    );
}
