//! Protection for calls between services: a circuit breaker with manual control, retry
//! with a budget, timeout, rate limiter and bulkhead. Each comes as a plain async API
//! (`breaker.call(|| async { ... })`) and as a tower layer; all report OpenTelemetry
//! metrics named by `switchyard-conventions`. Nothing here depends on the console.
//!
//! # Layer order
//!
//! Outermost first, as a `ServiceBuilder` lists them:
//!
//! 1. [`retry::RetryLayer`] — each attempt goes through everything below, so a
//!    breaker that opens stops the retries, and each attempt gets its own timeout;
//! 2. [`rate_limit::RateLimitLayer`] — turns excess calls away before they take a
//!    bulkhead place or a half-open probe;
//! 3. [`bulkhead::BulkheadLayer`] — bounds the calls in flight; outside the breaker, so
//!    that its local rejections are never counted as the dependency's failures;
//! 4. [`breaker::CircuitBreakerLayer`] — sees only the dependency's outcomes,
//!    timeouts included;
//! 5. [`timeout::TimeoutLayer`] — innermost, so that a call that hangs is a failure
//!    the breaker counts.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), switchyard_resilience::BoxError> {
//! use std::time::Duration;
//! use switchyard_resilience::breaker::{Breaker, BreakerConfig, CircuitBreakerLayer};
//! use switchyard_resilience::bulkhead::{Bulkhead, BulkheadLayer};
//! use switchyard_resilience::classify::TransportErrors;
//! use switchyard_resilience::rate_limit::{Quota, RateLimitLayer, RateLimiter};
//! use switchyard_resilience::retry::{RetryLayer, RetryPolicy};
//! use switchyard_resilience::timeout::TimeoutLayer;
//! use tower::{Service, ServiceBuilder, ServiceExt};
//!
//! let breaker = Breaker::new("inventory", BreakerConfig::default())?;
//! let retry = RetryPolicy::builder("inventory").classify(TransportErrors).build()?;
//! let mut client = ServiceBuilder::new()
//!     .layer(RetryLayer::new(retry))
//!     .layer(RateLimitLayer::new(RateLimiter::new("inventory", Quota::per_second(100))?))
//!     .layer(BulkheadLayer::new(Bulkhead::new("inventory", 32)?))
//!     .layer(CircuitBreakerLayer::new(breaker.clone()))
//!     .layer(TimeoutLayer::new(Duration::from_secs(2)))
//!     .service_fn(|name: &'static str| async move {
//!         Ok::<_, std::io::Error>(format!("hello {name}"))
//!     });
//!
//! let answer = client.ready().await?.call("switchyard").await?;
//! assert_eq!(answer, "hello switchyard");
//! assert_eq!(breaker.snapshot().totals.success, 1);
//! # Ok(()) }
//! ```
//!
//! # Manual control
//!
//! Breakers live in a [`breaker::Registry`] by name; the agent's control API lists
//! them, watches their transitions and commands them: trip (force open), disable,
//! observe-only, reset and release, each carrying who and why and, if wanted, a time
//! to live after which it expires by itself.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use switchyard_resilience::breaker::{BreakerConfig, BreakerState, Command, Registry};
//!
//! let registry = Registry::new();
//! registry.breaker("payments", BreakerConfig::default())?;
//! let snapshot = registry.trip(
//!     "payments",
//!     Command::new("alice", "failing over the database").ttl(Duration::from_secs(600)),
//! )?;
//! assert_eq!(snapshot.state, BreakerState::ForcedOpen);
//! assert!(registry.trip("billing", Command::new("alice", "typo")).is_err());
//! # Ok(()) }
//! ```
//!
//! # Time
//!
//! Everything reads tokio's clock ([`clock::TokioClock`]), so tests run on
//! `tokio::time::pause()` without real sleeps; a [`clock::ManualClock`] serves tests
//! without a runtime.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod breaker;
pub mod bulkhead;
pub mod classify;
pub mod clock;
pub mod error;
pub mod rate_limit;
pub mod retry;
mod shard;
mod telemetry;
pub mod timeout;

pub use error::{BoxError, CallError, Error, Result};
pub use telemetry::Telemetry;
