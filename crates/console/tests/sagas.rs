//! Saga instances and flows from sagas sent over OTLP/gRPC to a real
//! `switchyard serve`: spans split across requests and out of order, retried
//! steps, compensated, failed and choreographed sagas, re-sent requests; read
//! through the models and through the CLI's `--json`.

mod support;

use support::otlp::Otlp;
use support::{db_in, json, path_str, serve};
use switchyard_console::model::TimeRange;
use switchyard_console::model::saga::{
    self, AttemptStatus, CompensationStatus, Outcome, Phase, SagaOrder, SagaSearch, StepStatus,
};
use switchyard_store::Reader;
use switchyard_testkit::saga::Saga;

/// A fixed time (2026-05-28), so `--json` output is the same every run.
const T0: u64 = 1_780_000_000_000_000_000;
const MS: u64 = 1_000_000;

fn trace_id(n: u8) -> Vec<u8> {
    vec![n; 16]
}

/// Completed on the second attempt at charging the card.
fn retried(start: u64) -> Saga {
    let mut s = Saga::new("checkout", "order-1", trace_id(1), start);
    s.forward("reserve-stock", 0, 1, 5 * MS, None)
        .forward("charge-card", 1, 1, 20 * MS, Some("gateway timeout"))
        .forward("charge-card", 1, 2, 8 * MS, None)
        .forward("ship", 2, 1, 3 * MS, None);
    s
}

/// Charging failed twice; the stock reservation was undone.
fn compensated(start: u64) -> Saga {
    let mut s = Saga::new("checkout", "order-2", trace_id(2), start);
    s.forward("reserve-stock", 0, 1, 4 * MS, None)
        .forward("charge-card", 1, 1, 9 * MS, Some("declined"))
        .forward("charge-card", 1, 2, 9 * MS, Some("card declined"))
        .compensate("reserve-stock", 0, 1, 2 * MS, None);
    s
}

