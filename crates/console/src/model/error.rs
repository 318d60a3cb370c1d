//! Errors of the models.

use switchyard_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    #[error("{0}")]
    NotFound(String),
}

pub type Result<T, E = ModelError> = std::result::Result<T, E>;
