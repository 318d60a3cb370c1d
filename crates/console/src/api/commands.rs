//! `POST /api/commands` sends a command to the agent that has its subject;
//! `GET /api/history` lists the commands sent (the audit history) and `GET /api/events`
//! the state changes the agents reported, both from the store.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use switchyard_store::records::{CommandQuery, CommandRecord, ControlEvent, EventQuery};

use super::AppState;
use super::error::Result;
use super::extract::{Body, Params};
use crate::clusters::CommandRequest;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/commands", post(execute))
        .route("/history", get(history))
        .route("/events", get(events))
}

/// The body is a [`CommandRequest`]:
/// `{"cluster": "shop", "command": {"action": "trip", "breaker": "b", "ttl_seconds": null},
///   "reason": "game day", "who": "alice"}`. The answer is the command's record, with the
/// agent's resulting state in `result`; errors say why (see [`super::error`]).
async fn execute(
    State(state): State<AppState>,
    Body(request): Body<CommandRequest>,
) -> Result<Json<CommandRecord>> {
    Ok(Json(state.clusters.execute(&request).await?))
}

/// `?cluster=&target=&since=&without_verdict&limit=`, newest first.
async fn history(
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<Vec<CommandRecord>>> {
    let query = CommandQuery {
        cluster: params.string("cluster"),
        target: params.string("target"),
        since_unix_ms: params.time_unix_ms("since")?,
        without_verdict: params.flag("without_verdict")?,
        limit: params.parse("limit")?,
    };
    Ok(Json(state.clusters.history(&query).await?))
}

/// `?cluster=&kind=&name=&since=&until=&limit=`, newest first.
async fn events(State(state): State<AppState>, params: Params) -> Result<Json<Vec<ControlEvent>>> {
    let query = EventQuery {
        cluster: params.string("cluster"),
        kind: params.string("kind"),
        name: params.string("name"),
        since_unix_ms: params.time_unix_ms("since")?,
        until_unix_ms: params.time_unix_ms("until")?,
        limit: params.parse("limit")?,
    };
    Ok(Json(state.records.events(&query).await?))
}
