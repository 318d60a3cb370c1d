//! Listening, nginx-style: a few worker threads (one per core by default), each with
//! its own single-threaded event loop and its own upstream connection pool. An accept
//! loop per listener deals connections out to the workers in turn; a connection then
//! lives on one worker, together with the upstream connections it uses, so a request
//! never wakes another thread. (A work-stealing runtime moved every request between
//! threads at least twice: a futex wake and a context switch each, a third of the
//! gateway's CPU per request.)
//!
//! HTTP/1 and HTTP/2 on every connection, with graceful shutdown: connections finish
//! the requests they have, then close.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::error::{Error, Result};
use crate::gateway::{Gateway, Shared};
use crate::pool::Pool;
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
    acceptors: Vec<JoinHandle<()>>,
    workers: Vec<oneshot::Receiver<()>>,
}

impl Gateway {
    /// Builds a gateway from `config` and serves it on `config.listeners`.
    pub async fn start(config: crate::Config) -> Result<RunningGateway> {
        let listen: Vec<String> = config.listeners.clone();
        let gateway = Gateway::new(config)?;
        gateway.serve_on(&listen).await
    }

    /// Serves this gateway on `listen` (each `ip:port`; port 0 picks one), with the
    /// running configuration's number of workers.
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
        let mut bound = Vec::new();
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
            let local = listener
                .local_addr()
                .map_err(|source| Error::Bind { addr, source })?;
            bound.push((listener, local));
        }

        let count = self
            .shared
            .runtime
            .load()
            .workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let (stop, _) = watch::channel(false);
        let mut lanes = Vec::with_capacity(count);
        let mut workers = Vec::with_capacity(count);
        for index in 0..count {
            let (lane, done) = spawn_worker(index, self.shared.clone(), side, stop.subscribe())?;
            lanes.push(lane);
            workers.push(done);
        }
        let lanes: Arc<[Lane]> = lanes.into();
        let addrs = bound.iter().map(|(_, addr)| *addr).collect();
        let acceptors = bound
            .into_iter()
            .map(|(listener, _)| tokio::spawn(accept(listener, lanes.clone(), stop.subscribe())))
            .collect();
        Ok(RunningGateway {
            gateway: self.clone(),
            addrs,
            stop,
            acceptors,
            workers,
        })
    }
}

impl RunningGateway {
    /// The gateway, to apply configurations, set weights and read the inventory.
    pub fn gateway(&self) -> &Gateway {
        &self.gateway
    }

    /// The first listener's bound address.
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
        for acceptor in self.acceptors.drain(..) {
            let _ = acceptor.await;
        }
        for worker in self.workers.drain(..) {
            // An error only says the worker is gone already.
            let _ = worker.await;
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

/// Where an accept loop hands a connection to one worker.
type Lane = mpsc::UnboundedSender<(std::net::TcpStream, SocketAddr)>;

/// Starts worker `index` on a thread of its own; the receiver resolves when it has
/// stopped (after `stop` and its connections' last requests).
fn spawn_worker(
    index: usize,
    shared: Arc<Shared>,
    side: Side,
    stop: watch::Receiver<bool>,
) -> Result<(Lane, oneshot::Receiver<()>)> {
    let (lane, connections) = mpsc::unbounded_channel();
    let (done, finished) = oneshot::channel();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Error::Worker)?;
    std::thread::Builder::new()
        .name(format!("gateway-{index}"))
        .spawn(move || {
            runtime.block_on(work(shared, side, connections, stop));
            // Shadow requests still running are cut off with the runtime.
            drop(runtime);
            let _ = done.send(());
        })
        .map_err(Error::Worker)?;
    Ok((lane, finished))
}

/// One worker: serves the connections dealt to it until told to stop.
async fn work(
    shared: Arc<Shared>,
    side: Side,
    mut connections: mpsc::UnboundedReceiver<(std::net::TcpStream, SocketAddr)>,
    mut stop: watch::Receiver<bool>,
) {
    // Used from this worker only, so its connection tasks run on this worker's loop.
    let pool = Pool::default();
    let builder = auto::Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            next = connections.recv() => {
                let Some((stream, peer)) = next else { break };
                let stream = match tokio::net::TcpStream::from_std(stream) {
                    Ok(stream) => stream,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot take over a connection");
                        continue;
                    }
                };
                let shared = shared.clone();
                let pool = pool.clone();
                let service = service_fn(move |request| {
                    let shared = shared.clone();
                    let pool = pool.clone();
                    async move {
                        Ok::<_, Infallible>(match side {
                            Side::Ingress => proxy::handle(shared, pool, request, peer).await,
                            Side::Egress => {
                                crate::sidecar::handle(shared, pool, request, peer).await
                            }
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
    graceful.shutdown().await;
}

/// Accepts on `listener` and deals the connections to the workers in turn.
async fn accept(listener: TcpListener, lanes: Arc<[Lane]>, mut stop: watch::Receiver<bool>) {
    let mut next = 0usize;
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
                // Leave this loop's reactor; the worker registers it with its own.
                let stream = match stream.into_std() {
                    Ok(stream) => stream,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot hand over a connection");
                        continue;
                    }
                };
                // A worker only ends after `stop`, so a send fails only while stopping.
                let _ = lanes[next % lanes.len()].send((stream, peer));
                next = next.wrapping_add(1);
            }
            _ = stop.changed() => break,
        }
    }
}
