//! The product's two programs together, as processes: `switchyard-agent demo` exports
//! its telemetry to a running `switchyard serve`, and the console's store then shows
//! completed and compensated sagas (and the saga model their failing steps) and breaker
//! states under the conventions' names; the demo's control API answers with the token it
//! printed.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{bin_dir, require_programs, start_demo};
use switchyard_control_api::ControlClient;
use switchyard_testkit::ServeProcess;

/// Trace summaries the console's CLI finds with `args`.
fn traces(db: &Path, args: &[&str]) -> Vec<Value> {
    let output = Command::new(bin_dir().join("switchyard"))
        .args(["traces", "--json", "--service", "switchyard-demo"])
        .args(args)
        .arg("--db")
        .arg(db)
        .output()
        .expect("switchyard traces runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice::<Value>(&output.stdout)
        .expect("JSON")
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// `switchyard ARGS --json --db DB`, parsed.
fn switchyard_json(db: &Path, args: &[&str]) -> Value {
    let output = Command::new(bin_dir().join("switchyard"))
        .args(args)
        .arg("--json")
        .arg("--db")
        .arg(db)
        .output()
        .expect("switchyard runs");
    assert!(
        output.status.success(),
        "switchyard {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_telemetry_arrives_in_the_console_with_the_conventions() {
    require_programs();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("telemetry.db");
    let console = ServeProcess::spawn(&bin_dir().join("switchyard"), &db, &[]);
    let demo = start_demo(&console.grpc_url(), &[]);

    // Sagas end both ways within the demo's first minute (some cards are declined).
    let deadline = Instant::now() + Duration::from_secs(90);
    let (mut completed, mut compensated) = (Vec::new(), Vec::new());
    while Instant::now() < deadline && (completed.is_empty() || compensated.is_empty()) {
        tokio::time::sleep(Duration::from_secs(2)).await;
        completed = traces(&db, &["--attr", "saga.outcome=completed"]);
        compensated = traces(&db, &["--attr", "saga.outcome=compensated"]);
    }
    assert!(
        !completed.is_empty(),
        "no completed saga reached the console"
    );
    assert!(
        !compensated.is_empty(),
        "no compensated saga reached the console"
    );
    for trace in completed.iter().chain(&compensated) {
        assert_eq!(trace["root_name"], "saga checkout");
    }
    assert!(
        compensated.iter().all(|t| t["error"] == true),
        "a compensated saga's trace shows its failed step"
    );

    // The saga model lists the failed instances with their failing step, and each
    // one's flow shows that step failing and the steps before it undone.
    let failed = switchyard_json(&db, &["sagas", "--failed", "--name", "checkout"]);
    let failed = failed.as_array().expect("an array of instances");
    assert!(
        failed.iter().any(|i| i["outcome"] == "compensated"),
        "no compensated saga in `switchyard sagas --failed`: {failed:?}"
    );
    for instance in failed.iter().filter(|i| i["outcome"] == "compensated") {
        let step = instance["failed_step"].as_str().expect("a failed step");
        assert!(
            ["reserve-stock", "charge-card", "create-shipment"].contains(&step),
            "{instance}"
        );
        let flow = switchyard_json(&db, &["saga", instance["saga_id"].as_str().unwrap()]);
        let steps = flow["steps"].as_array().unwrap();
        let at = steps.iter().position(|s| s["name"] == step).unwrap();
        assert_eq!(steps[at]["status"], "failed", "{flow}");
        for before in &steps[..at] {
            assert_eq!(before["status"], "passed", "{flow}");
            assert_eq!(before["compensation"], "compensated", "{flow}");
        }
    }

    // The step spans carry the conventions' attributes.
    let steps = traces(&db, &["--attr", "saga.step.phase=compensate"]);
    assert!(
        !steps.is_empty(),
        "compensation spans are searchable by saga.step.phase"
    );

    // Breaker states arrive as the breaker.state gauge, by breaker name (metrics are
    // exported every few seconds, so wait for them too).
    let mut metrics = String::new();
    while Instant::now() < deadline && !metrics.contains("upstream.payments.") {
        let output = Command::new(bin_dir().join("switchyard"))
            .args([
                "metrics",
                "breaker.state",
                "--since",
                "10m",
                "--json",
                "--db",
            ])
            .arg(&db)
            .output()
            .expect("switchyard metrics runs");
        metrics = String::from_utf8_lossy(&output.stdout).into_owned();
        if !metrics.contains("upstream.payments.") {
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
    assert!(
        metrics.contains("upstream.payments."),
        "no breaker.state of the payments upstream: {metrics}"
    );

    // The control API answers with the printed token, and not without it.
    let client = ControlClient::connect(&format!("http://{}", demo.control), &demo.token, None)
        .await
        .expect("the control API accepts the demo's token");
    let identity = client.identity().await.expect("identity");
    assert_eq!(identity.agent_id, "demo");
    let stranger =
        ControlClient::connect(&format!("http://{}", demo.control), "not-the-token", None).await;
    let refused = match stranger {
        Ok(stranger) => stranger.identity().await.is_err(),
        Err(_) => true,
    };
    assert!(refused, "a wrong token is refused");
}
