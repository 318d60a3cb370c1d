//! The local demo cluster, for a first launch with no cluster configured: the bundled
//! `switchyard-agent demo` as a child process, exporting to this app's receiver.
//!
//! The child must not outlive the app, even a killed one. On Linux it is started through
//! `setpriv --pdeathsig KILL` (util-linux), so the kernel kills it when the thread that
//! started it ends; that thread is a keeper that lives as long as the child (a
//! parent-death signal fires when the spawning *thread* exits, not the process). The
//! workspace forbids `unsafe`, which rules out `prctl` in a `pre_exec` hook. Where
//! `setpriv` is missing, the child is still stopped on every orderly exit.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use std::sync::atomic::{AtomicBool, Ordering};

use rand::distr::{Alphanumeric, SampleString as _};
use switchyard_console::clusters::{
    AgentEndpoint, ClusterConfig, ClustersError, ClustersFile, Secret,
};
use switchyard_console::runtime::Runtime;

/// The demo cluster's name in the console.
pub const DEMO_CLUSTER: &str = "demo";
/// How long the demo may take to say where it listens.
const STARTUP: Duration = Duration::from_secs(20);

/// Why the demo cluster did not start.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot start {path}: {source} (set SWITCHYARD_AGENT to the switchyard-agent binary)")]
    Spawn {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the demo did not say where it listens: {0}")]
    Announce(String),
    #[error("cannot add the demo cluster: {0}")]
    Register(String),
}

/// Where a running demo listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announced {
    pub control: String,
    pub token: String,
}

/// Reads the demo's first line, `... control=ADDR token=TOK ...`.
pub fn parse_announce(line: &str) -> Option<Announced> {
    let field = |key: &str| {
        line.split_whitespace()
            .find_map(|word| word.strip_prefix(key))
            .map(str::to_owned)
    };
    Some(Announced {
        control: field("control=")?,
        token: field("token=")?,
    })
}

/// The running demo; [`Demo::stop`] ends it (so does the app's death).
#[derive(Debug)]
pub struct Demo {
    pub announced: Announced,
    stop: mpsc::Sender<()>,
    keeper: Option<JoinHandle<()>>,
    /// The cluster went into the clusters file and must leave it on exit.
    in_file: AtomicBool,
}

