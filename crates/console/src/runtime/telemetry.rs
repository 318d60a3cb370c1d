//! The store and the OTLP receiver, started and stopped together: what `serve` runs
//! headless, and `ui` and the desktop app run under the API.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use switchyard_receiver::{ApiKeys, Receiver, ReceiverConfig};
use switchyard_store::records::Records;
use switchyard_store::{Durability, Ingest, Reader, Retention, Store, StoreConfig};

use crate::settings::{Resolved, Settings, parse_retention_age};

/// Where telemetry is received and how it is kept.
#[derive(Debug, Clone)]
pub struct TelemetryOptions {
    /// The SQLite file.
    pub db: PathBuf,
    /// `None`: another process receives into the file; this one only reads it.
    pub receiver: Option<ReceiverOptions>,
    pub durability: Durability,
    pub retention: Retention,
}

/// The embedded OTLP receiver's listeners and limits.
#[derive(Debug, Clone)]
pub struct ReceiverOptions {
    pub grpc: SocketAddr,
    pub http: SocketAddr,
    /// Largest request body accepted, in bytes (also after decompression).
    pub max_body_bytes: usize,
    pub api_keys: ApiKeys,
    /// Listen beyond loopback without an API key.
    pub allow_unauthenticated: bool,
}

/// The receiver's default body limit.
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 << 20;

impl TelemetryOptions {
    /// Receiving on the saved settings' addresses, keeping what they say, into `db`.
    pub fn from_settings(db: PathBuf, settings: &Settings) -> anyhow::Result<TelemetryOptions> {
        let resolved = settings.resolved();
        Ok(TelemetryOptions {
            db,
            receiver: Some(ReceiverOptions {
                grpc: resolved.otlp_grpc.context("no gRPC address")?,
                http: resolved.otlp_http.context("no HTTP address")?,
                max_body_bytes: DEFAULT_MAX_BODY_BYTES,
                api_keys: ApiKeys::new(None, None),
                allow_unauthenticated: false,
            }),
            durability: Durability::Normal,
            retention: retention(&resolved.retention_age, resolved.retention_size_mib)
                .map_err(anyhow::Error::msg)?,
        })
    }

    /// These options as settings (for the Settings view's "now running with").
    pub fn resolved(&self) -> Resolved {
        let age = match self.retention.max_age {
            None => "off".to_owned(),
            Some(age) => humantime::format_duration(age).to_string(),
        };
        Resolved {
            otlp_grpc: self.receiver.as_ref().map(|r| r.grpc),
            otlp_http: self.receiver.as_ref().map(|r| r.http),
            retention_age: age,
            retention_size_mib: self.retention.max_bytes.map_or(0, |b| b >> 20),
        }
    }
}

/// A retention policy from an age (`7days`, `off`) and a size in MiB (0: no limit).
pub fn retention(age: &str, size_mib: u64) -> Result<Retention, String> {
    Ok(Retention {
        max_age: parse_retention_age(age)?,
        max_bytes: (size_mib > 0).then_some(size_mib << 20),
        ..Retention::default()
    })
}

/// The store (and the receiver feeding it) while they run.
#[derive(Debug)]
pub struct Telemetry {
    path: PathBuf,
    /// The writer and the receiver; `None` when another process receives into the file.
    receiving: Option<(Store, Receiver)>,
    reader: Reader,
}

impl Telemetry {
    /// Opens the store and starts the receiver (or only opens the file for reading).
    pub async fn start(options: TelemetryOptions) -> anyhow::Result<Telemetry> {
        let Some(receiver) = options.receiver else {
            return Self::open_without_receiver(options.db).await;
        };
        let remote = [receiver.grpc, receiver.http]
            .iter()
            .any(|a| !a.ip().is_loopback());
        if remote && !receiver.api_keys.is_enabled() && !receiver.allow_unauthenticated {
            bail!(
                "refusing to receive OTLP beyond loopback without an API key: \
                 set --api-key (or SWITCHYARD_OTLP_API_KEY), or pass --allow-unauthenticated"
            );
        }

        let path = options.db;
        let mut config = StoreConfig::new(&path);
        config.durability = options.durability;
        config.retention = options.retention;
        let store = Store::open(config)
            .await
            .with_context(|| format!("cannot open the store at {}", path.display()))?;
        let receiver_config = ReceiverConfig {
            grpc: Some(receiver.grpc),
            http: Some(receiver.http),
            max_body_bytes: receiver.max_body_bytes,
            api_keys: receiver.api_keys,
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
    async fn open_without_receiver(path: PathBuf) -> anyhow::Result<Telemetry> {
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

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn reader(&self) -> &Reader {
        &self.reader
    }

    /// The writer's queue, when this process writes the file.
    pub fn ingest(&self) -> Option<Ingest> {
        self.receiving.as_ref().map(|(store, _)| store.ingest())
    }

    /// The receiver's bound addresses (after port 0 was given one).
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.receiving.as_ref().and_then(|(_, r)| r.grpc_addr())
    }

    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.receiving.as_ref().and_then(|(_, r)| r.http_addr())
    }

    /// `otlp-grpc=ADDR otlp-http=ADDR` (`-` when not receiving), for the ready line.
    pub fn addresses(&self) -> String {
        let show = |a: Option<SocketAddr>| a.map_or("-".to_owned(), |a| a.to_string());
        format!(
            "otlp-grpc={} otlp-http={}",
            show(self.grpc_addr()),
            show(self.http_addr())
        )
    }

    pub fn announce(&self) {
        eprintln!("switchyard: storing telemetry in {}", self.path.display());
    }

    /// Finishes the requests in flight, commits and closes the store.
    pub async fn stop(self) -> anyhow::Result<()> {
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
