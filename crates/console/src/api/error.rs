//! Errors as the API answers them: an HTTP status and a JSON body
//! `{"error": "what went wrong, for the user", "kind": "a_stable_name"}`. The UI shows
//! `error` as it is and branches on `kind`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use switchyard_store::StoreError;

use crate::clusters::{ClustersError, CommandError};

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub message: String,
}

/// The JSON body of an error answer.
#[derive(Debug, Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    kind: &'a str,
}

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

impl ApiError {
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            kind,
            message: message.into(),
        }
    }

    /// A malformed request: a bad parameter or body.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: &self.message,
            kind: self.kind,
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<CommandError> for ApiError {
    fn from(error: CommandError) -> Self {
        let (status, kind) = match &error {
            CommandError::UnknownCluster(_) => (StatusCode::NOT_FOUND, "unknown_cluster"),
            CommandError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            CommandError::ViewOnly(_) => (StatusCode::FORBIDDEN, "view_only"),
            // The agent refused *our* token: a gateway-side failure, not the caller's
            // (401 would tell the browser its own credentials were wrong).
            CommandError::Unauthenticated { .. } => {
                (StatusCode::BAD_GATEWAY, "agent_unauthenticated")
            }
            CommandError::Unreachable { .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, "agent_unreachable")
            }
            CommandError::Refused { .. } => (StatusCode::CONFLICT, "refused"),
            CommandError::Agent { .. } => (StatusCode::BAD_GATEWAY, "agent_error"),
        };
        ApiError::new(status, kind, error.to_string())
    }
}

impl From<ClustersError> for ApiError {
    fn from(error: ClustersError) -> Self {
        let (status, kind) = match &error {
            ClustersError::Exists(_) => (StatusCode::CONFLICT, "exists"),
            ClustersError::Unknown(_) => (StatusCode::NOT_FOUND, "unknown_cluster"),
            ClustersError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid_cluster"),
            ClustersError::Read { .. }
            | ClustersError::Parse { .. }
            | ClustersError::Write { .. }
            | ClustersError::NoConfigDir => (StatusCode::INTERNAL_SERVER_ERROR, "clusters_file"),
        };
        ApiError::new(status, kind, error.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        let (status, kind) = match &error {
            StoreError::InvalidQuery(_) => (StatusCode::BAD_REQUEST, "invalid_query"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "store"),
        };
        ApiError::new(status, kind, error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_errors_map_to_statuses_that_say_whose_fault_it_is() {
        let status = |e: CommandError| ApiError::from(e).status;
        assert_eq!(
            status(CommandError::UnknownCluster("x".into())),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            status(CommandError::ViewOnly("x".into())),
            StatusCode::FORBIDDEN
        );
        let endpoint = "http://a".to_owned();
        let message = "m".to_owned();
        let e = ApiError::from(CommandError::Unauthenticated {
            endpoint: endpoint.clone(),
            message: message.clone(),
        });
        assert_eq!(
            (e.status, e.kind),
            (StatusCode::BAD_GATEWAY, "agent_unauthenticated")
        );
        assert_eq!(
            status(CommandError::Unreachable {
                endpoint: endpoint.clone(),
                message: message.clone()
            }),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            status(CommandError::Refused { endpoint, message }),
            StatusCode::CONFLICT
        );
    }
}
