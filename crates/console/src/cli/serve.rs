//! `switchyard serve`: the receivers and the store, headless.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};
use switchyard_receiver::{ApiKeys, Receiver, ReceiverConfig};
use switchyard_store::{Durability, Retention, Store, StoreConfig};

use super::{DbArg, parse_duration};

#[derive(Debug, Args)]
pub struct ServeArgs {
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

pub(super) async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let api_keys = ApiKeys::new(args.api_key, args.api_key_secondary);
    let remote = [args.otlp_grpc, args.otlp_http]
        .iter()
        .any(|a| !a.ip().is_loopback());
    if remote && !api_keys.is_enabled() && !args.allow_unauthenticated {
        bail!(
            "refusing to receive OTLP beyond loopback without an API key: \
             set --api-key (or SWITCHYARD_OTLP_API_KEY), or pass --allow-unauthenticated"
        );
    }

    let path = args.db.path();
    let mut config = StoreConfig::new(&path);
    config.durability = match args.durability {
        DurabilityArg::Normal => Durability::Normal,
        DurabilityArg::Full => Durability::Full,
    };
    config.retention = Retention {
        max_age: args.retention_age.0,
        max_bytes: (args.retention_size_mib > 0).then_some(args.retention_size_mib << 20),
        ..Retention::default()
    };
    let store = Store::open(config)
        .await
        .with_context(|| format!("cannot open the store at {}", path.display()))?;
    let receiver_config = ReceiverConfig {
        grpc: Some(args.otlp_grpc),
        http: Some(args.otlp_http),
        max_body_bytes: args.max_body_bytes,
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
    let show = |a: Option<SocketAddr>| a.map_or("-".to_owned(), |a| a.to_string());
    eprintln!("switchyard: storing telemetry in {}", path.display());
    // One line on stdout that scripts and tests can wait for and parse.
    println!(
        "listening otlp-grpc={} otlp-http={}",
        show(receiver.grpc_addr()),
        show(receiver.http_addr())
    );

    wait_for_stop().await;
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

/// Ctrl-C or SIGTERM.
async fn wait_for_stop() {
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
