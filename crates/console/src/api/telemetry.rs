//! Stored telemetry: `/api/services`, `/api/traces` (search, the CLI's `traces` flags
//! as parameters), `/api/traces/{id}` and `/api/metrics` (a metric's series).

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use switchyard_store::model::{MetricSeries, ServiceSummary, Trace, TracePage};
use switchyard_store::{MetricQuery, TraceQuery, parse_trace_id};

use super::AppState;
use super::error::{ApiError, Result};
use super::extract::Params;
use crate::clock::now_unix_ms;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/services", get(services))
        .route("/traces", get(traces))
        .route("/traces/{id}", get(trace))
        .route("/metrics", get(metrics))
}

async fn services(State(state): State<AppState>) -> Result<Json<Vec<ServiceSummary>>> {
    Ok(Json(state.reader.services().await?))
}

/// `?service=&name=&errors&since=&until=&min_duration=250ms&attr=k=v&limit=&cursor=`;
/// `since`/`until` are Unix ms or a duration back from now (`15m`).
async fn traces(State(state): State<AppState>, params: Params) -> Result<Json<TracePage>> {
    let query = TraceQuery {
        service: params.string("service"),
        span_name: params.string("name"),
        errors_only: params.flag("errors")?,
        since_unix_nano: params.time_unix_nano("since")?,
        until_unix_nano: params.time_unix_nano("until")?,
        min_duration_ns: params
            .duration("min_duration")?
            .map(|d| d.as_nanos() as i64),
        attributes: params.parse_all("attr")?,
        limit: params.parse("limit")?.unwrap_or(20),
        cursor: params.string("cursor"),
    };
    Ok(Json(state.reader.search_traces(&query).await?))
}

async fn trace(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Trace>> {
    let trace_id = parse_trace_id(&id)?;
    state
        .reader
        .trace(&trace_id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no trace {id} is stored")))
}

/// `?name=breaker.state&attr=k=v&service=&since=1h&until=&buckets=60`.
async fn metrics(State(state): State<AppState>, params: Params) -> Result<Json<Vec<MetricSeries>>> {
    // A little past now by default: points stamped by a clock slightly ahead still show.
    let until_unix_ms = params
        .time_unix_ms("until")?
        .unwrap_or_else(|| now_unix_ms() + 60_000);
    let since_unix_ms = params
        .time_unix_ms("since")?
        .unwrap_or_else(|| now_unix_ms() - Duration::from_secs(3600).as_millis() as i64);
    let query = MetricQuery {
        name: params.required("name")?.to_owned(),
        attributes: params.parse_all("attr")?,
        service: params.string("service"),
        since_unix_nano: since_unix_ms.saturating_mul(1_000_000),
        until_unix_nano: until_unix_ms.saturating_mul(1_000_000),
        buckets: params.parse("buckets")?.unwrap_or(60),
    };
    Ok(Json(state.reader.metric_series(&query).await?))
}
