//! The bulkhead as tower middleware.

use std::task::{Context, Poll};

use tower::{Layer, Service};

use super::Bulkhead;
use super::future::ResponseFuture;
use crate::error::BoxError;

/// Wraps a service in a [`ConcurrencyLimit`] sharing one [`Bulkhead`].
#[derive(Debug, Clone)]
pub struct BulkheadLayer {
    bulkhead: Bulkhead,
}

impl BulkheadLayer {
    /// Calls share `bulkhead`'s places.
    pub fn new(bulkhead: Bulkhead) -> Self {
        BulkheadLayer { bulkhead }
    }
}

impl<S> Layer<S> for BulkheadLayer {
    type Service = ConcurrencyLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ConcurrencyLimit {
            inner,
            bulkhead: self.bulkhead.clone(),
        }
    }
}

/// A service behind a bulkhead. Unlike tower's `ConcurrencyLimit`, which waits in
/// `poll_ready` for a place, this one is always ready and rejects a call that finds
/// the bulkhead full, with a boxed [`BulkheadFull`](crate::error::BulkheadFull).
#[derive(Debug, Clone)]
pub struct ConcurrencyLimit<S> {
    inner: S,
    bulkhead: Bulkhead,
}

impl<S, Req> Service<Req> for ConcurrencyLimit<S>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        match self.bulkhead.try_enter() {
            Ok(permit) => ResponseFuture::called(self.inner.call(request), permit),
            Err(full) => ResponseFuture::rejected(full.into()),
        }
    }
}
