//! A game day through a real `switchyard-agent demo` process: RunExperiment injects a
//! fault on payments over the control API, expects the payments breaker to open, and
//! the agent reports that the reaction came (then reverts the fault).

mod support;

use support::process::AgentProcess;
use switchyard_control_api::ControlClient;
use switchyard_control_api::proto::{self, expectation::Kind};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payments_fault_opens_its_breaker_as_expected() {
    // Telemetry goes nowhere (a closed port): the agent serves on regardless.
    let agent = AgentProcess::start(&[
        "demo",
        "--rate",
        "20",
        "--otlp",
        "http://127.0.0.1:9",
        "--control",
        "127.0.0.1:0",
        "--no-outage",
    ])
    .await;
    let client = ControlClient::connect(
        &format!("http://{}", agent.field("control")),
        agent.field("token"),
        None,
    )
    .await
    .expect("connect");
    let inventory = client.inventory().await.expect("inventory");
    assert!(inventory.faults.expect("fault settings").enabled);
    let payments = inventory
        .breakers
        .iter()
        .find(|b| b.name.starts_with("upstream.payments."))
        .expect("the gateway's payments breaker")
        .name
        .clone();

    let result = client
        .run_experiment(proto::RunExperimentRequest {
            reason: "game day: does payments trip?".to_owned(),
            fault: Some(proto::Fault {
                service: "payments".to_owned(),
                error_rate: 1.0,
                added_latency_ms: 0,
            }),
            expectation: Some(proto::Expectation {
                kind: Some(Kind::Breaker(proto::BreakerExpectation {
                    name: payments.clone(),
                    state: "open".to_owned(),
                })),
                within_seconds: 60,
            }),
        })
        .await
        .expect("the experiment runs");
    assert!(result.met, "{result:?}");
    assert!(result.observed_after_ms.is_some(), "{result:?}");
    assert!(
        result.observed.contains(&payments) && result.observed.contains("open"),
        "{result:?}"
    );
    assert_eq!(
        result.expectation,
        format!("breaker {payments} reaches open within 60 s")
    );

    // The fault is gone again, and the experiment is on the record.
    let faults = client
        .inventory()
        .await
        .expect("inventory")
        .faults
        .expect("fault settings")
        .faults;
    assert!(
        faults
            .iter()
            .filter(|f| f.service == "payments")
            .all(|f| f.error_rate == 0.0),
        "{faults:?}"
    );
    let audit = client.audit(0).await.expect("audit");
    let entry = audit
        .iter()
        .find(|e| e.command == "RunExperiment")
        .expect("audited");
    assert_eq!(
        (
            entry.caller.as_str(),
            entry.target.as_str(),
            entry.outcome.as_str()
        ),
        ("operator", "payments", "ok")
    );
    assert!(agent.stop().await.success());
}
