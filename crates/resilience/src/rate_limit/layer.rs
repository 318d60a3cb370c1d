//! The rate limiter as tower middleware.

use std::hash::Hash;
use std::task::{Context, Poll};

use tower::{Layer, Service};

use super::RateLimiter;
use super::future::ResponseFuture;
use crate::error::BoxError;

/// Picks the rate-limit key of a request. Any `Fn(&Req) -> K` does; [`Global`] puts
/// every request under one key.
pub trait KeyOf<Req> {
    /// The key.
    type Key;
    /// The key of `request`.
    fn key(&self, request: &Req) -> Self::Key;
}

impl<Req, K, F> KeyOf<Req> for F
where
    F: Fn(&Req) -> K,
{
    type Key = K;

    fn key(&self, request: &Req) -> K {
        self(request)
    }
}

/// One limit over all requests.
#[derive(Debug, Clone, Copy, Default)]
pub struct Global;

impl<Req> KeyOf<Req> for Global {
    type Key = ();

    fn key(&self, _: &Req) {}
}

/// Wraps a service in a [`RateLimit`].
#[derive(Debug, Clone)]
pub struct RateLimitLayer<K, F = Global> {
    limiter: RateLimiter<K>,
    key: F,
}

impl RateLimitLayer<()> {
    /// One limit over every request.
    pub fn new(limiter: RateLimiter<()>) -> Self {
        RateLimitLayer {
            limiter,
            key: Global,
        }
    }
}

impl<K, F> RateLimitLayer<K, F> {
    /// A limit per key, the key taken from each request by `key`.
    pub fn keyed(limiter: RateLimiter<K>, key: F) -> Self {
        RateLimitLayer { limiter, key }
    }
}

impl<S, K, F: Clone> Layer<S> for RateLimitLayer<K, F> {
    type Service = RateLimit<S, K, F>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimit {
            inner,
            limiter: self.limiter.clone(),
            key: self.key.clone(),
        }
    }
}

/// A service behind a rate limiter. Calls over the limit fail with a boxed
/// [`RateLimited`](crate::error::RateLimited), unless the limiter is observe-only.
#[derive(Debug, Clone)]
pub struct RateLimit<S, K, F = Global> {
    inner: S,
    limiter: RateLimiter<K>,
    key: F,
}

impl<S, K, F, Req> Service<Req> for RateLimit<S, K, F>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    F: KeyOf<Req, Key = K>,
    K: Hash + Eq + Clone + Send + Sync + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let key = self.key.key(&request);
        match self.limiter.check(&key) {
            Ok(()) => ResponseFuture::called(self.inner.call(request)),
            Err(limited) => ResponseFuture::rejected(limited.into()),
        }
    }
}
