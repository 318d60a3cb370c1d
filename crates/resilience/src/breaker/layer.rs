//! The breaker as tower middleware.

use std::task::{Context, Poll};

use tower::{Layer, Service};

use super::future::ResponseFuture;
use super::{Breaker, OwnedPermit};
use crate::classify::{Classify, ErrorsAreFailures};
use crate::error::BoxError;

/// Wraps a service in a [`CircuitBreaker`].
#[derive(Debug, Clone)]
pub struct CircuitBreakerLayer<C = ErrorsAreFailures> {
    breaker: Breaker,
    classify: C,
}

impl CircuitBreakerLayer {
    /// Calls go through `breaker`; an error counts as a failure.
    pub fn new(breaker: Breaker) -> Self {
        CircuitBreakerLayer {
            breaker,
            classify: ErrorsAreFailures,
        }
    }
}

impl<C> CircuitBreakerLayer<C> {
    /// Uses `classify` to tell failures from successes (e.g. [`ServerErrors`](crate::classify::ServerErrors)).
    pub fn classify<C2>(self, classify: C2) -> CircuitBreakerLayer<C2> {
        CircuitBreakerLayer {
            breaker: self.breaker,
            classify,
        }
    }
}

impl<S, C: Clone> Layer<S> for CircuitBreakerLayer<C> {
    type Service = CircuitBreaker<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        CircuitBreaker {
            inner,
            breaker: self.breaker.clone(),
            classify: self.classify.clone(),
        }
    }
}

/// A service behind a circuit breaker. Rejected calls fail with a boxed
/// [`BreakerOpen`](crate::error::BreakerOpen) without reaching the inner service.
#[derive(Debug, Clone)]
pub struct CircuitBreaker<S, C = ErrorsAreFailures> {
    inner: S,
    breaker: Breaker,
    classify: C,
}

impl<S, C> CircuitBreaker<S, C> {
    /// Wraps `inner`.
    pub fn new(inner: S, breaker: Breaker, classify: C) -> Self {
        CircuitBreaker {
            inner,
            breaker,
            classify,
        }
    }

    /// The breaker.
    pub fn breaker(&self) -> &Breaker {
        &self.breaker
    }
}

impl<S, C, Req> Service<Req> for CircuitBreaker<S, C>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    C: Classify<S::Response, S::Error> + Clone,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Admission is decided per call, not here: a readiness that reserved a probe
        // could hold it for as long as the caller waits to call.
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        match OwnedPermit::acquire(self.breaker.shared()) {
            Ok(permit) => {
                ResponseFuture::called(self.inner.call(request), permit, self.classify.clone())
            }
            Err(rejected) => ResponseFuture::rejected(rejected),
        }
    }
}
