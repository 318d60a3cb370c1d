//! The UI's way in: one `api` command that carries a request into the console's `/api`
//! router in-process (no socket), and the live view forwarded as `live` events. The UI's
//! `TauriTransport` (ui/src/api/transport.ts) is the other end of both.

use axum::body::Body;
use futures::StreamExt as _;
use http_body_util::BodyExt as _;
use serde::Serialize;
use switchyard_console::runtime::Runtime;
use tauri::Emitter as _;
use tower::ServiceExt as _;

use crate::Shell;

/// The event the UI listens to for live changes.
pub const LIVE_EVENT: &str = "live";

/// An answer as the router gave it; the UI reads `{status, contentType, body}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

/// One live change: the SSE event's name on `/api/live` and its data.
#[derive(Debug, Clone, Serialize)]
pub struct LiveFrame {
    pub name: String,
    pub data: serde_json::Value,
}

/// Why a request could not be answered at all (an HTTP error status is an answer).
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    #[error("invalid request: {0}")]
    Request(#[from] http::Error),
    #[error("{0} is a stream: the app sends live changes as `live` events")]
    Stream(String),
    #[error("cannot read the answer: {0}")]
    Body(#[from] axum::Error),
}

/// `invoke("api", {method, path, body, contentType})`: the request through the router.
#[tauri::command]
pub async fn api(
    shell: tauri::State<'_, Shell>,
    method: String,
    path: String,
    body: Option<String>,
    content_type: Option<String>,
) -> Result<Reply, String> {
    let runtime = shell.runtime().await?;
    let started = std::time::Instant::now();
    let reply = request(runtime.api_router(), &method, &path, body, content_type)
        .await
        .map_err(|e| e.to_string())?;
    tracing::debug!(
        "{method} {path}: {} ({} bytes) in {:?}",
        reply.status,
        reply.body.len(),
        started.elapsed()
    );
    Ok(reply)
}

/// Sends one request through `router` as a loopback caller and reads the whole answer.
pub async fn request(
    router: axum::Router,
    method: &str,
    path: &str,
    body: Option<String>,
    content_type: Option<String>,
) -> Result<Reply, BridgeError> {
    // An endless stream would never answer; the window has the `live` event instead.
    if path.split('?').next() == Some("/api/live") {
        return Err(BridgeError::Stream(path.to_owned()));
    }
    let mut builder = http::Request::builder()
        .method(method)
        .uri(path)
        // The API refuses foreign hosts (DNS rebinding); this caller is the machine itself.
        .header(http::header::HOST, "127.0.0.1");
    if body.is_some() {
        let content_type = content_type.unwrap_or_else(|| "application/json".to_owned());
        builder = builder.header(http::header::CONTENT_TYPE, content_type);
    }
    let request = builder.body(body.map(Body::from).unwrap_or_else(Body::empty))?;
    let response = match router.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = response.into_body().collect().await?.to_bytes();
    Ok(Reply {
        status,
        content_type,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    })
}

/// Emits every live change to the window until the runtime stops.
pub(crate) fn forward_live(app: tauri::AppHandle, runtime: &Runtime) {
    let mut frames = Box::pin(runtime.live_frames());
    tauri::async_runtime::spawn(async move {
        while let Some((name, data)) = frames.next().await {
            if let Err(e) = app.emit(LIVE_EVENT, LiveFrame { name, data }) {
                tracing::warn!("cannot send a live change to the window: {e}");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use axum::routing::{get, post};

    use super::*;

    fn router() -> axum::Router {
        axum::Router::new()
            .route(
                "/api/host",
                get(|headers: http::HeaderMap| async move {
                    headers[http::header::HOST].to_str().unwrap().to_owned()
                }),
            )
            .route(
                "/api/echo",
                post(|headers: http::HeaderMap, body: String| async move {
                    let kind = headers[http::header::CONTENT_TYPE]
                        .to_str()
                        .unwrap()
                        .to_owned();
                    (http::StatusCode::CREATED, format!("{kind}: {body}"))
                }),
            )
    }

    #[tokio::test]
    async fn carries_a_request_through_the_router() {
        let reply = request(router(), "GET", "/api/host", None, None)
            .await
            .unwrap();
        assert_eq!((reply.status, reply.body.as_str()), (200, "127.0.0.1"));
        assert!(reply.content_type.starts_with("text/plain"), "{reply:?}");

        let body = Some(r#"{"a":1}"#.to_owned());
        let reply = request(router(), "POST", "/api/echo", body, None)
            .await
            .unwrap();
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (201, r#"application/json: {"a":1}"#)
        );
        let reply = request(
            router(),
            "POST",
            "/api/echo",
            Some("x".into()),
            Some("text/plain".into()),
        )
        .await
        .unwrap();
        assert_eq!(reply.body, "text/plain: x");

        let missing = request(router(), "GET", "/api/nothing", None, None)
            .await
            .unwrap();
        assert_eq!(missing.status, 404);
        assert!(matches!(
            request(router(), "GET", "/api/live?x", None, None).await,
            Err(BridgeError::Stream(_))
        ));
        assert!(matches!(
            request(router(), "NOT A METHOD", "/api/host", None, None).await,
            Err(BridgeError::Request(_))
        ));
    }

    #[test]
    fn the_reply_is_what_the_ui_reads() {
        let reply = Reply {
            status: 200,
            content_type: "application/json".into(),
            body: "{}".into(),
        };
        assert_eq!(
            serde_json::to_value(reply).unwrap(),
            serde_json::json!({"status": 200, "contentType": "application/json", "body": "{}"})
        );
    }
}
