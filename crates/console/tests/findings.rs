//! Saga stuck detectors over the console's records in a real store file: a saga held
//! for an operator and one with no progress past the threshold are found, with the
//! command that moves each on; finished and recently active sagas are not.

use std::time::Duration;

use serde_json::json;
use switchyard_console::clock::now_unix_ms;
use switchyard_console::clusters::{Command, LiveState};
use switchyard_console::findings::{FindingKind, Thresholds, detect};
use switchyard_store::records::{ControlEvent, Records};

fn status(at: i64, id: &str, status: &str) -> ControlEvent {
    ControlEvent {
        id: 0,
        at_unix_ms: at,
        cluster: "shop".into(),
        agent: "demo".into(),
        kind: "saga".into(),
        name: id.into(),
        from_state: None,
        to_state: Some(status.into()),
        reason: None,
        by: None,
        note: None,
        detail: Some(json!({"saga_name": "checkout", "failed_step": "charge-card"})),
    }
}

#[tokio::test]
async fn held_and_stalled_sagas_are_found_with_their_commands() {
    let dir = tempfile::tempdir().unwrap();
    let records = Records::open(dir.path().join("telemetry.db"))
        .await
        .unwrap();
    let now = now_unix_ms();
    let old = now - 600_000;
    for event in [
        status(old, "held", "running"),
        status(old + 1, "held", "failed"),
        status(old, "stalled", "running"),
        status(old, "done", "running"),
        status(old + 5, "done", "completed"),
        status(now - 1_000, "busy", "running"),
    ] {
        records.add_event(&event).await.unwrap();
    }
    let findings = detect(
        &LiveState::default(),
        &records,
        None,
        &Thresholds {
            saga_quiet: Duration::from_secs(60),
            ..Thresholds::default()
        },
    )
    .await
    .unwrap();
    let subjects: Vec<_> = findings.iter().map(|f| f.subject.as_str()).collect();
    assert_eq!(subjects, ["stalled", "held"], "{findings:#?}");
    let held = &findings[1];
    assert_eq!(held.kind, FindingKind::SagaNeedsOperator);
    assert!(held.summary.contains("charge-card"), "{}", held.summary);
    assert_eq!(
        held.action,
        Some(Command::RetrySaga {
            saga_id: "held".into(),
            input: None
        })
    );
    assert_eq!(findings[0].kind, FindingKind::SagaStuck);
    assert_eq!(
        findings[0].action,
        Some(Command::CompensateSaga {
            saga_id: "stalled".into()
        })
    );
}