impl Demo {
    /// Starts `agent demo` exporting to `otlp_grpc`, waits for its announce line.
    pub fn start(agent: &Path, otlp_grpc: Option<SocketAddr>) -> Result<Demo, DemoError> {
        let token = Alphanumeric.sample_string(&mut rand::rng(), 32);
        let otlp = otlp_grpc
            .map(|mut addr| {
                // Listening everywhere: the demo is on this machine.
                if addr.ip().is_unspecified() {
                    addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
                }
                format!("http://{addr}")
            })
            .ok_or_else(|| DemoError::Announce("the app receives no OTLP/gRPC".into()))?;
        let mut command = parent_death_command(agent);
        command
            .args([
                "demo",
                "--control",
                "127.0.0.1:0",
                "--otlp",
                &otlp,
                "--token",
                &token,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let (announce_tx, announce_rx) = mpsc::channel();
        let (stop, stop_rx) = mpsc::channel::<()>();
        let path = agent.to_owned();
        let keeper = std::thread::Builder::new()
            .name("demo-cluster".into())
            .spawn(move || keep(command, path, announce_tx, stop_rx))
            .map_err(|source| DemoError::Spawn {
                path: agent.to_owned(),
                source,
            })?;
        let announced = match announce_rx.recv_timeout(STARTUP) {
            Ok(result) => result?,
            Err(_) => {
                let _ = stop.send(());
                return Err(DemoError::Announce(format!(
                    "nothing within {}s",
                    STARTUP.as_secs()
                )));
            }
        };
        tracing::info!(control = %announced.control, "demo cluster started");
        Ok(Demo {
            announced,
            stop,
            keeper: Some(keeper),
            in_file: AtomicBool::new(false),
        })
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.announced.control)
    }

    /// Adds the cluster `demo` for this run. The console keeps clusters in the clusters
    /// file only, so it goes there, with a marker beside it saying it is this app's (a
    /// killed app cannot remove it; the next launch does, see [`forget_stale`]).
    pub fn register(&self, runtime: &Runtime) -> Result<(), DemoError> {
        let clusters = &runtime.state().clusters;
        let cluster = ClusterConfig {
            name: DEMO_CLUSTER.to_owned(),
            view_only: false,
            agents: vec![AgentEndpoint {
                endpoint: self.endpoint(),
                token: Secret::new(self.announced.token.clone()),
                tls: None,
            }],
        };
        let marker = marker_path().map_err(|e| DemoError::Register(e.to_string()))?;
        std::fs::write(&marker, self.endpoint())
            .map_err(|e| DemoError::Register(format!("{}: {e}", marker.display())))?;
        clusters
            .add(cluster)
            .map_err(|e| DemoError::Register(e.to_string()))?;
        self.in_file.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Removes the cluster again and ends the child.
    pub fn stop(mut self, runtime: &Runtime) {
        if self.in_file.load(Ordering::SeqCst) {
            if let Err(e) = runtime.state().clusters.remove(DEMO_CLUSTER) {
                tracing::warn!("cannot remove the demo cluster: {e}");
            }
            if let Ok(marker) = marker_path() {
                let _ = std::fs::remove_file(marker);
            }
        }
        let _ = self.stop.send(());
        if let Some(keeper) = self.keeper.take() {
            let _ = keeper.join();
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.stop.send(());
    }
}

/// Beside the clusters file: the endpoint of the demo cluster this app put in it.
fn marker_path() -> Result<PathBuf, ClustersError> {
    let mut path = ClustersFile::default_path()?.into_os_string();
    path.push(".demo");
    Ok(PathBuf::from(path))
}

/// Removes a demo cluster a killed app left in the clusters file (its marker says so,
/// and the endpoint matches), so this launch starts a fresh demo.
pub fn forget_stale(clusters: &mut ClustersFile) {
    let Ok(marker) = marker_path() else { return };
    let Ok(endpoint) = std::fs::read_to_string(&marker) else {
        return;
    };
    let ours = clusters
        .get(DEMO_CLUSTER)
        .is_some_and(|c| c.agents.iter().any(|a| a.endpoint == endpoint));
    if ours {
        match clusters.remove(DEMO_CLUSTER) {
            Ok(_) => tracing::info!("removed the demo cluster a previous run left"),
            Err(e) => {
                tracing::warn!("cannot remove the previous run's demo cluster: {e}");
                return;
            }
        }
    }
    let _ = std::fs::remove_file(marker);
}

/// `setpriv --pdeathsig KILL -- agent` where util-linux's setpriv exists, else `agent`.
fn parent_death_command(agent: &Path) -> Command {
    #[cfg(target_os = "linux")]
    for dir in ["/usr/bin", "/bin"] {
        let setpriv = Path::new(dir).join("setpriv");
        if setpriv.exists() {
            let mut command = Command::new(setpriv);
            command.args(["--pdeathsig", "KILL", "--"]).arg(agent);
            return command;
        }
    }
    tracing::warn!("no setpriv: the demo cluster outlives this app if the app is killed");
    Command::new(agent)
}

/// The keeper thread: spawns the child, reports its announce line, drains its output,
/// and kills it when told to (or when the app drops its sender).
fn keep(
    mut command: Command,
    path: PathBuf,
    announce: mpsc::Sender<Result<Announced, DemoError>>,
    stop: mpsc::Receiver<()>,
) {
    let mut child: Child = match command.spawn() {
        Ok(child) => child,
        Err(source) => {
            let _ = announce.send(Err(DemoError::Spawn { path, source }));
            return;
        }
    };
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let mut line = String::new();
    let announced = match stdout.read_line(&mut line) {
        Ok(n) if n > 0 => parse_announce(&line)
            .ok_or_else(|| DemoError::Announce(format!("unexpected first line {line:?}"))),
        Ok(_) => Err(DemoError::Announce("it exited".into())),
        Err(e) => Err(DemoError::Announce(e.to_string())),
    };
    let failed = announced.is_err();
    let _ = announce.send(announced);
    if !failed {
        // A full pipe would block the demo; its later output is of no use here.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        // Either a stop or the app dropping the sender.
        let _ = stop.recv();
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_where_the_demo_listens() {
        let line = "demo ready control=127.0.0.1:41234 token=abc123 otlp=http://127.0.0.1:4317\n";
        assert_eq!(
            parse_announce(line),
            Some(Announced {
                control: "127.0.0.1:41234".into(),
                token: "abc123".into()
            })
        );
        assert_eq!(parse_announce("demo ready control=127.0.0.1:1\n"), None);
    }
}
