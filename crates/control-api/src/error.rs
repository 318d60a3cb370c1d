//! Errors a backend returns, and how they reach the wire.

use tonic::{Code, Status};

/// A backend command's failure; each kind maps to one gRPC code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// No such breaker, saga, route or service: `NOT_FOUND`, naming it.
    #[error("{kind} {name:?} not found")]
    NotFound {
        /// What was looked up, e.g. `"breaker"`.
        kind: &'static str,
        /// The name or id asked for.
        name: String,
    },
    /// The command is not allowed in the current state: `FAILED_PRECONDITION`.
    #[error("{0}")]
    NotAllowed(String),
    /// The request is malformed: `INVALID_ARGUMENT`.
    #[error("{0}")]
    InvalidArgument(String),
    /// The backend cannot answer right now: `UNAVAILABLE`.
    #[error("{0}")]
    Unavailable(String),
    /// Anything else: `INTERNAL`.
    #[error("{0}")]
    Internal(String),
}

impl BackendError {
    /// `NOT_FOUND` for a `kind` named `name`.
    pub fn not_found(kind: &'static str, name: impl Into<String>) -> Self {
        BackendError::NotFound {
            kind,
            name: name.into(),
        }
    }

    /// The gRPC code this error is answered with.
    pub fn code(&self) -> Code {
        match self {
            BackendError::NotFound { .. } => Code::NotFound,
            BackendError::NotAllowed(_) => Code::FailedPrecondition,
            BackendError::InvalidArgument(_) => Code::InvalidArgument,
            BackendError::Unavailable(_) => Code::Unavailable,
            BackendError::Internal(_) => Code::Internal,
        }
    }
}

impl From<BackendError> for Status {
    fn from(err: BackendError) -> Self {
        Status::new(err.code(), err.to_string())
    }
}

/// The result of a backend call.
pub type Result<T, E = BackendError> = std::result::Result<T, E>;
