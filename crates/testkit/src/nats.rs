//! A `nats-server` with JetStream on a free loopback port and its own store directory.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tempfile::TempDir;

const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// `nats-server -js`, started by a test or benchmark; killed when dropped.
#[derive(Debug)]
pub struct NatsServer {
    child: Option<Child>,
    binary: PathBuf,
    port: u16,
    dir: TempDir,
}

impl NatsServer {
    /// Starts a server and waits until it accepts connections.
    ///
    /// Panics when `nats-server` is neither on `PATH` nor at `/usr/sbin/nats-server`
    /// (Debian package `nats-server`), or when it does not come up.
    #[track_caller]
    pub fn start() -> NatsServer {
        let binary = find_binary();
        let dir = tempfile::tempdir().expect("a temporary directory for the JetStream store");
        let port = free_port();
        let child = spawn(&binary, port, dir.path());
        NatsServer {
            child: Some(child),
            binary,
            port,
            dir,
        }
    }

    /// `nats://127.0.0.1:{port}`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server cleanly (SIGTERM, so it flushes its store) and starts it again on
    /// the same port and store directory.
    #[track_caller]
    pub fn restart(&mut self) {
        self.stop();
        self.child = Some(spawn(&self.binary, self.port, self.dir.path()));
    }

    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
        let deadline = Instant::now() + SHUTDOWN_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[track_caller]
fn find_binary() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("nats-server"))
            .find(|candidate| candidate.is_file())
    });
    on_path
        .or_else(|| {
            let debian = PathBuf::from("/usr/sbin/nats-server");
            debian.is_file().then_some(debian)
        })
        .unwrap_or_else(|| {
            panic!(
                "nats-server is not installed: neither on PATH nor at /usr/sbin/nats-server \
                 (install the Debian package `nats-server`)"
            )
        })
}

/// A port nothing listens on right now (the OS picks it).
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

#[track_caller]
fn spawn(binary: &Path, port: u16, dir: &Path) -> Child {
    let log = dir.join("nats-server.log");
    let mut child = Command::new(binary)
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(dir)
        .arg("-l")
        .arg(&log)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {}: {err}", binary.display()));
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return child;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "nats-server exited with {status} before listening on {addr}; its log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "nats-server did not listen on {addr} within {STARTUP_TIMEOUT:?}; its log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        sleep(Duration::from_millis(10));
    }
}
