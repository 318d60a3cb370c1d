//! Every command is audited with caller, reason and outcome, and served by GetAudit.

mod support;

use support::{Harness, MemoryBackend};

#[tokio::test]
async fn commands_are_audited_with_their_outcome() {
    let h = Harness::start(MemoryBackend::new(true)).await;
    let client = h.client().await;
    client
        .trip_breaker("payments", "provider outage", None)
        .await
        .expect("trip");
    client
        .trip_breaker("ghost", "typo", None)
        .await
        .expect_err("unknown");
    h.client_with("wrong")
        .await
        .expect("connect")
        .set_route_weight("catalogue", 90, "not me")
        .await
        .expect_err("unauthenticated");

    let entries = client.audit(0).await.expect("audit");
    let commands: Vec<_> = entries
        .iter()
        .map(|e| {
            (
                e.caller.as_str(),
                e.command.as_str(),
                e.target.as_str(),
                e.reason.as_str(),
                e.outcome.as_str(),
            )
        })
        .collect();
    assert_eq!(
        commands,
        [
            ("alice", "TripBreaker", "payments", "provider outage", "ok"),
            ("alice", "TripBreaker", "ghost", "typo", "not_found"),
            (
                "unknown",
                "SetRouteWeight",
                "catalogue",
                "not me",
                "unauthenticated"
            ),
        ]
    );
    assert!(entries[1].detail.contains("ghost"));
    assert!(entries.iter().all(|e| e.at_unix_ms > 0));
    assert_eq!(client.audit(1).await.expect("audit").len(), 1);
}
