//! A private PostgreSQL server for one test: `initdb` into a temporary directory, started
//! on a free loopback port, stopped and deleted when dropped (about a second in all).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::unistd::{Uid, User};

/// A running PostgreSQL server with trust authentication for user `switchyard`.
#[derive(Debug)]
pub struct PostgresServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    /// PostgreSQL refuses to run as root; as root the server runs as this user.
    run_as: Option<String>,
}

impl PostgresServer {
    /// Starts a server; panics with what to install when PostgreSQL is missing.
    #[track_caller]
    pub fn start() -> PostgresServer {
        let bin = find_bin_dir().unwrap_or_else(|| {
            panic!("PostgreSQL server binaries (initdb, pg_ctl) not found: install the Debian package `postgresql`")
        });
        let dir = tempfile::Builder::new()
            .prefix("switchyard-pg-")
            .tempdir()
            .expect("a temporary directory");
        let run_as = Uid::effective().is_root().then(|| "postgres".to_owned());
        if let Some(user) = &run_as {
            let user = User::from_name(user)
                .expect("the user database is readable")
                .unwrap_or_else(|| panic!("running as root, PostgreSQL needs the user {user:?} that the `postgresql` package creates"));
            std::os::unix::fs::chown(dir.path(), Some(user.uid.as_raw()), Some(user.gid.as_raw()))
                .expect("chown the test directory");
        }
        let port = free_port();
        let server = PostgresServer {
            dir,
            bin,
            port,
            run_as,
        };
        let data = server.data_dir();
        server.run(
            "initdb",
            &[
                "-D",
                &data,
                "--auth=trust",
                "-U",
                "switchyard",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        // Durability settings off: a test server is thrown away, and fsync dominates.
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
            server.dir.path().display()
        );
        let log = format!("{}/server.log", server.dir.path().display());
        server.run(
            "pg_ctl",
            &["-D", &data, "-l", &log, "-o", &options, "-w", "start"],
        );
        server
    }

    /// `postgres://switchyard@127.0.0.1:PORT/postgres`
    pub fn url(&self) -> String {
        self.database_url("postgres")
    }

    pub fn database_url(&self, database: &str) -> String {
        format!("postgres://switchyard@127.0.0.1:{}/{database}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    fn data_dir(&self) -> String {
        format!("{}/data", self.dir.path().display())
    }

    /// `program` from the server's bin directory, as the server's user.
    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        match &self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(program);
                command
            }
            None => Command::new(program),
        }
    }

    #[track_caller]
    fn run(&self, program: &str, args: &[&str]) {
        let output = self
            .command(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        assert!(
            output.status.success(),
            "{program} {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        let data = self.data_dir();
        let _ = self
            .command("pg_ctl")
            .args(["-D", &data, "-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// `initdb` on PATH, else Debian's versioned directory (not on PATH by default).
fn find_bin_dir() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
    });
    on_path.or_else(|| {
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
            .filter(|bin| Path::new(bin).join("initdb").is_file())
            .collect();
        versions.sort();
        versions.pop()
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}
