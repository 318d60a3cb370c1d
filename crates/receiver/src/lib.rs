//! Switchyard's OTLP receiver: gRPC (127.0.0.1:4317) and HTTP (127.0.0.1:4318),
//! protobuf and JSON, gzip, optional API keys, feeding [`switchyard_store`].
//!
//! A request is answered only after its data is committed. When the store's
//! writer is behind, requests are answered "retry later" (gRPC UNAVAILABLE
//! with RetryInfo, HTTP 503 with Retry-After) and nothing of them is kept, so
//! a sender that retries loses nothing and memory stays bounded.
#![forbid(unsafe_code)]

mod auth;
mod grpc;
mod http;
mod signal;
mod stats;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use switchyard_store::Ingest;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

/// How long a stopping receiver waits for connections to finish their requests.
pub const DRAIN: Duration = Duration::from_secs(10);

pub use auth::{API_KEY_HEADER, ApiKeys};
pub use stats::StatsSnapshot;

/// Default OTLP/gRPC address.
pub const DEFAULT_GRPC_ADDR: &str = "127.0.0.1:4317";
/// Default OTLP/HTTP address.
pub const DEFAULT_HTTP_ADDR: &str = "127.0.0.1:4318";

/// Where and how to listen.
#[derive(Debug, Clone)]
pub struct ReceiverConfig {
    /// OTLP/gRPC address; `None` to not serve gRPC.
    pub grpc: Option<SocketAddr>,
    /// OTLP/HTTP address; `None` to not serve HTTP.
    pub http: Option<SocketAddr>,
    /// Largest request body (and decompressed body) accepted.
    pub max_body_bytes: usize,
    /// Requests decoded or waiting for the store at once; more are shed with
    /// "retry later", which bounds the memory held by requests.
    pub max_in_flight: usize,
    pub api_keys: ApiKeys,
    /// The retry hint when a request is shed here (the store gives its own).
    pub retry_after: Duration,
}

impl Default for ReceiverConfig {
    fn default() -> Self {
        Self {
            grpc: Some(DEFAULT_GRPC_ADDR.parse().expect("valid address")),
            http: Some(DEFAULT_HTTP_ADDR.parse().expect("valid address")),
            max_body_bytes: 16 << 20,
            max_in_flight: 256,
            api_keys: ApiKeys::default(),
            retry_after: Duration::from_secs(1),
        }
    }
}

/// Starting the receiver failed.
#[derive(Debug, thiserror::Error)]
pub enum ReceiverError {
    #[error("cannot listen for OTLP/{protocol} on {addr}: {source}")]
    Bind {
        protocol: &'static str,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// State the handlers share.
#[derive(Debug)]
pub(crate) struct Shared {
    ingest: Ingest,
    keys: ApiKeys,
    stats: stats::Stats,
    in_flight: Arc<Semaphore>,
    max_body_bytes: usize,
    retry_after: Duration,
}

/// A running receiver.
#[derive(Debug)]
pub struct Receiver {
    grpc_addr: Option<SocketAddr>,
    http_addr: Option<SocketAddr>,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Receiver {
    /// Binds the listeners and starts serving. Fails if an address is taken.
    pub async fn start(config: ReceiverConfig, ingest: Ingest) -> Result<Receiver, ReceiverError> {
        let shared = Arc::new(Shared {
            ingest,
            keys: config.api_keys.clone(),
            stats: stats::Stats::default(),
            in_flight: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
            max_body_bytes: config.max_body_bytes,
            retry_after: config.retry_after,
        });
        let bind = |protocol, addr| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|source| ReceiverError::Bind {
                    protocol,
                    addr,
                    source,
                })
        };
        let grpc = match config.grpc {
            Some(addr) => Some(bind("gRPC", addr).await?),
            None => None,
        };
        let http = match config.http {
            Some(addr) => Some(bind("HTTP", addr).await?),
            None => None,
        };

        let (stop, stopped) = watch::channel(false);
        let until_stopped = move || {
            let mut stopped = stopped.clone();
            async move {
                let _ = stopped.wait_for(|s| *s).await;
            }
        };
        let mut receiver = Receiver {
            grpc_addr: grpc.as_ref().and_then(|l| l.local_addr().ok()),
            http_addr: http.as_ref().and_then(|l| l.local_addr().ok()),
            shared: shared.clone(),
            stop,
            tasks: Vec::new(),
        };
        if let Some(listener) = grpc {
            let shared = shared.clone();
            let shutdown = until_stopped();
            receiver.tasks.push(tokio::spawn(async move {
                if let Err(e) = grpc::serve(listener, shared, shutdown).await {
                    tracing::error!("OTLP/gRPC server failed: {e}");
                }
            }));
        }
        if let Some(listener) = http {
            let app = http::router(shared);
            let shutdown = until_stopped();
            receiver.tasks.push(tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, app)
                    .with_graceful_shutdown(shutdown)
                    .await
                {
                    tracing::error!("OTLP/HTTP server failed: {e}");
                }
            }));
        }
        Ok(receiver)
    }

    /// The bound gRPC address (with the real port when 0 was asked for).
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.grpc_addr
    }

    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    pub fn stats(&self) -> StatsSnapshot {
        self.shared.stats.snapshot()
    }

    /// Stops accepting connections and waits for the requests in flight to
    /// be answered (each after its data is committed), for up to [`DRAIN`].
    pub async fn shutdown(self) -> StatsSnapshot {
        self.shutdown_within(DRAIN).await
    }

    /// [`shutdown`](Self::shutdown), waiting at most `drain`: a client that keeps an
    /// idle connection open (HTTP/2 clients may ignore GOAWAY for a while) must not
    /// hold the process up. Cutting the servers off then loses nothing acknowledged:
    /// a request is answered only after its data is committed.
    pub async fn shutdown_within(self, drain: Duration) -> StatsSnapshot {
        let _ = self.stop.send(true);
        let deadline = tokio::time::Instant::now() + drain;
        for task in self.tasks {
            let abort = task.abort_handle();
            if tokio::time::timeout_at(deadline, task).await.is_err() {
                tracing::warn!("connections still open {drain:?} after stopping: closing them");
                abort.abort();
            }
        }
        self.shared.stats.snapshot()
    }
}
