//! The agent binary as a child process: started (`run` with a config file, or `demo`),
//! its ready line read, stopped with SIGTERM (killed if a test fails first).

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const BIN: &str = env!("CARGO_BIN_EXE_switchyard-agent");

/// A running `switchyard-agent run`.
pub(crate) struct AgentProcess {
    child: Option<Child>,
    /// The ready line's `key=value` fields (`control`, `gateway`, `sidecar`, ...).
    pub(crate) ready: HashMap<String, String>,
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl AgentProcess {
    /// Runs the agent on `config` and waits for its ready line.
    pub(crate) async fn run(config: &Path) -> AgentProcess {
        let config = config.to_str().expect("a UTF-8 path");
        AgentProcess::start(&["run", "--config", config]).await
    }

    /// Runs `switchyard-agent` with `args` and waits for its ready line.
    pub(crate) async fn start(args: &[&str]) -> AgentProcess {
        let mut child = Command::new(BIN)
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the agent");
        let stdout = child.stdout.take().expect("stdout");
        let mut process = AgentProcess {
            child: Some(child),
            ready: HashMap::new(),
        };
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).map(|_| line)
        });
        let line = tokio::time::timeout(Duration::from_secs(60), line)
            .await
            .expect("ready in time")
            .expect("reader")
            .expect("a line");
        process.ready = line
            .split_whitespace()
            .filter_map(|f| f.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        process
    }

    /// A field of the ready line.
    #[track_caller]
    pub(crate) fn field(&self, key: &str) -> &str {
        self.ready
            .get(key)
            .unwrap_or_else(|| panic!("ready line has no {key}: {:?}", self.ready))
    }

    /// SIGTERM, then the exit status.
    pub(crate) async fn stop(mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let pid = Pid::from_raw(i32::try_from(child.id()).expect("pid"));
        kill(pid, Signal::SIGTERM).expect("SIGTERM");
        let status = tokio::task::spawn_blocking(move || child.wait());
        tokio::time::timeout(Duration::from_secs(20), status)
            .await
            .expect("exits in time")
            .expect("join")
            .expect("wait")
    }
}
