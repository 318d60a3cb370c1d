//! The app's command line: where the store and the receiver are, and whether the demo
//! cluster may start. Several apps can run at once (tests) with distinct values. What a
//! flag does not say, the saved settings (the Settings view's) decide, as for
//! `switchyard ui`.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use switchyard_console::cli::DbArg;
use switchyard_console::clusters::ClustersFile;
use switchyard_console::runtime::{RuntimeOptions, TelemetryOptions};
use switchyard_console::settings::SettingsFile;

/// Where the bundled agent is when it is not beside the app.
pub const AGENT_ENV: &str = "SWITCHYARD_AGENT";

/// Switchyard's desktop console.
#[derive(Debug, Clone, Parser)]
#[command(name = "switchyard-desktop", version)]
pub struct Options {
    #[command(flatten)]
    db: DbArg,
    /// OTLP/gRPC listen address [default: from the saved settings, else 127.0.0.1:4317]
    #[arg(long, value_name = "ADDR")]
    otlp_grpc: Option<SocketAddr>,
    /// OTLP/HTTP listen address [default: from the saved settings, else 127.0.0.1:4318]
    #[arg(long, value_name = "ADDR")]
    otlp_http: Option<SocketAddr>,
    /// Do not start the bundled demo cluster, even when no cluster is configured.
    #[arg(long)]
    no_demo: bool,
}

impl Options {
    /// Reads the command line (the clusters file is `$SWITCHYARD_CLUSTERS`, as the CLI's).
    pub fn from_args(args: impl IntoIterator<Item = OsString>) -> Result<Options, clap::Error> {
        Options::try_parse_from(args)
    }

    /// Whether the demo cluster may start when no cluster is configured.
    pub fn demo(&self) -> bool {
        !self.no_demo
    }

    /// The runtime's options: the flags over the saved settings; the clusters file.
    pub fn runtime(&self, clusters: ClustersFile) -> anyhow::Result<RuntimeOptions> {
        let settings = SettingsFile::load_default().context("the saved settings")?;
        let mut telemetry = TelemetryOptions::from_settings(self.db.path(), settings.settings())?;
        if let Some(receiver) = telemetry.receiver.as_mut() {
            receiver.grpc = self.otlp_grpc.unwrap_or(receiver.grpc);
            receiver.http = self.otlp_http.unwrap_or(receiver.http);
        }
        Ok(RuntimeOptions {
            telemetry,
            clusters,
            settings,
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_saved_settings() {
        let options = Options::from_args(
            [
                "switchyard-desktop",
                "--db",
                "/tmp/x.db",
                "--otlp-grpc",
                "127.0.0.1:0",
                "--no-demo",
            ]
            .map(OsString::from),
        )
        .unwrap();
        assert!(!options.demo());
        let dir = tempfile::tempdir().unwrap();
        let clusters = ClustersFile::load(dir.path().join("clusters.toml")).unwrap();
        let runtime = options.runtime(clusters).unwrap();
        assert_eq!(runtime.telemetry.db, PathBuf::from("/tmp/x.db"));
        let receiver = runtime.telemetry.receiver.unwrap();
        assert_eq!(receiver.grpc, "127.0.0.1:0".parse().unwrap());
        assert!(Options::from_args(["switchyard-desktop", "--nope"].map(OsString::from)).is_err());
    }
}
