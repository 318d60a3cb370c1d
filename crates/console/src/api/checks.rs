//! The console's checks over the live view and the store: `GET /api/findings` (stuck
//! detectors) and `POST /api/impact` (what a command would touch, for its confirmation).
//! Closed-loop verdicts arrive with the commands (`/api/history`, `command` events).

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::AppState;
use super::error::Result;
use super::extract::{Body, Params};
use crate::clusters::Command;
use crate::findings::{self, Finding, Thresholds};
use crate::impact::{self, Impact};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/findings", get(list_findings))
        .route("/impact", post(preview))
}

/// `?saga_quiet=5m&breaker_quiet=2m&projection_lag_seconds=30`, oldest first.
async fn list_findings(
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<Vec<Finding>>> {
    let defaults = Thresholds::default();
    let thresholds = Thresholds {
        saga_quiet: params
            .duration("saga_quiet")?
            .unwrap_or(defaults.saga_quiet),
        breaker_quiet: params
            .duration("breaker_quiet")?
            .unwrap_or(defaults.breaker_quiet),
        projection_lag_seconds: params
            .parse("projection_lag_seconds")?
            .unwrap_or(defaults.projection_lag_seconds),
        look_back: defaults.look_back,
    };
    Ok(Json(
        findings::detect(
            state.clusters.live(),
            &state.records,
            Some(&state.reader),
            &thresholds,
        )
        .await?,
    ))
}

/// The body: `{"cluster": "shop", "command": {"action": "trip", "breaker": "b"}}`.
#[derive(Debug, Deserialize)]
struct ImpactRequest {
    cluster: String,
    command: Command,
}

async fn preview(
    State(state): State<AppState>,
    Body(request): Body<ImpactRequest>,
) -> Result<Json<Impact>> {
    Ok(Json(
        impact::preview(
            &state.reader,
            state.clusters.live(),
            &request.cluster,
            &request.command,
        )
        .await?,
    ))
}
