//! The live view as it is now: `/api/breakers`, `/api/routes`, `/api/faults` and
//! `/api/sagas/live`, each for `?cluster=NAME` or every cluster. The changes that
//! follow come on `/api/live` ([`super::stream`]).

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;

use super::AppState;
use super::error::Result;
use super::extract::Params;
use crate::clusters::views::{BreakerView, FaultView, RouteView, SagaStatusView};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/breakers", get(breakers))
        .route("/routes", get(routes_now))
        .route("/faults", get(faults))
        .route("/sagas/live", get(sagas))
}

async fn breakers(State(state): State<AppState>, params: Params) -> Json<Vec<BreakerView>> {
    Json(state.clusters.live().breakers(params.get("cluster")))
}

async fn routes_now(State(state): State<AppState>, params: Params) -> Json<Vec<RouteView>> {
    Json(state.clusters.live().routes(params.get("cluster")))
}

async fn faults(State(state): State<AppState>, params: Params) -> Json<Vec<FaultView>> {
    Json(state.clusters.live().faults(params.get("cluster")))
}

/// The newest saga statuses the agents streamed, newest first (`?limit=`, default all
/// kept: 500 per agent).
async fn sagas(State(state): State<AppState>, params: Params) -> Result<Json<Vec<SagaStatusView>>> {
    let mut sagas = state.clusters.live().recent_sagas(params.get("cluster"));
    if let Some(limit) = params.parse::<usize>("limit")? {
        sagas.truncate(limit);
    }
    Ok(Json(sagas))
}
