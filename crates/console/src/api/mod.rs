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
mod settings;
mod stream;
mod telemetry;
mod transfer;
mod ui_files;

use std::sync::Arc;

use axum::Router;
use axum::middleware;
use switchyard_store::records::Records;
use switchyard_store::{Ingest, Reader};
use tokio::sync::watch;

pub use auth::{Access, AccessError};
pub use error::ApiError;
pub use settings::SettingsState;
pub use stream::live_frames;
pub use ui_files::UiFiles;

use crate::clusters::Clusters;

/// What the handlers share. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    pub clusters: Arc<Clusters>,
    pub reader: Reader,
    pub records: Records,
    /// The writer's queue, for imports; `None` when another process receives.
    ingest: Option<Ingest>,
    /// The saved settings; `None` in a console that keeps none (tests).
    settings: Option<Arc<SettingsState>>,
    stop: Arc<watch::Sender<bool>>,
}

impl AppState {
    pub fn new(clusters: Arc<Clusters>, reader: Reader, records: Records) -> AppState {
        AppState {
            clusters,
            reader,
            records,
            ingest: None,
            settings: None,
            stop: Arc::new(watch::channel(false).0),
        }
    }

    /// Imports (`POST /api/import`) go to `ingest`.
    pub fn with_ingest(mut self, ingest: Ingest) -> AppState {
        self.ingest = Some(ingest);
        self
    }

    /// `/api/settings` reads and saves `settings`.
    pub fn with_settings(mut self, settings: SettingsState) -> AppState {
        self.settings = Some(Arc::new(settings));
        self
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
        .merge(transfer::routes())
        .merge(settings::routes())
        .fallback(unknown_endpoint)
        .with_state(state)
        .layer(middleware::from_fn_with_state(access, auth::require));
    Router::new().nest("/api", api).merge(ui.router())
}

async fn unknown_endpoint(axum::extract::OriginalUri(uri): axum::extract::OriginalUri) -> ApiError {
    ApiError::not_found(format!("no API endpoint {}", uri.path()))
}
