//! A `switchyard serve` child process on ephemeral loopback ports.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// `switchyard serve`, started by a test or benchmark; killed when dropped.
#[derive(Debug)]
pub struct ServeProcess {
    child: Child,
    pub grpc: SocketAddr,
    pub http: SocketAddr,
}

impl ServeProcess {
    /// Starts `bin serve` on `db` with `extra` arguments and waits for the
    /// line on which it says where it listens.
    #[track_caller]
    pub fn spawn(bin: &Path, db: &Path, extra: &[&str]) -> ServeProcess {
        let mut child = Command::new(bin)
            .args([
                "serve",
                "--otlp-grpc",
                "127.0.0.1:0",
                "--otlp-http",
                "127.0.0.1:0",
            ])
            .arg("--db")
            .arg(db)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("switchyard serve starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("serve prints its addresses");
        let addr = |key: &str| -> SocketAddr {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(key))
                .unwrap_or_else(|| panic!("no {key} in {line:?}"))
                .parse()
                .expect("an address")
        };
        ServeProcess {
            grpc: addr("otlp-grpc="),
            http: addr("otlp-http="),
            child,
        }
    }

    pub fn grpc_url(&self) -> String {
        format!("http://{}", self.grpc)
    }

    pub fn http_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then waits for a clean exit.
    #[track_caller]
    pub fn stop(mut self) {
        self.signal(Signal::SIGTERM);
        let status = self.child.wait().expect("serve exits");
        assert!(status.success(), "serve exited with {status}");
    }

    /// SIGKILL: no chance to flush or clean up.
    pub fn kill(mut self) {
        self.signal(Signal::SIGKILL);
        let _ = self.child.wait();
    }

    fn signal(&self, signal: Signal) {
        let pid = Pid::from_raw(self.child.id() as i32);
        kill(pid, signal).expect("the child is ours to signal");
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
