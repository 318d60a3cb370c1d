//! A manual override with a time to live expires by itself, and the stream says so.

mod support;

use std::time::Duration;

use support::{Harness, MemoryBackend, breaker, next_breaker_transition, watch};

#[tokio::test]
async fn a_tripped_breaker_with_a_ttl_releases_itself() {
    let h = Harness::start(MemoryBackend::new(true)).await;
    let client = h.client().await;
    let (mut stream, _) = watch(&client).await;

    let tripped = client
        .trip_breaker(
            "payments",
            "cool down for a second",
            Some(Duration::from_secs(1)),
        )
        .await
        .expect("trip");
    let manual = tripped.manual.expect("override");
    let expires = manual.expires_at_unix_ms.expect("expiry set");
    assert!(expires > manual.set_at_unix_ms);
    assert_eq!(next_breaker_transition(&mut stream).await.to, "forced_open");

    // Real time: the server and its timers run on the test's runtime over loopback.
    let t = next_breaker_transition(&mut stream).await;
    assert_eq!(
        (
            t.name.as_str(),
            t.from.as_str(),
            t.to.as_str(),
            t.reason.as_str()
        ),
        ("payments", "forced_open", "closed", "expired")
    );
    let inv = client.inventory().await.expect("inventory");
    assert_eq!(breaker(&inv, "payments").state, "closed");
    assert!(breaker(&inv, "payments").manual.is_none());
}

#[tokio::test]
async fn releasing_by_hand_cancels_the_expiry() {
    let h = Harness::start(MemoryBackend::new(true)).await;
    let client = h.client().await;
    client
        .disable_breaker("inventory", "maintenance", Some(Duration::from_secs(1)))
        .await
        .expect("disable");
    client
        .release_breaker("inventory", "done early")
        .await
        .expect("release");
    client
        .trip_breaker("inventory", "now for good", None)
        .await
        .expect("trip");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let inv = client.inventory().await.expect("inventory");
    assert_eq!(
        breaker(&inv, "inventory").state,
        "forced_open",
        "the cancelled expiry must not release the new override"
    );
}
