//! The app's command line: where the store and the receiver are, and whether the demo
//! cluster may start. Several apps can run at once (tests) with distinct values.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use switchyard_console::runtime::RuntimeOptions;

/// Where the bundled agent is when it is not beside the app.
pub const AGENT_ENV: &str = "SWITCHYARD_AGENT";

/// Switchyard's desktop console.
#[derive(Debug, Clone, Parser)]
#[command(name = "switchyard-desktop", version)]
pub struct Args {
    /// The SQLite file [default: the saved settings', else the OS data directory's]
    #[arg(long, value_name = "PATH", env = "SWITCHYARD_DB")]
    db: Option<PathBuf>,
    /// OTLP/gRPC listen address [default: the saved settings', else 127.0.0.1:4317]
    #[arg(long, value_name = "ADDR")]
    otlp_grpc: Option<SocketAddr>,
    /// OTLP/HTTP listen address [default: the saved settings', else 127.0.0.1:4318]
    #[arg(long, value_name = "ADDR")]
    otlp_http: Option<SocketAddr>,
    /// Do not start the bundled demo cluster, even when no cluster is configured.
    #[arg(long)]
    no_demo: bool,
}

/// The app's settings for this run.
#[derive(Debug, Clone)]
pub struct Options {
    pub runtime: RuntimeOptions,
    /// Start the demo cluster when the clusters file has none.
    pub demo: bool,
}

impl Options {
    /// Reads the command line (clusters file from `SWITCHYARD_CLUSTERS`, as the CLI).
    pub fn from_args(args: impl IntoIterator<Item = OsString>) -> Result<Options, clap::Error> {
        let args = Args::try_parse_from(args)?;
        let mut runtime = RuntimeOptions::defaults()
            .map_err(|e| clap::Error::raw(clap::error::ErrorKind::Io, format!("{e:#}\n")))?;
        if let Some(db) = args.db {
            runtime.db = db;
        }
        if args.otlp_grpc.is_some() {
            runtime.otlp_grpc = args.otlp_grpc;
        }
        if args.otlp_http.is_some() {
            runtime.otlp_http = args.otlp_http;
        }
        Ok(Options {
            runtime,
            demo: !args.no_demo,
        })
    }

    pub(crate) fn runtime(&self) -> RuntimeOptions {
        self.runtime.clone()
    }

    /// The bundled agent: `$SWITCHYARD_AGENT`, else `switchyard-agent` beside this app.
    pub fn agent_path(&self) -> PathBuf {
        if let Some(path) = std::env::var_os(AGENT_ENV) {
            return PathBuf::from(path);
        }
        let name = format!("switchyard-agent{}", std::env::consts::EXE_SUFFIX);
        std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|dir| dir.join(&name)))
            .unwrap_or_else(|| PathBuf::from(name))
    }
}
