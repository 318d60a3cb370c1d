//! `/api/settings`: the saved receiver ports and retention (the Settings view), beside
//! what this console runs with now. Saved values apply at the next start.

use std::path::PathBuf;
use std::sync::Mutex;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::AppState;
use super::error::{ApiError, Result};
use super::extract::Body;
use crate::settings::{Resolved, Settings, SettingsError, SettingsFile};

/// The settings file and what the running console uses.
#[derive(Debug)]
pub struct SettingsState {
    file: Mutex<SettingsFile>,
    effective: Resolved,
    db_path: PathBuf,
}

impl SettingsState {
    pub fn new(file: SettingsFile, effective: Resolved, db_path: PathBuf) -> SettingsState {
        SettingsState {
            file: Mutex::new(file),
            effective,
            db_path,
        }
    }

    fn answer(&self) -> SettingsAnswer {
        let file = self.file.lock().expect("settings lock");
        let settings = file.settings().resolved();
        SettingsAnswer {
            restart_required: differs(&settings, &self.effective),
            settings,
            effective: self.effective.clone(),
            db_path: self.db_path.display().to_string(),
            file: file.path().display().to_string(),
        }
    }
}

/// Whether the saved settings differ from what runs (a console that does not receive
/// ignores the ports).
fn differs(saved: &Resolved, running: &Resolved) -> bool {
    let ports = running.otlp_grpc.is_some()
        && (saved.otlp_grpc != running.otlp_grpc || saved.otlp_http != running.otlp_http);
    ports
        || saved.retention_age != running.retention_age
        || saved.retention_size_mib != running.retention_size_mib
}

#[derive(Debug, Serialize)]
struct SettingsAnswer {
    /// The saved settings over the defaults: what the next start uses.
    settings: Resolved,
    /// What this console runs with now.
    effective: Resolved,
    db_path: String,
    file: String,
    /// The saved settings differ from the running ones.
    restart_required: bool,
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/settings", get(read).put(save))
}

fn state(state: &AppState) -> Result<&SettingsState> {
    state
        .settings
        .as_deref()
        .ok_or_else(|| ApiError::not_found("this console keeps no settings"))
}

async fn read(State(app): State<AppState>) -> Result<Json<SettingsAnswer>> {
    Ok(Json(state(&app)?.answer()))
}

/// The body is the whole set of saved settings (`null` or absent: the default).
async fn save(
    State(app): State<AppState>,
    Body(settings): Body<Settings>,
) -> Result<Json<SettingsAnswer>> {
    let settings_state = state(&app)?;
    {
        let mut file = settings_state.file.lock().expect("settings lock");
        file.replace(settings).map_err(|e| match e {
            SettingsError::Invalid(message) => ApiError::bad_request(message),
            other => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "settings_not_saved",
                other.to_string(),
            ),
        })?;
    }
    Ok(Json(settings_state.answer()))
}
