//! Listening: a hyper server (HTTP/1 and HTTP/2) per listener, with graceful shutdown
//! (connections finish the requests they have, then close).

use std::convert::Infallible;
use std::net::SocketAddr;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::gateway::Gateway;
use crate::proxy;

/// A gateway serving on its listeners. Dropping it stops accepting; [`shutdown`]
/// also waits for the requests in flight.
///
/// [`shutdown`]: RunningGateway::shutdown
#[derive(Debug)]
pub struct RunningGateway {
    gateway: Gateway,
    addrs: Vec<SocketAddr>,
    stop: watch::Sender<bool>,
    listeners: Vec<JoinHandle<()>>,
}

impl Gateway {
    /// Builds a gateway from `config` and serves it on `config.listeners`.
    pub async fn start(config: Config) -> Result<RunningGateway> {
        let listen: Vec<String> = config.listeners.clone();
        let gateway = Gateway::new(config)?;
        gateway.serve_on(&listen).await
    }

    /// Serves this gateway on `listen` (each `ip:port`; port 0 picks one).
    pub async fn serve_on(&self, listen: &[String]) -> Result<RunningGateway> {
        self.listen(listen, Side::Ingress).await
    }

    /// Serves this gateway's sidecar (egress) side on `listen` (usually the
    /// configuration's `sidecar.listen`): calls are routed by the `[sidecar]`
    /// destinations, not the routes; `503` while no `[sidecar]` is configured.
    pub async fn serve_sidecar_on(&self, listen: &[String]) -> Result<RunningGateway> {
        self.listen(listen, Side::Egress).await
    }

    async fn listen(&self, listen: &[String], side: Side) -> Result<RunningGateway> {
        let (stop, _) = watch::channel(false);
        let mut addrs = Vec::new();
        let mut listeners = Vec::new();
        for text in listen {
            let addr: SocketAddr = text.parse().map_err(|_| {
                Error::Config(crate::ConfigError {
                    line: 0,
                    field: "listeners".to_owned(),
                    message: format!("{text:?} is not an address"),
                })
            })?;
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|source| Error::Bind { addr, source })?;
            addrs.push(
                listener
                    .local_addr()
                    .map_err(|source| Error::Bind { addr, source })?,
            );
            listeners.push(tokio::spawn(accept(
                listener,
                self.clone(),
                stop.subscribe(),
                side,
            )));
        }
        Ok(RunningGateway {
            gateway: self.clone(),
            addrs,
            stop,
            listeners,
        })
    }
}

impl RunningGateway {
    /// The gateway, to apply configurations, set weights and read the inventory.
    pub fn gateway(&self) -> &Gateway {
        &self.gateway
    }

    /// The first listener's bound address.
    ///
    /// # Panics
    ///
    /// When it serves on no listener at all (see [`local_addrs`](Self::local_addrs)).
    pub fn local_addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// Every listener's bound address.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Stops accepting, lets the requests in flight finish, then returns.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for listener in self.listeners.drain(..) {
            let _ = listener.await;
        }
    }
}

impl Drop for RunningGateway {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Which way a listener's requests go.
#[derive(Debug, Clone, Copy)]
enum Side {
    /// Into the services: matched by the routes.
    Ingress,
    /// Out of one service: matched by the sidecar's destinations.
    Egress,
}

async fn accept(
    listener: TcpListener,
    gateway: Gateway,
    mut stop: watch::Receiver<bool>,
    side: Side,
) {
    let builder = auto::Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors and the like: pause, keep serving.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let shared = gateway.shared.clone();
                let service = service_fn(move |request| {
                    let shared = shared.clone();
                    async move {
                        Ok::<_, Infallible>(match side {
                            Side::Ingress => proxy::handle(shared, request, peer).await,
                            Side::Egress => crate::sidecar::handle(shared, request, peer).await,
                        })
                    }
                });
                let connection = builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .into_owned();
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    if let Err(e) = connection.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            _ = stop.changed() => break,
        }
    }
    drop(listener);
    graceful.shutdown().await;
}
