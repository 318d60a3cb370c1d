//! The configuration journal over the API: listing and paging, a revert that changes
//! what the inventory and the state stream say, refusals, audit.

mod support;

use support::{Harness, MemoryBackend, next_change, route, watch};
use switchyard_control_api::proto::state_change::Change;
use tonic::Code;

#[tokio::test]
async fn route_changes_are_journaled_and_reverted() {
    let h = Harness::start(MemoryBackend::new(true)).await;
    let client = h.client().await;
    let (mut stream, _) = watch(&client).await;

    client
        .set_route_weight("catalogue", 40, "more traffic")
        .await
        .expect("weight");
    client
        .set_route_weight("catalogue", 70, "even more")
        .await
        .expect("weight");
    let journal = client.journal(0, 0).await.expect("journal");
    let seqs: Vec<u64> = journal.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 2, 3]);
    assert_eq!(
        (journal[1].who.as_str(), journal[1].diff.as_str()),
        ("alice", "route catalogue weight 10 → 40\n")
    );

    // Paging: the newest without a seq, the next ones after a seq.
    let newest = client.journal(0, 1).await.expect("journal");
    assert_eq!(newest.iter().map(|e| e.seq).collect::<Vec<_>>(), [3]);
    let after_one = client.journal(1, 1).await.expect("journal");
    assert_eq!(after_one.iter().map(|e| e.seq).collect::<Vec<_>>(), [2]);

    let revert = client
        .revert_journal(2, "40 was too much")
        .await
        .expect("revert");
    assert_eq!(
        (revert.seq, revert.reverts_seq, revert.who.as_str()),
        (4, 2, "alice")
    );
    assert_eq!(revert.source, "revert of #2");
    assert_eq!(revert.diff, "route catalogue weight 70 → 10\n");
    let inventory = client.inventory().await.expect("inventory");
    assert_eq!(route(&inventory, "catalogue").new_percent, 10);

    // The stream announced every entry, the revert last.
    let mut announced = Vec::new();
    while announced.len() < 3 {
        if let Change::Config(change) = next_change(&mut stream).await {
            announced.push(change.entry.expect("entry"));
        }
    }
    assert_eq!(announced[2], revert);
}

#[tokio::test]
async fn refusals_name_the_entry_and_are_audited() {
    let h = Harness::start(MemoryBackend::new(true)).await;
    let client = h.client().await;

    let err = client
        .revert_journal(99, "typo")
        .await
        .expect_err("unknown");
    assert_eq!(err.code(), Some(Code::NotFound));
    assert!(err.to_string().contains("#99"), "{err}");

    let err = client
        .revert_journal(1, "back to nothing")
        .await
        .expect_err("first configuration");
    assert_eq!(err.code(), Some(Code::FailedPrecondition));

    let err = client.revert_journal(1, " ").await.expect_err("no reason");
    assert_eq!(err.code(), Some(Code::InvalidArgument));

    let commands_before = h.backend.commands();
    let wrong = h.client_with("not-the-token").await.expect("connect");
    let err = wrong
        .revert_journal(1, "sneaky")
        .await
        .expect_err("unauthenticated");
    assert_eq!(err.code(), Some(Code::Unauthenticated));
    let err = wrong.journal(0, 0).await.expect_err("unauthenticated");
    assert_eq!(err.code(), Some(Code::Unauthenticated));
    assert_eq!(h.backend.commands(), commands_before);
    assert_eq!(client.journal(0, 0).await.expect("journal").len(), 1);

    let audit: Vec<_> = client
        .audit(0)
        .await
        .expect("audit")
        .into_iter()
        .filter(|e| e.command == "RevertJournal")
        .map(|e| (e.caller, e.target, e.reason, e.outcome))
        .collect();
    let expected = [
        ("alice", "#99", "typo", "not_found"),
        ("alice", "#1", "back to nothing", "failed_precondition"),
        ("alice", "#1", " ", "invalid_argument"),
        ("unknown", "#1", "sneaky", "unauthenticated"),
    ];
    assert_eq!(audit.len(), expected.len(), "{audit:?}");
    for (got, want) in audit.iter().zip(expected) {
        assert_eq!(
            (
                got.0.as_str(),
                got.1.as_str(),
                got.2.as_str(),
                got.3.as_str()
            ),
            want
        );
    }
}
