//! Charts as images for the UI and for export: `GET /api/plots/breaker/{name}` draws a
//! breaker's state timeline with its failure rate, rejected calls and the commands sent
//! to it (with their verdicts), as SVG (default) or PNG.

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
use crate::plot::{self, Format, PlotError, Size, TimeRange};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/plots/breaker/{name}", get(breaker))
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

/// `?since=1h&until=&service=&format=svg|png&width=1000&height=500`.
async fn breaker(
    State(state): State<AppState>,
    Path(name): Path<String>,
    params: Params,
) -> Result<Response> {
    let now = now_unix_ms();
    let since = params
        .time_unix_ms("since")?
        .unwrap_or(now - Duration::from_secs(3600).as_millis() as i64);
    let until = params.time_unix_ms("until")?.unwrap_or(now);
    let range = TimeRange::new(
        since.saturating_mul(1_000_000),
        until.saturating_mul(1_000_000),
    );
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
    let timeline = from_store::breaker_timeline(
        &state.reader,
        Some(&state.records),
        &name,
        params.string("service"),
        range,
    )
    .await?;
    let image = plot::render(&timeline, size, format)?;
    let content_type = match format {
        Format::Svg => "image/svg+xml",
        Format::Png => "image/png",
    };
    Ok(([(header::CONTENT_TYPE, content_type)], image).into_response())
}
