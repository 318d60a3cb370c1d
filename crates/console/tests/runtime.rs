//! The console as `switchyard ui` and the desktop app run it ([`Runtime`]): a real store
//! and OTLP receiver on free ports. OTLP JSON import (what a file dropped on the window
//! sends) and export, the saved settings, and the in-process API the desktop app calls
//! over IPC (the same router, without a socket) with its live frames.

use std::net::SocketAddr;

use futures::StreamExt as _;
use http_body_util::BodyExt as _;
use reqwest::StatusCode;
use serde_json::{Value, json};
use switchyard_console::api::{Access, UiFiles};
use switchyard_console::clusters::ClustersFile;
use switchyard_console::runtime::{Runtime, RuntimeOptions, TelemetryOptions};
use switchyard_console::settings::{Settings, SettingsFile};
use tower::ServiceExt as _;

const TRACE_ID: &str = "5b8efff798038103d269b633813fc60c";

/// One trace of two spans (one failed) in OTLP JSON.
fn trace_json() -> String {
    json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}}]},
        "scopeSpans": [{"spans": [
            {"traceId": TRACE_ID, "spanId": "eee19b7ec3c1b174", "name": "POST /orders",
             "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000000250000000"},
            {"traceId": TRACE_ID, "spanId": "eee19b7ec3c1b175", "parentSpanId": "eee19b7ec3c1b174",
             "name": "charge-card", "startTimeUnixNano": "1700000000010000000",
             "endTimeUnixNano": "1700000000200000000", "status": {"code": 2, "message": "declined"},
             "attributes": [{"key": "saga.step", "value": {"stringValue": "charge-card"}}]}
        ]}]
    }]})
    .to_string()
}

