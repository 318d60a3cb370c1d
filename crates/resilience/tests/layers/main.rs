//! The tower layers: each alone against tower-test mocks, then composed in a real
//! hyper client against a real local HTTP server.

mod breaker;
mod bulkhead;
mod http;
mod rate_limit;
mod retry;
mod timeout;

use switchyard_resilience::BoxError;

/// Downcasts a boxed error to a concrete one, or fails the test naming what it got.
#[track_caller]
fn downcast<E: std::error::Error + 'static>(err: &BoxError) -> &E {
    err.downcast_ref::<E>()
        .unwrap_or_else(|| panic!("expected {}, got {err:?}", std::any::type_name::<E>()))
}
