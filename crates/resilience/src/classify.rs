//! What counts as a failure: the caller's choice.
//!
//! A breaker counts a call as a failure, and a retry policy retries it, when its
//! [`Classify`] says so. Any `Fn(&Result<T, E>) -> bool` is a classifier; the types
//! here cover the usual cases, and [`is_timeout`] / [`is_connection_error`] look through
//! an error's `source()` chain for the common transport failures.

use std::error::Error as StdError;
use std::io;

use crate::error::{BoxError, Elapsed};

/// Decides whether a call's result is a failure (for a breaker) or retryable (for a
/// retry policy).
pub trait Classify<T, E> {
    /// `true` when `result` counts as a failure.
    fn is_failure(&self, result: &Result<T, E>) -> bool;
}

impl<T, E, F> Classify<T, E> for F
where
    F: Fn(&Result<T, E>) -> bool,
{
    fn is_failure(&self, result: &Result<T, E>) -> bool {
        self(result)
    }
}

/// Every `Err` is a failure, every `Ok` a success. The default.
#[derive(Debug, Clone, Copy, Default)]
pub struct ErrorsAreFailures;

impl<T, E> Classify<T, E> for ErrorsAreFailures {
    fn is_failure(&self, result: &Result<T, E>) -> bool {
        result.is_err()
    }
}

/// For HTTP clients: an error, or a response with a 5xx status, is a failure; a
/// 4xx is the caller's problem, not the server's, and counts as a success.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServerErrors;

impl<B, E> Classify<http::Response<B>, E> for ServerErrors {
    fn is_failure(&self, result: &Result<http::Response<B>, E>) -> bool {
        match result {
            Ok(response) => response.status().is_server_error(),
            Err(_) => true,
        }
    }
}

/// Only transport failures count: timeouts and connection errors (see [`is_timeout`]
/// and [`is_connection_error`]). Useful as a retry predicate, where an application
/// error should be returned at once rather than retried.
#[derive(Debug, Clone, Copy, Default)]
pub struct TransportErrors;

impl<T> Classify<T, BoxError> for TransportErrors {
    fn is_failure(&self, result: &Result<T, BoxError>) -> bool {
        match result {
            Ok(_) => false,
            Err(e) => is_timeout(&**e) || is_connection_error(&**e),
        }
    }
}

/// Whether `err`, or any error in its `source()` chain, is a timeout: this crate's
/// [`Elapsed`], tower's `Elapsed`, or an I/O error of kind `TimedOut`.
pub fn is_timeout(err: &(dyn StdError + 'static)) -> bool {
    chain(err).any(|e| {
        e.is::<Elapsed>()
            || e.is::<tokio::time::error::Elapsed>()
            || io_kind(e) == Some(io::ErrorKind::TimedOut)
    })
}

/// Whether `err`, or any error in its `source()` chain, is an I/O error that means the
/// connection failed: refused, reset, aborted, not connected, or closed mid-way.
/// (hyper and hyper-util wrap the `io::Error` of a failed connect, so their connect
/// errors are found through the chain.)
pub fn is_connection_error(err: &(dyn StdError + 'static)) -> bool {
    use io::ErrorKind::*;
    chain(err).any(|e| {
        matches!(
            io_kind(e),
            Some(
                ConnectionRefused
                    | ConnectionReset
                    | ConnectionAborted
                    | NotConnected
                    | BrokenPipe
                    | UnexpectedEof
                    | AddrNotAvailable
                    | HostUnreachable
                    | NetworkUnreachable
            )
        )
    })
}

fn io_kind(e: &(dyn StdError + 'static)) -> Option<io::ErrorKind> {
    e.downcast_ref::<io::Error>().map(io::Error::kind)
}

fn chain<'a>(
    err: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(err), |e| (*e).source())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("request failed")]
    struct Wrapper(#[source] io::Error);

    #[test]
    fn server_errors_are_5xx_and_errors() {
        let ok = http::Response::builder().status(404).body(()).unwrap();
        let bad = http::Response::builder().status(503).body(()).unwrap();
        assert!(!ServerErrors.is_failure(&Ok::<_, ()>(ok)));
        assert!(ServerErrors.is_failure(&Ok::<_, ()>(bad)));
        assert!(ServerErrors.is_failure(&Err::<http::Response<()>, _>(())));
    }

    #[test]
    fn transport_errors_are_found_through_the_chain() {
        let refused: BoxError = Box::new(Wrapper(io::ErrorKind::ConnectionRefused.into()));
        let timed_out: BoxError = Box::new(Elapsed {
            after: std::time::Duration::from_secs(1),
        });
        let other: BoxError = "application said no".into();
        assert!(is_connection_error(&*refused));
        assert!(!is_timeout(&*refused));
        assert!(is_timeout(&*timed_out));
        assert!(TransportErrors.is_failure(&Err::<(), _>(refused)));
        assert!(TransportErrors.is_failure(&Err::<(), _>(timed_out)));
        assert!(!TransportErrors.is_failure(&Err::<(), _>(other)));
        assert!(!TransportErrors.is_failure(&Ok::<(), BoxError>(())));
    }

    #[test]
    fn closures_classify() {
        let only_negative = |r: &Result<i32, ()>| matches!(r, Ok(n) if *n < 0);
        assert!(only_negative.is_failure(&Ok(-1)));
        assert!(!only_negative.is_failure(&Err(())));
        assert!(ErrorsAreFailures.is_failure(&Err::<(), _>(())));
    }
}
