//! Sending a request to a cluster: pick an instance, ask its breaker, send on the
//! worker's connection pool, report the outcome (5xx and connection errors are failures), and
//! retry idempotent requests elsewhere within the route's budget.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http::uri::PathAndQuery;
use http::{HeaderMap, Method, Request, Response};
use http_body_util::Full;
use switchyard_resilience::retry::RetryPolicy;

use crate::balancer;
use crate::cluster::Cluster;
use crate::pool::{Pool, SendError, UpstreamBody};

/// The retry classifier of routes: connection errors and 5xx answers are retried.
pub(crate) type Classifier = fn(&Result<Answer, ForwardError>) -> bool;

pub(crate) fn retryable(result: &Result<Answer, ForwardError>) -> bool {
    match result {
        Ok(answer) => answer.response.status().is_server_error(),
        // No instance to try: another attempt now would find none either.
        Err(ForwardError::NoInstance(_) | ForwardError::Request(_) | ForwardError::Body { .. }) => {
            false
        }
        Err(ForwardError::Upstream { .. }) => true,
    }
}

/// Whether a method may be retried: a repeat must not do anything twice.
pub(crate) fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE
    )
}

/// A request ready to go upstream, replayable for retries and shadows.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    pub(crate) method: Method,
    pub(crate) path_and_query: PathAndQuery,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// An upstream's answer and who gave it.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) response: Response<UpstreamBody>,
    pub(crate) addr: SocketAddr,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ForwardError {
    #[error("no healthy instance with a closed breaker in cluster {0:?}")]
    NoInstance(Arc<str>),
    #[error("upstream {addr} failed: {source}")]
    Upstream { addr: SocketAddr, source: SendError },
    #[error("upstream {addr} broke off its answer: {source}")]
    Body {
        addr: SocketAddr,
        source: hyper::Error,
    },
    #[error("cannot build the upstream request: {0}")]
    Request(#[from] http::Error),
}

/// Sends `out` to `cluster`, retrying per `retry` when the method is idempotent.
pub(crate) async fn send(
    pool: &Pool,
    cluster: &Cluster,
    retry: Option<&RetryPolicy<Classifier>>,
    out: &Outgoing,
) -> Result<Answer, ForwardError> {
    let tried = Mutex::new(Vec::new());
    match retry {
        Some(policy) if is_idempotent(&out.method) => {
            policy.call(|| attempt(pool, cluster, &tried, out)).await
        }
        _ => attempt(pool, cluster, &tried, out).await,
    }
}

/// One attempt on one instance, avoiding those in `tried` when others are left.
pub(crate) async fn attempt(
    pool: &Pool,
    cluster: &Cluster,
    tried: &Mutex<Vec<SocketAddr>>,
    out: &Outgoing,
) -> Result<Answer, ForwardError> {
    let (instance, permit) = {
        let mut tried = tried.lock().unwrap_or_else(PoisonError::into_inner);
        let pick = balancer::pick(cluster, &tried)
            .ok_or_else(|| ForwardError::NoInstance(cluster.name.clone()))?;
        tried.push(pick.0.addr);
        pick
    };
    let _in_flight = instance.start();
    let mut request = Request::builder()
        .method(out.method.clone())
        .uri(out.path_and_query.clone())
        .body(Full::new(out.body.clone()))?;
    *request.headers_mut() = out.headers.clone();
    match pool.send(instance.addr, request).await {
        Ok(response) => {
            permit.record(response.status().is_server_error());
            Ok(Answer {
                response,
                addr: instance.addr,
            })
        }
        Err(source) => {
            permit.failure();
            Err(ForwardError::Upstream {
                addr: instance.addr,
                source,
            })
        }
    }
}
