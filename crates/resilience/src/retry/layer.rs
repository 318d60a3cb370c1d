//! Retries as tower middleware.

use std::task::{Context, Poll};

use tower::{Layer, Service};

use super::RetryPolicy;
use super::future::ResponseFuture;
use crate::classify::Classify;
use crate::error::BoxError;

/// Wraps a service in a [`Retry`].
#[derive(Debug, Clone)]
pub struct RetryLayer<C> {
    policy: RetryPolicy<C>,
}

impl<C> RetryLayer<C> {
    /// Retries by `policy`.
    pub fn new(policy: RetryPolicy<C>) -> Self {
        RetryLayer { policy }
    }
}

impl<S, C: Clone> Layer<S> for RetryLayer<C> {
    type Service = Retry<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        Retry {
            inner,
            policy: self.policy.clone(),
        }
    }
}

/// A service whose failed calls are retried. Requests are cloned for each attempt, so
/// they must be `Clone` (for HTTP, a request with a buffered body).
#[derive(Debug, Clone)]
pub struct Retry<S, C> {
    inner: S,
    policy: RetryPolicy<C>,
}

impl<S, C, Req> Service<Req> for Retry<S, C>
where
    S: Service<Req> + Clone,
    S::Error: Into<BoxError>,
    Req: Clone,
    C: Classify<S::Response, S::Error> + Clone,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S, Req, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        // The service that was polled ready makes the first attempt and keeps the
        // retries; this one gets a fresh clone (tower's usual move).
        let clone = self.inner.clone();
        let mut service = std::mem::replace(&mut self.inner, clone);
        self.policy.started();
        let future = service.call(request.clone());
        ResponseFuture::new(service, request, self.policy.clone(), future)
    }
}
