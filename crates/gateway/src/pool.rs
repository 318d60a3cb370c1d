//! Upstream connections: HTTP/1 keep-alive connections kept per instance address.
//!
//! Each gateway worker has a pool of its own, so a connection is used by the thread
//! that made it (no lock shared between workers, no request crossing threads). A
//! connection is busy until the answer's body has been read to its end; then it goes
//! back to the pool, without a task or a timer per request. Connections the upstream
//! closed are dropped when next looked at.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::HOST;
use http::{HeaderValue, Request, Response};
use http_body_util::Full;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// An idle connection older than this is closed rather than reused (upstreams close
/// idle keep-alive connections too, and a stale one would fail the request).
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Idle connections kept per instance and pool; more are closed as they come back.
const MAX_IDLE: usize = 256;

type Sender = SendRequest<Full<Bytes>>;

/// A pool of upstream connections. Cheap to clone (clones share the pool).
#[derive(Clone, Default)]
pub(crate) struct Pool {
    idle: Arc<Mutex<HashMap<SocketAddr, Vec<Idle>>>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").finish_non_exhaustive()
    }
}

struct Idle {
    sender: Sender,
    since: Instant,
}

/// Why an upstream exchange failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SendError {
    #[error("cannot connect: {0}")]
    Connect(#[source] std::io::Error),
    #[error("connecting took longer than {CONNECT_TIMEOUT:?}")]
    ConnectTimeout,
    #[error("{0}")]
    Http(#[from] hyper::Error),
}

impl Pool {
    /// Sends `request` (origin-form URI) to `addr` on an idle connection or a new one,
    /// and returns the answer once its head is in. Without a `Host` header, the
    /// upstream's address is sent as the host.
    pub(crate) async fn send(
        &self,
        addr: SocketAddr,
        mut request: Request<Full<Bytes>>,
    ) -> Result<Response<UpstreamBody>, SendError> {
        if !request.headers().contains_key(HOST)
            && let Ok(host) = HeaderValue::from_str(&addr.to_string())
        {
            request.headers_mut().insert(HOST, host);
        }
        // A reused connection may have been closed by the upstream just now; a request
        // it did not take is sent again on another connection.
        while let Some(mut sender) = self.checkout(addr) {
            if sender.ready().await.is_err() {
                continue;
            }
            match sender.try_send_request(request).await {
                Ok(response) => return Ok(self.answer(addr, sender, response)),
                Err(mut failed) => match failed.take_message() {
                    Some(unsent) => request = unsent,
                    None => return Err(failed.into_error().into()),
                },
            }
        }
        let mut sender = connect(addr).await?;
        let response = sender.send_request(request).await?;
        Ok(self.answer(addr, sender, response))
    }

    fn answer(
        &self,
        addr: SocketAddr,
        sender: Sender,
        response: Response<Incoming>,
    ) -> Response<UpstreamBody> {
        response.map(|body| {
            let mut body = UpstreamBody {
                body,
                home: Some((sender, self.clone(), addr)),
            };
            if body.body.is_end_stream() {
                body.release();
            }
            body
        })
    }

    /// The most recently used open connection to `addr`, if any.
    fn checkout(&self, addr: SocketAddr) -> Option<Sender> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let list = idle.get_mut(&addr)?;
        while let Some(entry) = list.pop() {
            if !entry.sender.is_closed() && entry.since.elapsed() < IDLE_TIMEOUT {
                return Some(entry.sender);
            }
        }
        None
    }

    fn put_back(&self, addr: SocketAddr, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let list = idle.entry(addr).or_default();
        if list.len() < MAX_IDLE {
            list.push(Idle {
                sender,
                since: Instant::now(),
            });
        }
    }
}

async fn connect(addr: SocketAddr) -> Result<Sender, SendError> {
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| SendError::ConnectTimeout)?
        .map_err(SendError::Connect)?;
    let _ = stream.set_nodelay(true);
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(upstream = %addr, error = %e, "upstream connection ended with an error");
        }
    });
    Ok(sender)
}

/// An upstream answer's body; its connection returns to the pool when it has been
/// read to the end, and is closed if the body is dropped before that.
pub(crate) struct UpstreamBody {
    body: Incoming,
    home: Option<(Sender, Pool, SocketAddr)>,
}

impl UpstreamBody {
    fn release(&mut self) {
        if let Some((sender, pool, addr)) = self.home.take() {
            pool.put_back(addr, sender);
        }
    }
}

impl std::fmt::Debug for UpstreamBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamBody").finish_non_exhaustive()
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let frame = ready!(Pin::new(&mut self.body).poll_frame(cx));
        match &frame {
            None => self.release(),
            Some(Ok(_)) if self.body.is_end_stream() => self.release(),
            // An error: the connection is not reused.
            Some(Err(_)) => self.home = None,
            Some(Ok(_)) => {}
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
