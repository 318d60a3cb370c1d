//! The console's records: events and commands round-trip through a real file, filters
//! and verdicts work, and a store opened for ingest afterwards keeps them.

use serde_json::json;
use switchyard_store::records::{
    CommandQuery, CommandRecord, ControlEvent, EventQuery, Outcome, Records,
};
use switchyard_store::{Store, StoreConfig};

fn event(at: i64, kind: &str, name: &str, to: &str) -> ControlEvent {
    ControlEvent {
        id: 0,
        at_unix_ms: at,
        cluster: "shop".into(),
        agent: "demo".into(),
        kind: kind.into(),
        name: name.into(),
        from_state: Some("closed".into()),
        to_state: Some(to.into()),
        reason: Some("manual".into()),
        by: Some("alice".into()),
        note: None,
        detail: Some(json!({"k": 1})),
    }
}

fn command(at: i64, target: &str, outcome: Outcome) -> CommandRecord {
    CommandRecord {
        id: 0,
        at_unix_ms: at,
        cluster: "shop".into(),
        agent: Some("http://127.0.0.1:7700".into()),
        who: "alice".into(),
        action: "trip".into(),
        target: target.into(),
        reason: "game day".into(),
        args: Some(json!({"action": "trip", "breaker": target})),
        outcome,
        error: (outcome != Outcome::Ok).then(|| "refused".to_owned()),
        result: Some(json!({"state": "forced_open"})),
        verdict: None,
        verdict_at_unix_ms: None,
        verdict_detail: None,
    }
}

#[tokio::test]
async fn events_and_commands_round_trip_and_survive_the_ingest_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("telemetry.db");
    let records = Records::open(&path).await.unwrap();
    records
        .add_event(&event(1_000, "breaker", "payments", "open"))
        .await
        .unwrap();
    records
        .add_event(&event(2_000, "breaker", "payments", "closed"))
        .await
        .unwrap();
    records
        .add_event(&event(3_000, "route", "catalog", "new=30 shadow=0"))
        .await
        .unwrap();
    let first = records
        .add_command(&command(1_500, "payments", Outcome::Ok))
        .await
        .unwrap();
    records
        .add_command(&command(2_500, "payments", Outcome::Error))
        .await
        .unwrap();

    let breaker = records
        .events(&EventQuery {
            kind: Some("breaker".into()),
            name: Some("payments".into()),
            ..EventQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(breaker.len(), 2);
    assert_eq!(
        breaker[0].to_state.as_deref(),
        Some("closed"),
        "newest first"
    );
    assert_eq!(breaker[1].detail, Some(json!({"k": 1})));
    let window = records
        .events(&EventQuery {
            since_unix_ms: Some(1_500),
            until_unix_ms: Some(2_500),
            ..EventQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(window.len(), 1);

    records
        .set_verdict(first, "confirmed", 9_000, &json!({"rejected": 12}))
        .await
        .unwrap();
    let pending = records
        .commands(&CommandQuery {
            without_verdict: true,
            ..CommandQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].outcome, Outcome::Error);
    records.close().await;

    // The ingest side opens the same file (and its migrations) without losing them.
    let store = Store::open(StoreConfig::new(&path)).await.unwrap();
    store.close().await.unwrap();
    let records = Records::open(&path).await.unwrap();
    let all = records.commands(&CommandQuery::default()).await.unwrap();
    assert_eq!(all.len(), 2);
    let done = all.iter().find(|c| c.id == first).unwrap();
    assert_eq!(done.verdict.as_deref(), Some("confirmed"));
    assert_eq!(done.verdict_detail, Some(json!({"rejected": 12})));
    assert_eq!(done.result, Some(json!({"state": "forced_open"})));
}
