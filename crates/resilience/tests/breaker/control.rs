//! Manual control and the registry.

use std::time::Duration;

use futures::StreamExt;
use switchyard_resilience::Error;
use switchyard_resilience::breaker::{
    BreakerConfig, BreakerState, Command, HalfOpenTransition, Registry, TransitionReason,
};

use crate::support::{assert_state, calls, drain, manual_breaker, small_config};

use BreakerState::*;

#[test]
fn trip_rejects_with_the_breaker_and_state_and_release_restores() {
    let (b, _clock) = manual_breaker(small_config());
    let h = b.handle();
    let mut rx = b.subscribe();
    let s = h.trip(Command::new("alice", "database failover"));
    assert_eq!(s.state, ForcedOpen);
    assert_eq!(s.manual.as_ref().unwrap().expires_in, None);
    let err = b.call_sync(|| Ok::<_, std::io::Error>(())).unwrap_err();
    assert_eq!(
        err.to_string(),
        "circuit breaker \"test\" rejected the call: it is forced_open"
    );
    assert!(err.is_rejected());
    // Idempotent: a second trip replaces who and why, with no new transition.
    let s = h.trip(Command::new("bob", "still failing over"));
    assert_eq!(s.manual.unwrap().by, "bob");
    let t = rx.try_recv().unwrap();
    assert_eq!(
        (t.from, t.to, t.reason),
        (Closed, ForcedOpen, TransitionReason::Manual)
    );
    assert_eq!(
        (t.by.as_deref(), t.note.as_deref()),
        (Some("alice"), Some("database failover"))
    );
    assert!(rx.try_recv().is_err());
    assert_eq!(h.release("bob", "done").state, Closed);
    calls(&b, 3, false);
    assert_eq!(b.snapshot().totals.rejected, 1);
}

#[test]
fn disabled_lets_everything_through_and_records_nothing() {
    let (b, _clock) = manual_breaker(small_config());
    calls(&b, 3, false);
    b.handle().disable(Command::new("ops", "flapping"));
    calls(&b, 20, true);
    let s = b.snapshot();
    assert_eq!((s.state, s.automatic_state), (Disabled, Closed));
    assert_eq!(
        (s.window_calls, s.window_failures),
        (3, 0),
        "the window is frozen"
    );
    assert_eq!((s.totals.success, s.totals.failure), (3, 20));
    b.handle().release("ops", "stable");
    assert_state(&b, Closed);
}

#[test]
fn observe_only_never_rejects_but_counts_what_it_would_have() {
    let config = small_config()
        .permitted_probes(1)
        .half_open_transition(HalfOpenTransition::OnNextCall);
    let (b, clock) = manual_breaker(config);
    let mut rx = b.subscribe();
    b.handle()
        .observe(Command::new("carol", "dry run before enforcing"));
    calls(&b, 4, true); // would open
    let s = b.snapshot();
    assert_eq!((s.state, s.automatic_state), (ObserveOnly, Open));
    calls(&b, 5, false); // all pass; an enforcing breaker would have rejected them
    let s = b.snapshot();
    assert_eq!((s.totals.would_reject, s.totals.rejected), (5, 0));
    assert_eq!(s.totals.success, 5);
    let events: Vec<_> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
    assert_eq!(events.len(), 2);
    assert_eq!((events[0].to, events[0].dry_run), (ObserveOnly, false));
    assert_eq!(
        (events[1].from, events[1].to, events[1].dry_run),
        (Closed, Open, true)
    );
    // The dry run carries on: after the wait the next call is a probe.
    clock.advance(Duration::from_secs(1));
    let probe = b.try_acquire().unwrap();
    assert!(probe.is_probe());
    probe.failure();
    assert_eq!(b.snapshot().automatic_state, Open);
    // Enforcing now applies what the dry run computed.
    assert_eq!(b.handle().release("carol", "enforce").state, Open);
    assert_eq!(b.try_acquire().unwrap_err().state, Open);
}

