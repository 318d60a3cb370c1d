//! OTLP JSON in and out: `POST /api/import` stores a file the user dropped on the
//! window; `GET /api/traces/{id}/export` and `/api/sagas/{id}/export` give a trace, or
//! every trace of a saga, back as OTLP JSON that `import` (and any OTLP tool) reads.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use switchyard_store::{IngestError, parse_trace_id};

use super::AppState;
use super::error::{ApiError, Result};
use super::extract::Params;
use crate::model::saga;
use crate::otlp_file::{self, Imported};

/// The largest file the window accepts (the UI refuses bigger ones before sending).
pub(super) const MAX_IMPORT_BYTES: usize = 64 << 20;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/import",
            post(import).layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES)),
        )
        .route("/traces/{id}/export", get(export_trace))
        .route("/sagas/{id}/export", get(export_saga))
}

/// The body is OTLP JSON: one export request, or one per line (the Collector's file
/// exporter). `?name=` names the file in messages. The whole body is checked before
/// anything is stored.
async fn import(
    State(state): State<AppState>,
    params: Params,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Imported>> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !matches!(
        essence,
        "application/json" | "application/x-ndjson" | "application/jsonl" | "text/plain" | ""
    ) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("import takes OTLP JSON (application/json), not {content_type}"),
        ));
    }
    let Some(ingest) = state.ingest.as_ref() else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_receiving",
            "this console does not write the store (it runs with --no-receiver): import into the console that receives",
        ));
    };
    let name = params
        .string("name")
        .unwrap_or_else(|| "the file".to_owned());
    let contents =
        otlp_file::parse(&name, &body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    if contents.requests == 0 {
        return Err(ApiError::bad_request(format!(
            "{name} holds no OTLP request"
        )));
    }
    otlp_file::store(ingest, contents)
        .await
        .map(Json)
        .map_err(|e| match e {
            IngestError::Busy { .. } | IngestError::Closed => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                format!("{name} was not (fully) imported: {e}; import it again"),
            ),
            other => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "import_failed",
                format!("{name} was not (fully) imported: {other}"),
            ),
        })
}

async fn export_trace(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    let trace_id = parse_trace_id(&id)?;
    let request = state
        .reader
        .export_trace(&trace_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no trace {id} is stored")))?;
    Ok(json_file(
        &format!("trace-{id}.json"),
        otlp_file::to_json_line(&request),
    ))
}

/// Every trace the saga's attempts ran in, one export request per line.
async fn export_saga(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    let flow = saga::flow(&state.reader, &id).await?;
    let mut trace_ids: Vec<&str> = vec![flow.instance.trace_id.as_str()];
    for attempt in &flow.timeline {
        if !trace_ids.contains(&attempt.trace_id.as_str()) {
            trace_ids.push(&attempt.trace_id);
        }
    }
    let mut text = String::new();
    for trace_id in trace_ids.into_iter().filter(|t| !t.is_empty()) {
        if let Some(request) = state
            .reader
            .export_trace(&parse_trace_id(trace_id)?)
            .await?
        {
            text.push_str(&otlp_file::to_json_line(&request));
        }
    }
    if text.is_empty() {
        return Err(ApiError::not_found(format!(
            "no span of saga {id} is stored"
        )));
    }
    let file: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok(json_file(&format!("saga-{file}.json"), text))
}

fn json_file(name: &str, text: String) -> Response {
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        text,
    )
        .into_response()
}
