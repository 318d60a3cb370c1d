//! Charts as images for the UI and for export, as SVG (default) or PNG:
//! `GET /api/plots/breaker/{name}` (state timeline, failure rate, rejected calls, the
//! commands sent to it with their verdicts), `/api/plots/latency/{span_name}`,
//! `/api/plots/route/{name}` (requests/s per target) and `/api/plots/sagas?name=`
//! (outcomes per interval).

use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;
use super::error::{ApiError, Result};
use super::extract::Params;
use crate::clock::now_unix_ms;
use crate::plot::from_store::{self, ChartDataError};
use crate::plot::{self, Format, Plot, PlotError, Size, TimeRange};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/plots/breaker/{name}", get(breaker))
        .route("/plots/latency/{span_name}", get(latency))
        .route("/plots/route/{name}", get(route))
        .route("/plots/sagas", get(sagas))
}

impl From<PlotError> for ApiError {
    fn from(error: PlotError) -> Self {
        match error {
            PlotError::Size { .. } => ApiError::bad_request(error.to_string()),
            other => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "plot", other.to_string()),
        }
    }
}

impl From<ChartDataError> for ApiError {
    fn from(error: ChartDataError) -> Self {
        match error {
            ChartDataError::Store(e) => e.into(),
            ambiguous => ApiError::new(StatusCode::CONFLICT, "ambiguous", ambiguous.to_string()),
        }
    }
}

/// `?since=1h&until=` (Unix ms or a duration back from now).
fn range(params: &Params) -> Result<TimeRange> {
    let now = now_unix_ms();
    let since = params
        .time_unix_ms("since")?
        .unwrap_or(now - Duration::from_secs(3600).as_millis() as i64);
    let until = params.time_unix_ms("until")?.unwrap_or(now);
    Ok(TimeRange::new(
        since.saturating_mul(1_000_000),
        until.saturating_mul(1_000_000),
    ))
}

/// `?format=svg|png&width=1000&height=500`: the chart drawn as asked.
fn image(plot: &impl Plot, params: &Params) -> Result<Response> {
    let format = match params.get("format").unwrap_or("svg") {
        "svg" => Format::Svg,
        "png" => Format::Png,
        other => {
            return Err(ApiError::bad_request(format!(
                "format {other:?}: svg or png"
            )));
        }
    };
    let size = Size::new(
        params.parse("width")?.unwrap_or(1000),
        params.parse("height")?.unwrap_or(500),
    );
    let bytes = plot::render(plot, size, format)?;
    let content_type = match format {
        Format::Svg => "image/svg+xml",
        Format::Png => "image/png",
    };
    Ok(([(header::CONTENT_TYPE, content_type)], bytes).into_response())
}

/// `?since=&until=&service=` and the image parameters.
async fn breaker(
    State(state): State<AppState>,
    Path(name): Path<String>,
    params: Params,
) -> Result<Response> {
    let timeline = from_store::breaker_timeline(
        &state.reader,
        Some(&state.records),
        &name,
        params.string("service"),
        range(&params)?,
    )
    .await?;
    image(&timeline, &params)
}

/// `?since=&until=&service=` and the image parameters.
async fn latency(
    State(state): State<AppState>,
    Path(span_name): Path<String>,
    params: Params,
) -> Result<Response> {
    let service = params.string("service");
    let histogram = from_store::latency_histogram(
        &state.reader,
        &span_name,
        service.as_deref(),
        range(&params)?,
    )
    .await?;
    image(&histogram, &params)
}

/// `?since=&until=` and the image parameters.
async fn route(
    State(state): State<AppState>,
    Path(name): Path<String>,
    params: Params,
) -> Result<Response> {
    let throughput =
        from_store::route_throughput(&state.reader, Some(&state.records), &name, range(&params)?)
            .await?;
    image(&throughput, &params)
}

/// `?name=&since=&until=&interval=5m` and the image parameters.
async fn sagas(State(state): State<AppState>, params: Params) -> Result<Response> {
    let interval = params
        .duration("interval")?
        .unwrap_or(Duration::from_secs(300));
    let name = params.string("name");
    let outcomes = from_store::saga_outcomes(
        &state.reader,
        Some(&state.records),
        name.as_deref(),
        range(&params)?,
        interval.as_nanos() as i64,
    )
    .await?;
    image(&outcomes, &params)
}