/// Charging failed and so did undoing the reservation: stuck.
fn stuck(start: u64) -> Saga {
    let mut s = Saga::new("checkout", "order-3", trace_id(3), start);
    s.forward("reserve-stock", 0, 1, 4 * MS, None)
        .forward("charge-card", 1, 1, 9 * MS, Some("declined"))
        .compensate("reserve-stock", 0, 1, 2 * MS, Some("stock service down"));
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sagas_converge_whatever_order_their_spans_arrive_in() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    let serve = serve(&db);
    let mut otlp = Otlp::connect(&serve).await;

    // One request for a whole saga.
    let mut a = retried(T0);
    let mut spans = a.steps.clone();
    spans.push(a.root("completed", None));
    otlp.spans("orders", spans).await;

    // Across three requests in reverse: root first, then the compensation,
    // then the forward steps.
    let mut b = compensated(T0 + 1_000 * MS);
    let root_b = b.root("compensated", Some("charge-card failed"));
    otlp.spans("orders", vec![root_b]).await;
    otlp.spans("orders", vec![b.steps[3].clone()]).await;
    otlp.spans("orders", b.steps[..3].to_vec()).await;

    let mut c = stuck(T0 + 2_000 * MS);
    let mut spans = c.steps.clone();
    spans.push(c.root("failed", Some("compensation of reserve-stock failed")));
    otlp.spans("orders", spans).await;

    // A choreography: participants only, no root.
    let mut d = Saga::new("fulfilment", "parcel-9", trace_id(4), T0 + 3_000 * MS);
    d.participant("pack", 30 * MS, None)
        .participant("label", 5 * MS, Some("printer jammed"));
    otlp.spans("warehouse", d.steps.clone()).await;

    let reader = Reader::open(&db).await.unwrap();
    let all = saga::search(&reader, &SagaSearch::default()).await.unwrap();
    let ids: Vec<&str> = all.iter().map(|i| i.saga_id.as_str()).collect();
    assert_eq!(
        ids,
        ["parcel-9", "order-3", "order-2", "order-1"],
        "newest first"
    );

    let one = |id: &str| all.iter().find(|i| i.saga_id == id).unwrap().clone();
    let a1 = one("order-1");
    assert_eq!(a1.outcome, Outcome::Completed);
    assert!(!a1.failed, "a retried step that succeeded is no failure");
    assert_eq!((a1.failed_step, a1.steps, a1.attempts), (None, 3, 4));
    assert_eq!(a1.trace_id, "01".repeat(16));
    assert_eq!(a1.start_unix_nano, T0 as i64);

    let b1 = one("order-2");
    assert_eq!(b1.outcome, Outcome::Compensated);
    assert_eq!(b1.failed_step.as_deref(), Some("charge-card"));
    assert_eq!(b1.failed_step_index, Some(1));
    assert_eq!(
        b1.error.as_deref(),
        Some("card declined"),
        "the last attempt's error"
    );
    assert_eq!(b1.compensations, 1);

    let c1 = one("order-3");
    assert_eq!(c1.outcome, Outcome::Failed);
    assert_eq!(c1.failed_step.as_deref(), Some("charge-card"));

    let d1 = one("parcel-9");
    assert_eq!(
        d1.outcome,
        Outcome::Unknown,
        "no root: nobody said how it ended"
    );
    assert_eq!(d1.failed_step.as_deref(), Some("label"));
    assert_eq!(d1.error.as_deref(), Some("printer jammed"));

    // Filters: failed only, by name, by time range; failed first.
    let failed = saga::search(
        &reader,
        &SagaSearch {
            failed_only: true,
            saga_name: Some("checkout".into()),
            ..SagaSearch::default()
        },
    )
    .await
    .unwrap();
    let ids: Vec<&str> = failed.iter().map(|i| i.saga_id.as_str()).collect();
    assert_eq!(ids, ["order-3", "order-2"]);
    let ranged = saga::search(
        &reader,
        &SagaSearch {
            range: Some(TimeRange::new((T0 + 500 * MS) as i64, (T0 + 2_500 * MS) as i64).unwrap()),
            ..SagaSearch::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(ranged.len(), 2);
    let failed_first = saga::search(
        &reader,
        &SagaSearch {
            order: SagaOrder::FailedFirst,
            limit: 3,
            ..SagaSearch::default()
        },
    )
    .await
    .unwrap();
    let ids: Vec<&str> = failed_first.iter().map(|i| i.saga_id.as_str()).collect();
    assert_eq!(ids, ["parcel-9", "order-3", "order-2"]);

    // The flow of the compensated one, assembled from three requests.
    let flow = saga::flow(&reader, "order-2").await.unwrap();
    let steps: Vec<(&str, StepStatus, CompensationStatus, usize)> = flow
        .steps
        .iter()
        .map(|s| (s.name.as_str(), s.status, s.compensation, s.forward.len()))
        .collect();
    assert_eq!(
        steps,
        [
            (
                "reserve-stock",
                StepStatus::Passed,
                CompensationStatus::Compensated,
                1
            ),
            (
                "charge-card",
                StepStatus::Failed,
                CompensationStatus::None,
                2
            ),
        ]
    );
    let timeline: Vec<(&str, Phase, Option<i64>, AttemptStatus)> = flow
        .timeline
        .iter()
        .map(|a| (a.step.as_str(), a.phase, a.attempt, a.status))
        .collect();
    assert_eq!(
        timeline,
        [
            ("reserve-stock", Phase::Forward, Some(1), AttemptStatus::Ok),
            ("charge-card", Phase::Forward, Some(1), AttemptStatus::Error),
            ("charge-card", Phase::Forward, Some(2), AttemptStatus::Error),
            (
                "reserve-stock",
                Phase::Compensate,
                Some(1),
                AttemptStatus::Ok
            ),
        ]
    );
    assert_eq!(flow.timeline[1].duration_ns, (9 * MS) as i64);
    assert_eq!(flow.runs.len(), 1);
    assert!(flow.timeline.iter().all(|a| a.trace_id == "02".repeat(16)));

    // Every charge attempt re-sent (an exporter's retry): nothing counts twice.
    otlp.spans("orders", b.steps.clone()).await;
    let again = saga::flow(&reader, "order-2").await.unwrap();
    assert_eq!(again, flow);

    // The aggregate flow of checkout.
    let agg = saga::aggregate_flow(&reader, "checkout", TimeRange::ALL)
        .await
        .unwrap();
    assert_eq!(agg.instances, 3);
    assert_eq!(agg.outcomes["compensated"], 1);
    let charge = agg.steps.iter().find(|s| s.name == "charge-card").unwrap();
    assert_eq!((charge.reached, charge.passed, charge.failed), (3, 1, 2));
    let reserve = &agg.steps[0];
    assert_eq!(reserve.name, "reserve-stock");
    assert_eq!(
        (
            reserve.passed,
            reserve.compensated,
            reserve.compensation_failed
        ),
        (3, 1, 1)
    );
    // The same from the per-instance rows alone (a range inside one hour
    // skips the hourly rollup, which every re-sent and late span updated).
    let inside_an_hour = TimeRange::new(T0 as i64, (T0 + 3_000 * MS) as i64).unwrap();
    assert_ne!(T0 as i64 % 3_600_000_000_000, 0, "T0 is not on an hour");
    let raw = saga::aggregate_flow(&reader, "checkout", inside_an_hour)
        .await
        .unwrap();
    assert_eq!(
        (raw.steps.clone(), raw.outcomes.clone()),
        (agg.steps.clone(), agg.outcomes.clone())
    );
    let p50 = reserve.p50_ns.unwrap();
    assert!((p50 - (4 * MS) as i64).abs() < (MS / 5) as i64, "{p50}");

    // serve drains open connections before it exits; a runtime thread closes
    // this one while `stop` blocks the test's.
    drop(otlp);
    serve.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_saga_becomes_complete_when_its_root_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    let serve = serve(&db);
    let mut otlp = Otlp::connect(&serve).await;
    let reader_db = db.clone();

    let mut s = retried(T0);
    otlp.spans("orders", s.steps[..2].to_vec()).await;
    let reader = Reader::open(&reader_db).await.unwrap();
    let early = saga::flow(&reader, "order-1").await.unwrap().instance;
    assert_eq!(early.outcome, Outcome::Unknown);
    assert_eq!(early.failed_step.as_deref(), Some("charge-card"), "so far");

    otlp.spans("orders", s.steps[2..].to_vec()).await;
    let root = s.root("completed", None);
    otlp.spans("orders", vec![root]).await;
    let done = saga::flow(&reader, "order-1").await.unwrap().instance;
    assert_eq!(done.outcome, Outcome::Completed);
    assert_eq!(done.failed_step, None, "the retry succeeded");
    assert!(!done.failed);
    // serve drains open connections before it exits; a runtime thread closes
    // this one while `stop` blocks the test's.
    drop(otlp);
    serve.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_prints_sagas_and_a_flow_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    let serve = serve(&db);
    let mut otlp = Otlp::connect(&serve).await;
    for mut s in [retried(T0), compensated(T0 + 1_000 * MS)] {
        let mut spans = s.steps.clone();
        let failed = s.id == "order-2";
        spans.push(s.root(
            if failed { "compensated" } else { "completed" },
            failed.then_some("charge-card failed"),
        ));
        otlp.spans("orders", spans).await;
    }
    // serve drains open connections before it exits; a runtime thread closes
    // this one while `stop` blocks the test's.
    drop(otlp);
    serve.stop();
    let db = path_str(&db);

    let sagas = json(&["sagas", "--db", db]);
    insta::assert_json_snapshot!("sagas_json", sagas);
    for instance in sagas.as_array().unwrap() {
        for key in [
            "saga_id",
            "saga_name",
            "outcome",
            "failed_step",
            "error",
            "trace_id",
            "start_unix_nano",
            "duration_ns",
        ] {
            assert!(instance.get(key).is_some(), "{key} missing from {instance}");
        }
    }
    let failed = json(&["sagas", "--failed", "--name", "checkout", "--db", db]);
    assert_eq!(failed.as_array().unwrap().len(), 1);
    assert_eq!(failed[0]["failed_step"], "charge-card");
    let none = json(&["sagas", "--name", "refund", "--db", db]);
    assert_eq!(none, serde_json::json!([]));

    let flow = json(&["saga", "order-2", "--db", db]);
    insta::assert_json_snapshot!("saga_flow_json", flow);
    let text = support::stdout(&["saga", "order-2", "--db", db]);
    assert!(
        text.contains("failed at charge-card: card declined"),
        "{text}"
    );
    let missing = support::switchyard(&["saga", "nope", "--db", db]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no saga \"nope\""));
}

#[test]
fn imported_sagas_are_summarized_like_received_ones() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    // Two requests as Collector file-exporter lines: the root first, its steps after.
    let mut s = compensated(T0);
    let root = switchyard_testkit::traces_request("orders", vec![s.root("compensated", None)]);
    let steps = switchyard_testkit::traces_request("orders", s.steps.clone());
    let file = dir.path().join("sagas.jsonl");
    let lines = [root, steps].map(|r| serde_json::to_string(&r).unwrap());
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    support::stdout(&["import", path_str(&file), "--db", path_str(&db)]);

    let sagas = json(&["sagas", "--db", path_str(&db)]);
    assert_eq!(sagas.as_array().unwrap().len(), 1);
    assert_eq!(sagas[0]["saga_id"], "order-2");
    assert_eq!(sagas[0]["outcome"], "compensated");
    assert_eq!(sagas[0]["failed_step"], "charge-card");
    assert_eq!(sagas[0]["compensations"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_to_sagas_annotate_their_outcome_chart() {
    use switchyard_console::plot::TimeRange as ChartRange;
    use switchyard_console::plot::from_store;
    use switchyard_store::records::{CommandRecord, Outcome as CommandOutcome, Records};

    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    let serve = serve(&db);
    let mut otlp = Otlp::connect(&serve).await;
    let mut s = compensated(T0);
    let mut spans = s.steps.clone();
    spans.push(s.root("compensated", Some("card declined")));
    otlp.spans("orders", spans).await;

    let records = Records::open(&db).await.unwrap();
    let at_unix_ms = (T0 / MS) as i64 + 60_000;
    for (action, target) in [
        ("retry_saga", "order-2"),
        ("retry_saga", "order-9"),
        ("trip", "payments"),
    ] {
        let command = CommandRecord {
            id: 0,
            at_unix_ms,
            cluster: "shop".into(),
            agent: Some("a".into()),
            who: "carol".into(),
            action: action.into(),
            target: target.into(),
            reason: "test".into(),
            args: None,
            outcome: CommandOutcome::Ok,
            error: None,
            result: None,
            verdict: None,
            verdict_at_unix_ms: None,
            verdict_detail: None,
        };
        records.add_command(&command).await.unwrap();
    }
    let reader = Reader::open(&db).await.unwrap();
    let range = ChartRange::new(
        T0 as i64 - 60_000 * MS as i64,
        T0 as i64 + 3_600_000 * MS as i64,
    );
    let chart = from_store::saga_outcomes(
        &reader,
        Some(&records),
        Some("checkout"),
        range,
        300_000 * MS as i64,
    )
    .await
    .unwrap();
    let labels: Vec<&str> = chart.annotations.iter().map(|a| a.label.as_str()).collect();
    // The retry of this saga; not another saga's, not a breaker's.
    assert_eq!(labels, ["retry_saga by carol"]);
    records.close().await;
    drop(otlp);
    serve.stop();
}