struct Console {
    runtime: Option<Runtime>,
    base: String,
    http: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Console {
    async fn start(dir: tempfile::TempDir) -> Console {
        let settings = SettingsFile::load(dir.path().join("settings.toml")).unwrap();
        let loopback_any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let mut telemetry =
            TelemetryOptions::from_settings(dir.path().join("telemetry.db"), &Settings::default())
                .unwrap();
        let receiver = telemetry.receiver.as_mut().unwrap();
        (receiver.grpc, receiver.http) = (loopback_any, loopback_any);
        let runtime = Runtime::start(RuntimeOptions {
            telemetry,
            clusters: ClustersFile::load(dir.path().join("clusters.toml")).unwrap(),
            settings,
        })
        .await
        .unwrap();
        let listener = tokio::net::TcpListener::bind(loopback_any).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = runtime.router(Access::new(addr, None).unwrap(), &UiFiles::Missing);
        let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Console {
            runtime: Some(runtime),
            base: format!("http://{addr}/api"),
            http: reqwest::Client::new(),
            server,
            _dir: dir,
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value, String) {
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, value, text)
    }

    async fn import(
        &self,
        body: impl Into<reqwest::Body>,
        content_type: &str,
    ) -> (StatusCode, Value) {
        let request = self
            .http
            .post(format!("{}/import?name=drop.json", self.base))
            .header("content-type", content_type)
            .body(body);
        let (status, value, _) = self.send(request).await;
        (status, value)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value, String) {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    async fn stop(mut self) {
        self.server.abort();
        self.runtime.take().unwrap().stop().await.unwrap();
    }
}

#[tokio::test]
async fn an_imported_file_is_stored_and_exports_back_as_otlp_json() {
    let console = Console::start(tempfile::tempdir().unwrap()).await;
    let (status, imported) = console.import(trace_json(), "application/json").await;
    assert_eq!(status, StatusCode::OK, "{imported}");
    assert_eq!(
        (imported["requests"].as_u64(), imported["spans"].as_u64()),
        (Some(1), Some(2))
    );

    let (status, trace, _) = console.get(&format!("/traces/{TRACE_ID}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(trace["spans"].as_array().unwrap().len(), 2);

    let response = console
        .http
        .get(format!("{}/traces/{TRACE_ID}/export", console.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(&format!("trace-{TRACE_ID}.json"))
    );
    let exported: Value = response.json().await.unwrap();
    let spans = &exported["resourceSpans"][0]["scopeSpans"][0]["spans"];
    let mut names: Vec<&str> = spans
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["POST /orders", "charge-card"]);
    assert_eq!(
        exported["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"],
        "checkout"
    );

    // The export imports again (as the same spans) without complaint.
    let (status, again) = console
        .import(exported.to_string(), "application/json")
        .await;
    assert_eq!((status, again["spans"].as_u64()), (StatusCode::OK, Some(2)));

    let (status, missing, _) = console
        .get("/traces/00000000000000000000000000000001/export")
        .await;
    assert_eq!(
        (status, missing["kind"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, _, _) = console.get("/sagas/no-such-saga/export").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    console.stop().await;
}

#[tokio::test]
async fn a_bad_file_is_refused_with_its_place_and_nothing_is_stored() {
    let console = Console::start(tempfile::tempdir().unwrap()).await;
    // The first line is good, the second is not: neither is stored.
    let body = format!("{}\n{{\"resourceSpans\": [ oops ]}}\n", trace_json());
    let (status, error) = console.import(body, "application/x-ndjson").await;
    assert_eq!(
        (status, error["kind"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    assert!(
        error["error"].as_str().unwrap().starts_with("drop.json:2:"),
        "{error}"
    );
    let (_, page, _) = console.get("/traces?limit=5").await;
    assert_eq!(page["traces"], json!([]));

    let (status, error) = console.import(trace_json(), "application/x-protobuf").await;
    assert_eq!(
        (status, error["kind"].as_str()),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Some("unsupported_media_type")
        )
    );
    let (status, error) = console.import("", "application/json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");

    // Over the limit: refused before it is read through.
    let huge = vec![b' '; 65 << 20];
    let (status, _) = console.import(huge, "application/json").await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    console.stop().await;
}

#[tokio::test]
async fn settings_are_saved_checked_and_apply_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let settings_path = dir.path().join("settings.toml");
    let console = Console::start(dir).await;
    let (status, now, _) = console.get("/settings").await;
    assert_eq!(status, StatusCode::OK, "{now}");
    assert_eq!(now["settings"]["retention_age"], "7days");
    assert_eq!(now["effective"]["retention_age"], "7days");
    assert_ne!(
        now["effective"]["otlp_grpc"],
        json!("127.0.0.1:0"),
        "the bound port is shown"
    );

    let put = |body: Value| {
        console
            .http
            .put(format!("{}/settings", console.base))
            .json(&body)
    };
    let (status, saved, _) = console
        .send(put(json!({"otlp_grpc": "127.0.0.1:5317", "otlp_http": "127.0.0.1:5318", "retention_age": "12h", "retention_size_mib": 100})))
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(
        (
            saved["settings"]["retention_age"].as_str(),
            saved["restart_required"].as_bool()
        ),
        (Some("12h"), Some(true))
    );
    assert_eq!(
        saved["effective"]["retention_age"], "7days",
        "the running console keeps its settings"
    );
    let file = SettingsFile::load(&settings_path).unwrap();
    assert_eq!(file.settings().retention_size_mib, Some(100));

    let (status, error, _) = console.send(put(json!({"retention_age": "a week"}))).await;
    assert_eq!(
        (status, error["kind"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    let (status, error, _) = console.send(put(json!({"otlp_grpc": "nowhere"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(
        SettingsFile::load(&settings_path)
            .unwrap()
            .settings()
            .retention_age
            .as_deref(),
        Some("12h"),
        "a refused change writes nothing"
    );
    console.stop().await;
}

/// What the desktop app does for each IPC call: one request through the router, no socket.
async fn call(
    router: &axum::Router,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (u16, String) {
    let request = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.unwrap_or("").to_owned()))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::test]
async fn the_in_process_api_answers_like_http_and_streams_live_frames() {
    let console = Console::start(tempfile::tempdir().unwrap()).await;
    let runtime = console.runtime.as_ref().unwrap();
    let router = runtime.api_router();
    let (status, body) = call(&router, "GET", "/api/clusters", None).await;
    assert_eq!((status, body.as_str()), (200, "[]"));
    let (status, body) = call(&router, "POST", "/api/import", Some(&trace_json())).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = call(&router, "GET", &format!("/api/traces/{TRACE_ID}"), None).await;
    assert_eq!(status, 200);
    assert!(body.contains("charge-card"));
    let (status, body) = call(&router, "GET", "/api/nothing-here", None).await;
    assert_eq!(status, 404);
    assert!(body.contains("no API endpoint /api/nothing-here"), "{body}");

    // A cluster added through the API shows on the live frames as its agent's health.
    let mut frames = Box::pin(runtime.live_frames());
    let cluster =
        json!({"name": "shop", "agents": [{"endpoint": "http://127.0.0.1:9", "token": "t"}]});
    let (status, body) = call(&router, "POST", "/api/clusters", Some(&cluster.to_string())).await;
    assert_eq!(status, 201, "{body}");
    let (name, data) = tokio::time::timeout(std::time::Duration::from_secs(10), frames.next())
        .await
        .expect("a live frame")
        .expect("the stream is open");
    assert_eq!(
        (name.as_str(), data["cluster"].as_str()),
        ("agent", Some("shop"))
    );

    // Stopping the console ends the stream.
    console.stop().await;
    let end = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while frames.next().await.is_some() {}
    })
    .await;
    assert!(end.is_ok(), "the live frames end when the console stops");
}