#[test]
fn reset_closes_and_clears_the_window() {
    let (b, _clock) = manual_breaker(small_config());
    calls(&b, 4, true);
    assert_state(&b, Open);
    let mut rx = b.subscribe();
    let s = b.handle().reset("dave", "fixed upstream");
    assert_eq!((s.state, s.window_calls, s.window_failures), (Closed, 0, 0));
    assert_eq!(drain(&mut rx), [(Open, Closed, TransitionReason::Manual)]);
    // And reset beats an override.
    b.handle().trip(Command::new("dave", "again"));
    assert_eq!(b.handle().reset("dave", "ok").state, Closed);
    assert!(b.snapshot().manual.is_none());
}

#[test]
fn unknown_breaker_names_are_clear_errors() {
    let registry = Registry::new();
    registry
        .breaker("payments", BreakerConfig::default())
        .unwrap();
    let err = registry
        .trip("paymnets", Command::new("alice", "typo"))
        .unwrap_err();
    assert!(matches!(&err, Error::UnknownBreaker { name } if name == "paymnets"));
    assert_eq!(
        err.to_string(),
        "no circuit breaker named \"paymnets\" in the registry"
    );
    assert!(registry.snapshot("nope").is_err());
    assert!(registry.handle("nope").is_err());
    assert!(registry.reset("nope", "a", "b").is_err());
    assert!(registry.remove("nope").is_err());
}

#[test]
fn registry_rejects_invalid_configs() {
    let registry = Registry::new();
    let err = registry
        .breaker("bad", BreakerConfig::default().permitted_probes(0))
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidConfig {
                component: "breaker",
                ..
            }
        ),
        "{err}"
    );
    assert!(registry.names().is_empty());
}

#[tokio::test]
async fn registry_lists_watches_and_commands_by_name() {
    let registry = Registry::new();
    let payments = registry.breaker("payments", small_config()).unwrap();
    registry.breaker("inventory", small_config()).unwrap();
    // Asking again returns the same breaker.
    let again = registry
        .breaker("payments", BreakerConfig::default())
        .unwrap();
    assert_eq!(again.config(), payments.config());
    let names: Vec<String> = registry.names().iter().map(|n| n.to_string()).collect();
    assert_eq!(names, ["inventory", "payments"]);

    let mut watch = Box::pin(registry.watch());
    calls(&payments, 4, true);
    registry
        .trip(
            "inventory",
            Command::new("erin", "deploy").ttl(Duration::from_secs(60)),
        )
        .unwrap();
    let first = watch.next().await.unwrap().unwrap();
    assert_eq!(
        (first.breaker.as_ref(), first.to, first.reason),
        ("payments", Open, TransitionReason::Threshold)
    );
    let second = watch.next().await.unwrap().unwrap();
    assert_eq!(
        (second.breaker.as_ref(), second.to, second.by.as_deref()),
        ("inventory", ForcedOpen, Some("erin"))
    );

    let list = registry.list();
    assert_eq!(list.len(), 2);
    assert_eq!(
        (list[0].name.as_ref(), list[0].state),
        ("inventory", ForcedOpen)
    );
    let manual = list[0].manual.as_ref().unwrap();
    assert_eq!(
        (manual.by.as_str(), manual.reason.as_str()),
        ("erin", "deploy")
    );
    assert!(manual.expires_at.is_some());
    assert_eq!(
        (list[1].name.as_ref(), list[1].state, list[1].failure_rate),
        ("payments", Open, 100.0)
    );

    assert_eq!(
        registry
            .release("inventory", "erin", "deployed")
            .unwrap()
            .state,
        Closed
    );
    assert_eq!(
        registry
            .observe("payments", Command::new("erin", "watch"))
            .unwrap()
            .state,
        ObserveOnly
    );
    assert_eq!(
        registry
            .disable("payments", Command::new("erin", "off"))
            .unwrap()
            .state,
        Disabled
    );
    registry.remove("payments").unwrap();
    assert!(registry.get("payments").is_err());
}
