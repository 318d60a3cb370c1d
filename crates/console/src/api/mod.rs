//! The console's HTTP/JSON API for the UI, with a live event stream.
//!
//! Everything is under `/api` (the table is in the crate's README); other paths serve the
//! UI's files ([`UiFiles`]). Each resource group is a module with a `routes()` merged by
//! [`router`]; [`models`] is where the saga and breaker models' endpoints join. Every
//! `/api` request passes [`auth`] first; every error is `{"error", "kind"}` with a status
//! that says whose fault it is ([`error`]).

pub mod auth;
mod checks;
pub mod clusters;
mod commands;
pub mod error;
pub mod extract;
mod live;
mod models;
mod plots;
mod stream;
mod telemetry;
mod ui_files;

use std::sync::Arc;

use axum::Router;
use axum::middleware;
use switchyard_store::Reader;
use switchyard_store::records::Records;
use tokio::sync::watch;

pub use auth::{Access, AccessError};
pub use error::ApiError;
pub use ui_files::UiFiles;

use crate::clusters::Clusters;

/// What the handlers share. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    pub clusters: Arc<Clusters>,
    pub reader: Reader,
    pub records: Records,
    stop: Arc<watch::Sender<bool>>,
}

impl AppState {
    pub fn new(clusters: Arc<Clusters>, reader: Reader, records: Records) -> AppState {
        AppState {
            clusters,
            reader,
            records,
            stop: Arc::new(watch::channel(false).0),
        }
    }

    /// Ends every open live stream (before a graceful shutdown, which would otherwise
    /// wait for them).
    pub fn close_streams(&self) {
        self.stop.send_replace(true);
    }

    fn stopping(&self) -> watch::Receiver<bool> {
        self.stop.subscribe()
    }
}

/// The whole app: the API under `/api` behind `access`, the UI's files elsewhere.
pub fn router(state: AppState, access: Access, ui: &UiFiles) -> Router {
    let api = Router::new()
        .merge(clusters::routes())
        .merge(live::routes())
        .merge(stream::routes())
        .merge(commands::routes())
        .merge(checks::routes())
        .merge(plots::routes())
        .merge(telemetry::routes())
        .merge(models::routes())
        .fallback(unknown_endpoint)
        .with_state(state)
        .layer(middleware::from_fn_with_state(access, auth::require));
    Router::new().nest("/api", api).merge(ui.router())
}

async fn unknown_endpoint(axum::extract::OriginalUri(uri): axum::extract::OriginalUri) -> ApiError {
    ApiError::not_found(format!("no API endpoint {}", uri.path()))
}
