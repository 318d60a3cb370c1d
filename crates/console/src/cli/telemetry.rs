//! The flags for the store and the OTLP receiver that `serve` and `ui` share, turned
//! into the runtime's options over the saved settings.

use std::net::SocketAddr;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use switchyard_receiver::ApiKeys;
use switchyard_store::Durability;

use super::DbArg;
use crate::runtime::{ReceiverOptions, TelemetryOptions, retention};
use crate::settings::{Settings, parse_retention_age};

/// Where telemetry is received and how it is kept.
#[derive(Debug, Args)]
pub(super) struct TelemetryArgs {
    #[command(flatten)]
    db: DbArg,
    /// OTLP/gRPC listen address [default: from the saved settings, else 127.0.0.1:4317]
    #[arg(long, value_name = "ADDR")]
    otlp_grpc: Option<SocketAddr>,
    /// OTLP/HTTP listen address [default: from the saved settings, else 127.0.0.1:4318]
    #[arg(long, value_name = "ADDR")]
    otlp_http: Option<SocketAddr>,
    /// Require this key in the x-otlp-api-key header or metadata.
    #[arg(
        long,
        value_name = "KEY",
        env = "SWITCHYARD_OTLP_API_KEY",
        hide_env_values = true
    )]
    api_key: Option<String>,
    /// A second accepted key, for rotating keys without refusing senders.
    #[arg(
        long,
        value_name = "KEY",
        env = "SWITCHYARD_OTLP_API_KEY_SECONDARY",
        hide_env_values = true
    )]
    api_key_secondary: Option<String>,
    /// Listen beyond loopback without an API key.
    #[arg(long)]
    allow_unauthenticated: bool,
    /// Largest request body accepted, in bytes (also after decompression).
    #[arg(long, value_name = "BYTES", default_value_t = 16 << 20)]
    max_body_bytes: usize,
    /// Delete telemetry older than this (e.g. 7days); `off` keeps everything
    /// [default: from the saved settings, else 7days]
    #[arg(long, value_name = "DURATION", value_parser = check_retention_age)]
    retention_age: Option<String>,
    /// Keep the database under this many MiB; 0 for no limit [default: from the saved
    /// settings, else 2048]
    #[arg(long, value_name = "MIB")]
    retention_size_mib: Option<u64>,
    /// `normal` survives a killed process; `full` also survives a power cut, slower.
    #[arg(long, value_enum, default_value_t = DurabilityArg::Normal)]
    durability: DurabilityArg,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DurabilityArg {
    Normal,
    Full,
}

fn check_retention_age(s: &str) -> Result<String, String> {
    parse_retention_age(s).map(|_| s.to_owned())
}

impl TelemetryArgs {
    /// The options these flags ask for; where a flag is not given, the saved settings
    /// decide, then the built-in defaults.
    pub(super) fn options(self, settings: &Settings) -> anyhow::Result<TelemetryOptions> {
        let saved = settings.resolved();
        let receiver = ReceiverOptions {
            grpc: self
                .otlp_grpc
                .or(saved.otlp_grpc)
                .context("no gRPC address")?,
            http: self
                .otlp_http
                .or(saved.otlp_http)
                .context("no HTTP address")?,
            max_body_bytes: self.max_body_bytes,
            api_keys: ApiKeys::new(self.api_key, self.api_key_secondary),
            allow_unauthenticated: self.allow_unauthenticated,
        };
        let age = self.retention_age.unwrap_or(saved.retention_age);
        let size = self.retention_size_mib.unwrap_or(saved.retention_size_mib);
        Ok(TelemetryOptions {
            db: self.db.path(),
            receiver: Some(receiver),
            durability: match self.durability {
                DurabilityArg::Normal => Durability::Normal,
                DurabilityArg::Full => Durability::Full,
            },
            retention: retention(&age, size).map_err(anyhow::Error::msg)?,
        })
    }
}

/// Ctrl-C or SIGTERM.
pub(super) async fn wait_for_stop() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
