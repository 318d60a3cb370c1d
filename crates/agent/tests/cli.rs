//! The binary: `run --config` prints its ready line, answers over the control API with
//! the configured token, and stops on SIGTERM; a bad file is refused with its line.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use switchyard_control_api::ControlClient;

const TOKEN: &str = "cli-test-token";
const BIN: &str = env!("CARGO_BIN_EXE_switchyard-agent");

fn write_config(dir: &Path, body: &str) -> std::path::PathBuf {
    let path = dir.join("agent.toml");
    std::fs::write(&path, body).expect("write config");
    path
}

/// Kills the child if the test fails before it is stopped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_serves_the_control_api_until_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("gateway.toml"),
        "listeners = [\"127.0.0.1:0\"]\n",
    )
    .expect("gateway file");
    let config = write_config(
        dir.path(),
        &format!(
            r#"
id = "cli-agent"
[control]
listen = "127.0.0.1:0"
tokens = [{{ name = "console", token = "{TOKEN}" }}]
audit_file = "audit.jsonl"
[telemetry]
enabled = false
[gateway]
file = "gateway.toml"
"#
        ),
    );
    let child = Command::new(BIN)
        .args(["run", "--config"])
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the agent");
    let mut guard = Guard(child);
    let stdout = guard.0.stdout.take().expect("stdout");
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    });
    let line = tokio::time::timeout(Duration::from_secs(30), line)
        .await
        .expect("ready in time")
        .expect("reader")
        .expect("a line");
    let fields: Vec<(&str, &str)> = line
        .split_whitespace()
        .filter_map(|f| f.split_once('='))
        .collect();
    assert_eq!(fields.len(), 2, "{line}");
    let (control, gateway) = (fields[0], fields[1]);
    assert_eq!(control.0, "control");
    assert_eq!(gateway.0, "gateway");
    assert!(gateway.1.starts_with("127.0.0.1:"), "{line}");

    let client = ControlClient::connect(&format!("http://{}", control.1), TOKEN, None)
        .await
        .expect("connect");
    let identity = client.identity().await.expect("identity");
    assert_eq!(identity.agent_id, "cli-agent");
    assert_eq!(identity.version, env!("CARGO_PKG_VERSION"));
    let wrong = ControlClient::connect(&format!("http://{}", control.1), "nope", None)
        .await
        .expect("connect");
    assert!(wrong.identity().await.is_err());
    // The saga log went next to the config by default.
    assert!(dir.path().join("sagas.db").exists());

    let pid = Pid::from_raw(i32::try_from(guard.0.id()).expect("pid"));
    kill(pid, Signal::SIGTERM).expect("SIGTERM");
    let status = tokio::task::spawn_blocking(move || {
        let status = guard.0.wait();
        std::mem::forget(guard);
        status
    });
    let status = tokio::time::timeout(Duration::from_secs(20), status)
        .await
        .expect("exits in time")
        .expect("join")
        .expect("wait");
    assert!(status.success(), "{status:?}");
}

#[test]
fn a_bad_config_is_refused_with_its_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(
        dir.path(),
        "id = \"x\"\n\n[control]\nlisten = \"127.0.0.1:0\"\ntokens = []\n",
    );
    let output = Command::new(BIN)
        .args(["run", "--config"])
        .arg(&config)
        .output()
        .expect("run the agent");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("agent.toml:5: control.tokens: at least one token is required"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty(), "no ready line");
}

#[test]
fn a_bad_gateway_file_is_refused_with_its_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("gateway.toml"),
        "listeners = [\"127.0.0.1:0\"]\n[[route]]\nname = \"r\"\ncluster = \"nope\"\n",
    )
    .expect("gateway file");
    let config = write_config(
        dir.path(),
        "id = \"x\"\n[control]\nlisten = \"127.0.0.1:0\"\ntokens = [{ name = \"c\", token = \"t\" }]\n[telemetry]\nenabled = false\n[gateway]\nfile = \"gateway.toml\"\n",
    );
    let output = Command::new(BIN)
        .args(["run", "--config"])
        .arg(&config)
        .output()
        .expect("run the agent");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("gateway.toml:line 4"), "{stderr}");
}
