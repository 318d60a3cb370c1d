//! `switchyard-agent run` as a process: the sidecar listener of its gateway file, and
//! live reload of its own file.

mod support;

use std::path::{Path, PathBuf};

use support::process::AgentProcess;
use support::upstream;
use switchyard_control_api::ControlClient;

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
