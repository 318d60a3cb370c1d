//! Passing a call through to the host the service named: one breaker per `host:port`
//! in front of the pooled client (which resolves the name), retries of idempotent
//! calls while the breaker lets them through.

use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use switchyard_resilience::breaker::Breaker;
use switchyard_resilience::retry::RetryPolicy;

use bytes::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::forward::{Outgoing, is_idempotent};

/// The pass-through client: unlike the gateway's own pools (instances are addresses),
/// it resolves the host names services call.
pub(crate) type HttpClient = Client<HttpConnector, Full<Bytes>>;

pub(crate) fn client() -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(std::time::Duration::from_secs(2)));
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(std::time::Duration::from_secs(30))
        .build(connector)
}

/// The retry classifier of calls passed through.
pub(crate) type Classifier = fn(&Result<Response<Incoming>, DirectError>) -> bool;

#[derive(Debug, thiserror::Error)]
pub(crate) enum DirectError {
    #[error("circuit breaker {0} is open: the call was not sent")]
    Open(String),
    #[error("{authority} failed: {source}")]
    Upstream {
        authority: String,
        source: hyper_util::client::legacy::Error,
    },
    #[error("cannot build the request: {0}")]
    Request(#[from] http::Error),
}

/// 5xx answers and connection errors are retried; an open breaker is not (it would
/// refuse again).
pub(crate) fn retryable(result: &Result<Response<Incoming>, DirectError>) -> bool {
    match result {
        Ok(response) => response.status().is_server_error(),
        Err(DirectError::Upstream { .. }) => true,
        Err(DirectError::Open(_) | DirectError::Request(_)) => false,
    }
}

/// Sends `out` to `authority` (`host:port`) through `breaker`, retrying per `retry`
/// when the method is idempotent.
pub(crate) async fn send(
    client: &HttpClient,
    breaker: &Breaker,
    retry: Option<&RetryPolicy<Classifier>>,
    authority: &str,
    out: &Outgoing,
) -> Result<Response<Incoming>, DirectError> {
    match retry {
        Some(policy) if is_idempotent(&out.method) => {
            policy
                .call(|| attempt(client, breaker, authority, out))
                .await
        }
        _ => attempt(client, breaker, authority, out).await,
    }
}

async fn attempt(
    client: &HttpClient,
    breaker: &Breaker,
    authority: &str,
    out: &Outgoing,
) -> Result<Response<Incoming>, DirectError> {
    let permit = breaker
        .try_acquire()
        .map_err(|_| DirectError::Open(breaker.name().to_owned()))?;
    let mut request = Request::builder()
        .method(out.method.clone())
        .uri(format!("http://{authority}{}", out.path_and_query))
        .body(Full::new(out.body.clone()))?;
    *request.headers_mut() = out.headers.clone();
    match client.request(request).await {
        Ok(response) => {
            permit.record(response.status().is_server_error());
            Ok(response)
        }
        Err(source) => {
            permit.failure();
            Err(DirectError::Upstream {
                authority: authority.to_owned(),
                source,
            })
        }
    }
}
