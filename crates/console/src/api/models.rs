//! Endpoints over the console's models of stored telemetry: saga search, one saga's
//! flow, the aggregate flow per saga name, bulk saga operations, the breaker board and
//! one breaker's history, and a breaker's state at a span (breaker state on traces).

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use switchyard_store::BreakerKey;

use super::AppState;
use super::error::{ApiError, Result};
use super::extract::{Body, Params};
use crate::bulk::{self, BulkReport, BulkRequest};
use crate::clock::now_unix_ms;
use crate::model::breaker::{self, BreakerHistory, BreakerSummary, HistoryQuery, StateAt};
use crate::model::saga::{self, AggregateFlow, SagaFlow, SagaInstance, SagaOrder, SagaSearch};
use crate::model::{ModelError, TimeRange};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/sagas", get(search))
        .route("/sagas/aggregate/{name}", get(aggregate))
        .route("/sagas/bulk", post(bulk_run))
        .route("/sagas/{id}/flow", get(flow))
        .route("/breakers/board", get(board))
        .route("/breakers/{name}/history", get(history))
        .route("/breakers/{name}/at-span", get(at_span))
}

impl From<ModelError> for ApiError {
    fn from(error: ModelError) -> Self {
        match error {
            ModelError::Store(e) => e.into(),
            ModelError::InvalidQuery(m) => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", m)
            }
            ModelError::NotFound(m) => ApiError::not_found(m),
        }
    }
}

/// `since`/`until` (Unix ms or a duration back from now); default: the last `default`.
fn range(params: &Params, default: Duration) -> Result<TimeRange> {
    let now = now_unix_ms();
    let since = params
        .time_unix_ms("since")?
        .unwrap_or(now - default.as_millis() as i64);
    // A little past now: points stamped by a clock slightly ahead still count.
    let until = params.time_unix_ms("until")?.unwrap_or(now + 60_000);
    Ok(TimeRange::new(
        since.saturating_mul(1_000_000),
        until.saturating_mul(1_000_000),
    )?)
}

/// `?failed&name=&since=&until=&failed_first&limit=`.
async fn search(State(state): State<AppState>, params: Params) -> Result<Json<Vec<SagaInstance>>> {
    let ranged = params.get("since").is_some() || params.get("until").is_some();
    let query = SagaSearch {
        failed_only: params.flag("failed")?,
        saga_name: params.string("name"),
        range: if ranged {
            Some(range(&params, Duration::from_secs(3600))?)
        } else {
            None
        },
        order: if params.flag("failed_first")? {
            SagaOrder::FailedFirst
        } else {
            SagaOrder::NewestFirst
        },
        limit: params.parse("limit")?.unwrap_or(100),
    };
    Ok(Json(saga::search(&state.reader, &query).await?))
}

async fn flow(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<SagaFlow>> {
    Ok(Json(saga::flow(&state.reader, &id).await?))
}

/// `?since=&until=` (default: the last hour).
async fn aggregate(
    State(state): State<AppState>,
    Path(name): Path<String>,
    params: Params,
) -> Result<Json<AggregateFlow>> {
    let range = range(&params, Duration::from_secs(3600))?;
    Ok(Json(
        saga::aggregate_flow(&state.reader, &name, range).await?,
    ))
}

/// The body is a [`BulkRequest`]; `dry_run: true` lists and sends nothing.
async fn bulk_run(
    State(state): State<AppState>,
    Body(request): Body<BulkRequest>,
) -> Result<Json<BulkReport>> {
    let cluster = state
        .clusters
        .list()
        .into_iter()
        .find(|c| c.name == request.cluster)
        .ok_or_else(|| crate::clusters::CommandError::UnknownCluster(request.cluster.clone()))?;
    Ok(Json(
        bulk::run(
            &state.reader,
            &cluster,
            Some(&state.records),
            Some(state.clusters.live()),
            &request,
        )
        .await?,
    ))
}

/// Every breaker that reported in `?since=&until=` (default: the last hour).
async fn board(State(state): State<AppState>, params: Params) -> Result<Json<Vec<BreakerSummary>>> {
    let range = range(&params, Duration::from_secs(3600))?;
    Ok(Json(breaker::board(&state.reader, range).await?))
}

/// `?service=&since=&until=&interval=1m` (default: the last hour in 1-minute intervals).
async fn history(
    State(state): State<AppState>,
    Path(name): Path<String>,
    params: Params,
) -> Result<Json<BreakerHistory>> {
    let query = HistoryQuery {
        breaker: name,
        service: params.string("service"),
        range: range(&params, Duration::from_secs(3600))?,
        interval_ns: params
            .duration("interval")?
            .unwrap_or(Duration::from_secs(60))
            .as_nanos() as i64,
    };
    Ok(Json(breaker::history(&state.reader, &query).await?))
}

/// `?trace=HEX&span=HEX&service=&window=30s`: the breaker's state when that span started
/// and the calls around it, so a trace tells why a call was short-circuited.
async fn at_span(
    State(state): State<AppState>,
    Path(name): Path<String>,
    params: Params,
) -> Result<Json<StateAt>> {
    let trace = params
        .string("trace")
        .ok_or_else(|| ApiError::bad_request("parameter trace (32 hex digits) is required"))?;
    let span = params
        .string("span")
        .ok_or_else(|| ApiError::bad_request("parameter span (16 hex digits) is required"))?;
    let service = params.string("service");
    let window = params
        .duration("window")?
        .unwrap_or(Duration::from_secs(30));
    let key = BreakerKey {
        name: &name,
        service: service.as_deref(),
    };
    Ok(Json(
        breaker::state_for_span(&state.reader, &trace, &span, key, window.as_nanos() as i64)
            .await?,
    ))
}
