//! The store and the OTLP receiver, started and stopped together: what `serve` runs
//! headless and `ui` runs under the API.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};
use switchyard_receiver::{ApiKeys, Receiver, ReceiverConfig};
use switchyard_store::records::Records;
use switchyard_store::{Durability, Reader, Retention, Store, StoreConfig};

use super::{DbArg, parse_duration};

/// Where telemetry is received and how it is kept.
#[derive(Debug, Args)]
pub(super) struct TelemetryArgs {
    #[command(flatten)]
    db: DbArg,
    /// OTLP/gRPC listen address.
    #[arg(long, value_name = "ADDR", default_value = switchyard_receiver::DEFAULT_GRPC_ADDR)]
    otlp_grpc: SocketAddr,
    /// OTLP/HTTP listen address.
    #[arg(long, value_name = "ADDR", default_value = switchyard_receiver::DEFAULT_HTTP_ADDR)]
    otlp_http: SocketAddr,
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
    /// Delete telemetry older than this (e.g. 7days); `off` keeps everything.
    #[arg(long, value_name = "DURATION", default_value = "7days", value_parser = parse_retention_age)]
    retention_age: RetentionAge,
    /// Keep the database under this many MiB; 0 for no limit.
    #[arg(long, value_name = "MIB", default_value_t = 2048)]
    retention_size_mib: u64,
    /// `normal` survives a killed process; `full` also survives a power cut, slower.
    #[arg(long, value_enum, default_value_t = DurabilityArg::Normal)]
    durability: DurabilityArg,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DurabilityArg {
    Normal,
    Full,
}

/// A maximum age, or none (`off`). A newtype: clap reads `Option<_>` fields as "may be absent".
#[derive(Debug, Clone, Copy)]
struct RetentionAge(Option<Duration>);

fn parse_retention_age(s: &str) -> Result<RetentionAge, String> {
    if s == "off" {
        Ok(RetentionAge(None))
    } else {
        parse_duration(s).map(|d| RetentionAge(Some(d)))
    }
}

/// The store (and the receiver feeding it) while they run.
#[derive(Debug)]
pub(super) struct Telemetry {
    path: PathBuf,
    /// The writer and the receiver; `None` when another process receives into the file.
    receiving: Option<(Store, Receiver)>,
    reader: Reader,
}

impl TelemetryArgs {
    /// Opens the store and starts the receiver.
    pub(super) async fn start(self) -> anyhow::Result<Telemetry> {
        let api_keys = ApiKeys::new(self.api_key, self.api_key_secondary);
        let remote = [self.otlp_grpc, self.otlp_http]
            .iter()
            .any(|a| !a.ip().is_loopback());
        if remote && !api_keys.is_enabled() && !self.allow_unauthenticated {
            bail!(
                "refusing to receive OTLP beyond loopback without an API key: \
                 set --api-key (or SWITCHYARD_OTLP_API_KEY), or pass --allow-unauthenticated"
            );
        }

        let path = self.db.path();
        let mut config = StoreConfig::new(&path);
        config.durability = match self.durability {
            DurabilityArg::Normal => Durability::Normal,
            DurabilityArg::Full => Durability::Full,
        };
        config.retention = Retention {
            max_age: self.retention_age.0,
            max_bytes: (self.retention_size_mib > 0).then_some(self.retention_size_mib << 20),
            ..Retention::default()
        };
        let store = Store::open(config)
            .await
            .with_context(|| format!("cannot open the store at {}", path.display()))?;
        let receiver_config = ReceiverConfig {
            grpc: Some(self.otlp_grpc),
            http: Some(self.otlp_http),
            max_body_bytes: self.max_body_bytes,
            api_keys,
            ..ReceiverConfig::default()
        };
        let receiver = match Receiver::start(receiver_config, store.ingest()).await {
            Ok(receiver) => receiver,
            Err(e) => {
                store.close().await?;
                return Err(e.into());
            }
        };
        Ok(Telemetry {
            path,
            reader: store.reader().clone(),
            receiving: Some((store, receiver)),
        })
    }

    /// Opens the store file for reading only (creating it if needed): another process
    /// receives into it.
    pub(super) async fn open_without_receiver(self) -> anyhow::Result<Telemetry> {
        let path = self.db.path();
        // Opening the records creates the file and its schema if it is new.
        Records::open(&path)
            .await
            .with_context(|| format!("cannot open the store at {}", path.display()))?
            .close()
            .await;
        let reader = Reader::open(&path).await?;
        Ok(Telemetry {
            path,
            receiving: None,
            reader,
        })
    }
}

impl Telemetry {
    /// The store file.
    pub(super) fn path(&self) -> &std::path::Path {
        &self.path
    }

    pub(super) fn reader(&self) -> &Reader {
        &self.reader
    }

    /// `otlp-grpc=ADDR otlp-http=ADDR` (`-` when not receiving), for the ready line.
    pub(super) fn addresses(&self) -> String {
        let receiver = self.receiving.as_ref().map(|(_, r)| r);
        let show = |a: Option<SocketAddr>| a.map_or("-".to_owned(), |a| a.to_string());
        format!(
            "otlp-grpc={} otlp-http={}",
            show(receiver.and_then(Receiver::grpc_addr)),
            show(receiver.and_then(Receiver::http_addr))
        )
    }

    pub(super) fn announce(&self) {
        eprintln!("switchyard: storing telemetry in {}", self.path.display());
    }

    /// Finishes the requests in flight, commits and closes the store.
    pub(super) async fn stop(self) -> anyhow::Result<()> {
        let Some((store, receiver)) = self.receiving else {
            return Ok(());
        };
        eprintln!("switchyard: stopping; finishing the requests in flight");
        let stats = receiver.shutdown().await;
        store.close().await?;
        eprintln!(
            "switchyard: stored {} spans, {} data points, {} log records; refused {} requests \
             (retry later), {} invalid, {} unauthenticated",
            stats.spans,
            stats.data_points,
            stats.log_records,
            stats.refused_requests,
            stats.invalid_requests,
            stats.unauthenticated_requests
        );
        Ok(())
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
