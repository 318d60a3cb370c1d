//! A timeout per call: a call still running after its timeout is dropped and fails
//! with [`Elapsed`]. Time is tokio's, so `tokio::time::pause()` drives it in tests.
//!
//! Put the timeout inside the breaker, so that the breaker counts timeouts as
//! failures, and inside the retry, so that every attempt gets its own timeout.

mod future;
mod layer;

use std::future::Future;
use std::time::Duration;

pub use self::future::ResponseFuture;
pub use self::layer::{Timeout, TimeoutLayer};

use crate::error::{CallError, Elapsed};

/// Runs `call`, giving up after `after`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::time::Duration;
/// use switchyard_resilience::{error::CallError, timeout};
///
/// let slow = async {
///     tokio::time::sleep(Duration::from_secs(5)).await;
///     Ok::<_, std::io::Error>(())
/// };
/// let result = timeout::run(Duration::from_secs(1), slow).await;
/// assert!(matches!(result, Err(CallError::Timeout(_))));
/// # }
/// ```
pub async fn run<F, T, E>(after: Duration, call: F) -> Result<T, CallError<E>>
where
    F: Future<Output = Result<T, E>>,
{
    match tokio::time::timeout(after, call).await {
        Ok(result) => result.map_err(CallError::Inner),
        Err(_) => Err(CallError::Timeout(Elapsed { after })),
    }
}
