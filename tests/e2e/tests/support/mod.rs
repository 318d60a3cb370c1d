//! The two programs as processes: where they are, and the demo started and stopped.
#![allow(dead_code)] // each test file uses a different part

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// `target/debug` (or wherever this test binary was built), where the two programs are.
pub(crate) fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps")
        .to_path_buf()
}

/// The programs are built by the workspace's test build (`cargo xtask test`, or
/// `cargo nextest run --workspace`); say so plainly when they are not there.
pub(crate) fn require_programs() {
    for program in ["switchyard", "switchyard-agent"] {
        let path = bin_dir().join(program);
        assert!(
            path.is_file(),
            "{} is missing: run the workspace's tests (cargo xtask test), or cargo build first",
            path.display()
        );
    }
}

/// A running `switchyard-agent demo`, killed on drop.
pub(crate) struct Demo {
    pub(crate) child: Child,
    pub(crate) control: String,
    pub(crate) token: String,
}

impl Demo {
    /// `http://` + the control API's address.
    pub(crate) fn endpoint(&self) -> String {
        format!("http://{}", self.control)
    }

    /// Kills the demo at once (SIGKILL: no goodbye to its clients).
    pub(crate) fn kill(&mut self) {
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts the demo exporting to `otlp`, with `extra` arguments (e.g. `--control`,
/// `--token`), and reads its ready line.
pub(crate) fn start_demo(otlp: &str, extra: &[&str]) -> Demo {
    let mut child = Command::new(bin_dir().join("switchyard-agent"))
        .args(["demo", "--rate", "20", "--otlp", otlp])
        .args(if extra.contains(&"--control") {
            &[][..]
        } else {
            &["--control", "127.0.0.1:0"][..]
        })
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("switchyard-agent demo starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped stdout"))
        .read_line(&mut line)
        .expect("the demo prints where it listens");
    let field = |key: &str| {
        line.split_whitespace()
            .find_map(|word| word.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key} in {line:?}"))
            .to_owned()
    };
    Demo {
        control: field("control="),
        token: field("token="),
        child,
    }
}

/// Runs `switchyard` with `args`, its clusters file at `clusters`.
pub(crate) fn switchyard(clusters: &Path, args: &[&str]) -> Output {
    Command::new(bin_dir().join("switchyard"))
        .args(args)
        .env("SWITCHYARD_CLUSTERS", clusters)
        .env_remove("SWITCHYARD_TOKEN")
        .output()
        .expect("switchyard runs")
}

/// A free TCP port on loopback (for a demo that must come back on the same address).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A running `switchyard ui`, killed on drop unless stopped.
pub(crate) struct Ui {
    pub(crate) child: Child,
    /// `http://ADDR` as the ready line says (`0.0.0.0` when listening everywhere).
    pub(crate) url: String,
    pub(crate) otlp_grpc: String,
    pub(crate) otlp_http: String,
}

impl Ui {
    /// `http://127.0.0.1:PORT` + `path`: the API on loopback whatever the listen address.
    pub(crate) fn api(&self, path: &str) -> String {
        let port = self.url.rsplit(':').next().expect("a port");
        format!("http://127.0.0.1:{port}{path}")
    }

    /// SIGTERM, then the exit status.
    pub(crate) fn stop(mut self) -> std::process::ExitStatus {
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM);
        self.child.wait().expect("ui exits")
    }
}

impl Drop for Ui {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `switchyard ui` on `db` with its clusters file at `clusters`, OTLP on ephemeral
/// loopback ports, with `extra` arguments; waits for its ready line.
pub(crate) fn start_ui(clusters: &Path, db: &Path, extra: &[&str]) -> Ui {
    let mut child = ui_command(clusters, db, extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("switchyard ui starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped stdout"))
        .read_line(&mut line)
        .expect("ui prints where it listens");
    let field = |key: &str| {
        line.split_whitespace()
            .find_map(|word| word.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key} in {line:?}"))
            .to_owned()
    };
    Ui {
        url: field("ui="),
        otlp_grpc: format!("http://{}", field("otlp-grpc=")),
        otlp_http: format!("http://{}", field("otlp-http=")),
        child,
    }
}

/// The `switchyard ui` command line, not started.
pub(crate) fn ui_command(clusters: &Path, db: &Path, extra: &[&str]) -> Command {
    let mut command = Command::new(bin_dir().join("switchyard"));
    command
        .args([
            "ui",
            "--otlp-grpc",
            "127.0.0.1:0",
            "--otlp-http",
            "127.0.0.1:0",
        ])
        .arg("--db")
        .arg(db)
        .args(if extra.contains(&"--listen") {
            &[][..]
        } else {
            &["--listen", "127.0.0.1:0"][..]
        })
        .args(extra)
        .env("SWITCHYARD_CLUSTERS", clusters)
        .env_remove("SWITCHYARD_UI_TOKEN");
    command
}

/// Polls `check` every 500 ms for up to `limit`; waits for the programs without timing
/// them.
pub(crate) async fn eventually<T>(
    limit: Duration,
    what: &str,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
