//! No token or a wrong one: UNAUTHENTICATED, nothing changes, and the attempt is audited.

mod support;

use support::{Harness, MemoryBackend, breaker};
use switchyard_control_api::{ClientError, ControlClient};

#[tokio::test]
async fn bad_tokens_are_refused_and_change_nothing() {
    let h = Harness::start(MemoryBackend::new(true)).await;
    let wrong = h.client_with("not-the-token").await.expect("connect");
    // A client that sends no authorization header at all.
    let mut anonymous = switchyard_control_api::proto::control_client::ControlClient::connect(
        format!("http://{}", h.addr),
    )
    .await
    .expect("connect");

    let err = wrong
        .trip_breaker("payments", "sneaky", None)
        .await
        .expect_err("wrong token");
    assert!(matches!(err, ClientError::Unauthenticated(_)), "{err}");
    let err = wrong.inventory().await.expect_err("wrong token");
    assert!(matches!(err, ClientError::Unauthenticated(_)), "{err}");
    let err = wrong.watch().await.err().expect("wrong token");
    assert!(matches!(err, ClientError::Unauthenticated(_)), "{err}");
    let status = anonymous
        .trip_breaker(switchyard_control_api::proto::BreakerCommand {
            name: "payments".into(),
            reason: "no token".into(),
            ttl_seconds: None,
        })
        .await
        .expect_err("no token");
    assert_eq!(status.code(), tonic::Code::Unauthenticated);

    assert_eq!(h.backend.commands(), 0, "the backend must never be called");
    let inv = h.client().await.inventory().await.expect("inventory");
    assert_eq!(breaker(&inv, "payments").state, "closed");

    let audit = h.audit.recent(0);
    let refused: Vec<_> = audit
        .iter()
        .filter(|e| e.command == "TripBreaker")
        .collect();
    assert_eq!(refused.len(), 2);
    for entry in refused {
        assert_eq!(entry.caller, "unknown");
        assert_eq!(entry.outcome, "unauthenticated");
        assert_eq!(entry.target, "payments");
    }
}

#[tokio::test]
async fn the_caller_is_the_tokens_configured_name() {
    let h = Harness::start(MemoryBackend::new(true)).await;
    let bob = h.client_with("bob-secret-token").await.expect("connect");
    let b = bob
        .trip_breaker("payments", "bob's drill", None)
        .await
        .expect("trip");
    assert_eq!(b.manual.expect("override").by, "bob");
}

#[tokio::test]
async fn tokens_that_are_not_header_values_are_refused_locally() {
    let h = Harness::start(MemoryBackend::new(true)).await;
    let err = ControlClient::connect(&format!("http://{}", h.addr), "bad\ntoken", None)
        .await
        .expect_err("newline in token");
    assert!(matches!(err, ClientError::InvalidToken), "{err}");
}

#[tokio::test]
async fn rotated_tokens_apply_at_once() {
    let h = Harness::start(MemoryBackend::new(true)).await;
    let alice = h.client().await;
    let mut watching = Box::pin(alice.watch().await.expect("watch"));
    assert!(matches!(
        support::next_change(&mut watching).await,
        switchyard_control_api::proto::state_change::Change::Snapshot(_)
    ));

    // Alice's token is rotated out; Carol's comes in.
    h.auth.replace(
        switchyard_control_api::AuthConfig::new()
            .token("carol", "carol-new-token")
            .token("bob", "bob-secret-token"),
    );
    let err = alice.identity().await.expect_err("removed token");
    assert!(matches!(err, ClientError::Unauthenticated(_)), "{err}");
    let carol = h.client_with("carol-new-token").await.expect("connect");
    carol
        .trip_breaker("payments", "rotation drill", None)
        .await
        .expect("the new token works");
    let last = carol.audit(1).await.expect("audit");
    assert_eq!(last[0].caller, "carol");

    // The stream Alice opened before the rotation ends with UNAUTHENTICATED.
    let ended = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        use futures::StreamExt as _;
        loop {
            match watching.next().await {
                Some(Ok(_)) => continue,
                Some(Err(err)) => return Some(err),
                None => return None,
            }
        }
    })
    .await
    .expect("the stream ends");
    assert!(
        matches!(ended, Some(ClientError::Unauthenticated(_))),
        "{ended:?}"
    );
}
