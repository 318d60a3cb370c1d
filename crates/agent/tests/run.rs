//! `switchyard-agent run` as a process: the sidecar listener of its gateway file, and
//! live reload of its own file (tokens, the faults switch, saga definitions).

mod support;

use std::path::{Path, PathBuf};

use futures::StreamExt as _;
use support::process::AgentProcess;
use support::{eventually, upstream};
use switchyard_control_api::ControlClient;
use tonic::Code;

const TOKEN: &str = "run-test-token";

fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, body).expect("write file");
    path
}

fn agent_toml(tokens: &str, extra: &str) -> String {
    format!(
        r#"id = "run-agent"
[control]
listen = "127.0.0.1:0"
tokens = [{tokens}]
[telemetry]
enabled = false
{extra}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_serves_the_gateway_files_sidecar() {
    let (payments, outside) = (upstream("payments").await, upstream("outside").await);
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "gateway.toml",
        &format!(
            r#"listeners = []

[[cluster]]
name = "payments"
instances = ["{payments}"]

[sidecar]
listen = "127.0.0.1:0"
service = "checkout"

[[sidecar.destination]]
host = "payments.internal"
cluster = "payments"
"#
        ),
    );
    let config = write(
        dir.path(),
        "agent.toml",
        &agent_toml(
            &format!(r#"{{ name = "console", token = "{TOKEN}" }}"#),
            "[gateway]\nfile = \"gateway.toml\"\n",
        ),
    );
    let agent = AgentProcess::run(&config).await;
    assert_eq!(agent.field("gateway"), "-", "no ingress listener");
    let sidecar = agent.field("sidecar").to_owned();

    // The service's client, with the sidecar as its HTTP proxy.
    let http = reqwest::Client::builder()
        .proxy(reqwest::Proxy::http(format!("http://{sidecar}")).expect("proxy"))
        .build()
        .expect("client");
    let answer = http
        .get("http://payments.internal/charge")
        .send()
        .await
        .expect("through the sidecar");
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().await.expect("body"), "payments");
    let answer = http
        .get(format!("http://{outside}/"))
        .send()
        .await
        .expect("passed through");
    assert_eq!(answer.text().await.expect("body"), "outside");

    // Both kinds of breaker are the agent's, for the console to see and drive.
    let client = ControlClient::connect(&format!("http://{}", agent.field("control")), TOKEN, None)
        .await
        .expect("connect");
    let breakers: Vec<String> = client
        .inventory()
        .await
        .expect("inventory")
        .breakers
        .into_iter()
        .map(|b| b.name)
        .collect();
    for name in [
        format!("upstream.payments.{payments}"),
        format!("egress.{outside}"),
    ] {
        assert!(breakers.contains(&name), "{name} in {breakers:?}");
    }
    let tripped = client
        .trip_breaker(&format!("egress.{outside}"), "game day", None)
        .await
        .expect("trip");
    assert_eq!(tripped.state, "forced_open");
    let refused = http
        .get(format!("http://{outside}/"))
        .send()
        .await
        .expect("answered");
    assert_eq!(refused.status(), 503);
    assert!(agent.stop().await.success());
}

const REFUND: &str = r#"
[[saga]]
name = "refund"

[[saga.step]]
name = "pay-back"
compensation = "none"

[saga.step.action]
method = "POST"
url = "http://127.0.0.1:9/refunds"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reloaded_agent_file_rotates_tokens_switches_faults_and_adds_sagas() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write(
        dir.path(),
        "agent.toml",
        &agent_toml(r#"{ name = "console", token = "old-token" }"#, ""),
    );
    let agent = AgentProcess::run(&config).await;
    let endpoint = format!("http://{}", agent.field("control"));
    let old = ControlClient::connect(&endpoint, "old-token", None)
        .await
        .expect("connect");
    let inventory = old.inventory().await.expect("the old token works");
    assert!(!inventory.faults.expect("fault settings").enabled);
    assert!(inventory.saga_definitions.is_empty());
    let mut watching = Box::pin(old.watch().await.expect("watch"));
    watching.next().await.expect("snapshot").expect("snapshot");

    // Rotate the token, turn faults on, add a saga definition file: all live.
    write(dir.path(), "refund.toml", REFUND);
    write(
        dir.path(),
        "agent.toml",
        &agent_toml(
            r#"{ name = "console-2", token = "new-token" }"#,
            "[faults]\nenabled = true\n[sagas]\ndefinitions = [\"refund.toml\"]\n",
        ),
    );
    let new = ControlClient::connect(&endpoint, "new-token", None)
        .await
        .expect("connect");
    let inventory = eventually("the new token is accepted", || async {
        new.inventory().await.ok()
    })
    .await;
    let err = old.identity().await.expect_err("the removed token");
    assert_eq!(err.code(), Some(Code::Unauthenticated), "{err}");
    let ended = loop {
        match watching.next().await {
            Some(Ok(_)) => continue,
            other => break other,
        }
    };
    assert!(
        matches!(&ended, Some(Err(e)) if e.code() == Some(Code::Unauthenticated)),
        "the old token's stream ends: {ended:?}"
    );
    // The whole file was applied at once.
    assert!(inventory.faults.expect("fault settings").enabled);
    let names: Vec<&str> = inventory
        .saga_definitions
        .iter()
        .map(|d| d.name.as_str())
        .collect();
    assert_eq!(names, ["refund"]);
    let audit = new.audit(0).await.expect("audit");
    assert!(
        audit
            .iter()
            .any(|e| e.caller == "unknown" && e.outcome == "unauthenticated")
    );

    // And off again.
    write(
        dir.path(),
        "agent.toml",
        &agent_toml(
            r#"{ name = "console-2", token = "new-token" }"#,
            "[sagas]\ndefinitions = [\"refund.toml\"]\n",
        ),
    );
    eventually("faults switched off", || async {
        let inventory = new.inventory().await.ok()?;
        (!inventory.faults?.enabled).then_some(())
    })
    .await;
    assert!(agent.stop().await.success());
}
