//! Running the real `switchyard` binary: `serve` as a child process, the
//! other commands to completion.

#![allow(dead_code)] // each test binary uses a different part of the support module

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

pub(crate) mod otlp;

pub(crate) use switchyard_testkit::ServeProcess;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_switchyard");

/// `switchyard serve` on `db`, on ephemeral loopback ports.
#[track_caller]
pub(crate) fn serve(db: &Path) -> ServeProcess {
    ServeProcess::spawn(Path::new(BIN), db, &[])
}

/// Runs `switchyard ARGS` to completion.
pub(crate) fn switchyard(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("SWITCHYARD_DB")
        .output()
        .expect("switchyard runs")
}

/// Runs `switchyard ARGS`, expecting success, and returns its stdout.
#[track_caller]
pub(crate) fn stdout(args: &[&str]) -> String {
    let output = switchyard(args);
    assert!(
        output.status.success(),
        "switchyard {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// Runs `switchyard ARGS --json`, expecting success, and parses stdout.
#[track_caller]
pub(crate) fn json(args: &[&str]) -> serde_json::Value {
    let mut args = args.to_vec();
    args.push("--json");
    serde_json::from_str(&stdout(&args)).expect("JSON output")
}

pub(crate) fn path_str(path: &Path) -> &str {
    path.to_str().expect("UTF-8 temp path")
}

pub(crate) fn db_in(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("telemetry.db")
}

/// Polls `check` until it holds or `timeout` passes.
pub(crate) async fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
