//! The HTTP API on a real TCP listener, called with reqwest: clusters (tokens never sent
//! back), command errors and their statuses, the live stream, auth and the DNS-rebinding
//! guard, the UI's files. Commands against a real agent are in tests/e2e
//! (`console_api.rs`); here the agents are unreachable or refused before sending.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchyard_console::api::{self, Access, AppState, UiFiles};
use switchyard_console::clusters::{Clusters, ClustersFile, Secret};
use switchyard_store::Reader;
use switchyard_store::records::Records;
use switchyard_testkit::SseReader;

/// The API over a fresh store and clusters file, served until dropped.
struct Console {
    base: String,
    clusters_file: PathBuf,
    http: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Drop for Console {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Console {
    async fn start(token: Option<&str>, ui: UiFiles) -> Console {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("telemetry.db");
        let clusters_file = dir.path().join("clusters.toml");
        let records = Records::open(&db).await.unwrap();
        let reader = Reader::open(&db).await.unwrap();
        let clusters = Arc::new(Clusters::start(
            ClustersFile::load(&clusters_file).unwrap(),
            Some(records.clone()),
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let access = Access::new(addr, token.map(Secret::new)).unwrap();
        let app = api::router(AppState::new(clusters, reader, records), access, &ui);
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Console {
            base: format!("http://{addr}"),
            clusters_file,
            http: reqwest::Client::new(),
            server,
            _dir: dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        answer(self.http.get(self.url(path)).send().await.unwrap()).await
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: &Value) -> (StatusCode, Value) {
        answer(
            self.http
                .request(method, self.url(path))
                .json(body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, path, body).await
    }

    /// `/api/live`, read up to its `ready` event.
    async fn live(&self, query: &str) -> SseReader {
        let response = self
            .http
            .get(self.url(&format!("/api/live{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        let mut events = SseReader::new(response.bytes_stream());
        let ready = events.next().await.expect("the ready event");
        assert_eq!(ready.event, "ready");
        events
    }
}

async fn answer(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, body)
}

fn cluster(name: &str, endpoint: &str, token: &str) -> Value {
    json!({"name": name, "agents": [{"endpoint": endpoint, "token": token}]})
}

fn trip(cluster: &str, breaker: &str) -> Value {
    json!({
        "cluster": cluster,
        "command": {"action": "trip", "breaker": breaker, "ttl_seconds": null},
        "reason": "test",
        "who": "tester",
    })
}

/// An address nothing listens on.
fn nowhere() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}")
}

#[tokio::test]
async fn clusters_are_added_changed_and_removed_and_tokens_never_come_back() {
    let console = Console::start(None, UiFiles::Missing).await;
    let (status, added) = console
        .post(
            "/api/clusters",
            &cluster("shop", "http://127.0.0.1:1", "s3cret"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    assert_eq!(added["agents"][0]["endpoint"], "http://127.0.0.1:1");
    let (status, listed) = console.get("/api/clusters").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    for body in [&added, &listed] {
        assert!(!body.to_string().contains("s3cret"), "token echoed: {body}");
    }

    let (status, again) = console
        .post("/api/clusters", &cluster("shop", "http://127.0.0.1:1", "x"))
        .await;
    assert_eq!(
        (status, again["kind"].as_str()),
        (StatusCode::CONFLICT, Some("exists"))
    );

    // An edit without the token keeps the agent's token.
    let (status, edited) = console
        .send(
            reqwest::Method::PUT,
            "/api/clusters/shop",
            &json!({"view_only": true, "agents": [{"endpoint": "http://127.0.0.1:1"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["view_only"], true);
    let saved = ClustersFile::load(&console.clusters_file).unwrap();
    assert_eq!(
        saved.get("shop").unwrap().agents[0].token.expose(),
        "s3cret"
    );
    // A new agent must bring its token.
    let (status, refused) = console
        .send(
            reqwest::Method::PUT,
            "/api/clusters/shop",
            &json!({"agents": [{"endpoint": "http://127.0.0.1:2"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        refused["error"].as_str().unwrap().contains("needs a token"),
        "{refused}"
    );

    let (status, bad) = console
        .post("/api/clusters", &json!({"name": "x", "agents": "nope"}))
        .await;
    assert_eq!(
        (status, bad["kind"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    let (status, invalid) = console
        .post("/api/clusters", &cluster("x", "127.0.0.1:1", "t"))
        .await;
    assert_eq!(
        (status, invalid["kind"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_cluster"))
    );

    let delete = |name: &'static str| {
        let request = console
            .http
            .delete(console.url(&format!("/api/clusters/{name}")));
        async move { request.send().await.unwrap().status() }
    };
    assert_eq!(delete("shop").await, StatusCode::NO_CONTENT);
    assert_eq!(delete("shop").await, StatusCode::NOT_FOUND);
    assert_eq!(console.get("/api/clusters").await.1, json!([]));
}

#[tokio::test]
async fn command_errors_have_statuses_and_kinds_and_reach_the_live_stream_and_history() {
    let console = Console::start(None, UiFiles::Missing).await;
    let mut live = console.live("").await;

    let (status, body) = console.post("/api/commands", &trip("nope", "b")).await;
    assert_eq!(
        (status, body["kind"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_cluster"))
    );
    assert!(body["error"].as_str().unwrap().contains("nope"), "{body}");

    console
        .post("/api/clusters", &cluster("gone", &nowhere(), "t"))
        .await;
    let (status, body) = console.post("/api/commands", &trip("gone", "b")).await;
    assert_eq!(
        (status, body["kind"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("agent_unreachable")),
        "{body}"
    );

    let mut prod = cluster("prod", &nowhere(), "t");
    prod["view_only"] = json!(true);
    console.post("/api/clusters", &prod).await;
    let (status, body) = console.post("/api/commands", &trip("prod", "b")).await;
    assert_eq!(
        (status, body["kind"].as_str()),
        (StatusCode::FORBIDDEN, Some("view_only"))
    );

    let (status, body) = console
        .post(
            "/api/commands",
            &json!({"cluster": "prod", "command": {"action": "explode"}}),
        )
        .await;
    assert_eq!(
        (status, body["kind"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );

    // Each command sent or refused is a `command` event on the live stream…
    let mut outcomes = Vec::new();
    while outcomes.len() < 2 {
        let event = live.next().await.expect("the stream stays open");
        if event.event == "command" {
            let record: Value = serde_json::from_str(&event.data).unwrap();
            outcomes.push(record["outcome"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(outcomes, ["error", "refused"]);
    // …and in the history, newest first.
    let (status, history) = console.get("/api/history?cluster=&limit=10").await;
    assert_eq!(status, StatusCode::OK);
    let clusters: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["cluster"].as_str().unwrap())
        .collect();
    assert_eq!(clusters, ["prod", "gone"]);
    let (_, only) = console.get("/api/history?cluster=gone").await;
    assert_eq!(only.as_array().unwrap().len(), 1);
    let (status, bad) = console.get("/api/history?limit=many").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
}

#[tokio::test]
async fn reads_of_an_empty_console_answer_empty_and_bad_parameters_say_which() {
    let console = Console::start(None, UiFiles::Missing).await;
    for path in [
        "/api/agents",
        "/api/breakers?cluster=shop",
        "/api/routes",
        "/api/faults",
        "/api/sagas/live?limit=5",
        "/api/events?kind=breaker&since=15m",
        "/api/services",
        "/api/metrics?name=breaker.state&attr=breaker.name=x&since=1h",
    ] {
        let (status, body) = console.get(path).await;
        assert_eq!((status, body), (StatusCode::OK, json!([])), "{path}");
    }
    let (status, page) = console.get("/api/traces?errors&since=15m&attr=a=b").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["traces"], json!([]));

    let (status, body) = console.get("/api/traces/0102").await;
    assert_eq!(
        (status, body["kind"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_query"))
    );
    let (status, body) = console
        .get(&format!("/api/traces/{}", "ab".repeat(16)))
        .await;
    assert_eq!(
        (status, body["kind"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, body) = console.get("/api/metrics").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("name"), "{body}");
    let (status, body) = console.get("/api/traces?min_duration=soon").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"].as_str().unwrap().contains("min_duration"),
        "{body}"
    );
    let (status, body) = console.get("/api/nothing/here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("/api/nothing/here"),
        "{body}"
    );
}

#[tokio::test]
async fn a_token_is_checked_on_every_api_request_and_may_come_in_the_query() {
    let console = Console::start(Some("let-me-in"), UiFiles::Missing).await;
    let status =
        |request: reqwest::RequestBuilder| async move { request.send().await.unwrap().status() };
    let http = &console.http;
    let none = status(http.get(console.url("/api/clusters"))).await;
    assert_eq!(none, StatusCode::UNAUTHORIZED);
    let wrong = status(
        http.get(console.url("/api/clusters"))
            .bearer_auth("let-me-out"),
    )
    .await;
    assert_eq!(wrong, StatusCode::UNAUTHORIZED);
    let unknown = status(http.get(console.url("/api/nothing"))).await;
    assert_eq!(
        unknown,
        StatusCode::UNAUTHORIZED,
        "no probing without the token"
    );
    let right = status(
        http.get(console.url("/api/clusters"))
            .bearer_auth("let-me-in"),
    )
    .await;
    assert_eq!(right, StatusCode::OK);
    // EventSource cannot set headers: the token comes in the query.
    console.live("?token=let-me-in").await;
    // The UI's page itself needs no token (it holds no data).
    assert_eq!(status(http.get(console.url("/"))).await, StatusCode::OK);
}

#[tokio::test]
async fn without_a_token_foreign_hosts_and_origins_are_refused() {
    let console = Console::start(None, UiFiles::Missing).await;
    let http = &console.http;
    let send = |request: reqwest::RequestBuilder| async move {
        let response = request.send().await.unwrap();
        (response.status(), answer(response).await.1)
    };
    let (status, body) = send(
        http.post(console.url("/api/commands"))
            .header("host", "evil.example")
            .json(&trip("x", "y")),
    )
    .await;
    assert_eq!(
        (status, body["kind"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden_origin"))
    );
    let (status, _) = send(
        http.get(console.url("/api/clusters"))
            .header("origin", "https://evil.example"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = send(
        http.get(console.url("/api/clusters"))
            .header("host", "localhost")
            .header("origin", "http://localhost:5173"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::create_dir_all(dir.join(name).parent().unwrap()).unwrap();
    std::fs::write(dir.join(name), text).unwrap();
}

#[tokio::test]
async fn the_built_ui_is_served_with_index_html_for_its_own_routes() {
    let ui = tempfile::tempdir().unwrap();
    write(ui.path(), "index.html", "<title>app</title>");
    write(ui.path(), "assets/app.js", "console.log(1)");
    let chosen = UiFiles::choose(Some(ui.path()), Path::new("/nonexistent")).unwrap();
    let console = Console::start(None, chosen).await;
    let get = |path: &str| {
        let request = console.http.get(console.url(path));
        async move {
            let response = request.send().await.unwrap();
            let kind = response.headers()["content-type"]
                .to_str()
                .unwrap()
                .to_owned();
            (response.status(), kind, response.text().await.unwrap())
        }
    };
    let (status, kind, body) = get("/assets/app.js").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "console.log(1)"));
    assert!(kind.contains("javascript"), "{kind}");
    for route in ["/", "/sagas/123"] {
        let (status, kind, body) = get(route).await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::OK, "<title>app</title>"),
            "{route}"
        );
        assert!(kind.starts_with("text/html"), "{kind}");
    }
    let (status, kind, _) = get("/api/nothing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(kind.starts_with("application/json"), "{kind}");

    let empty = tempfile::tempdir().unwrap();
    let err = UiFiles::choose(Some(empty.path()), Path::new("/nonexistent")).unwrap_err();
    assert!(err.to_string().contains("index.html"), "{err}");
}

#[tokio::test]
async fn without_a_built_ui_a_page_lists_the_api() {
    let console = Console::start(None, UiFiles::Missing).await;
    let page = console
        .http
        .get(console.url("/anything"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("not built"), "{page}");
    assert!(page.contains("/api/commands"), "{page}");
}

/// The live stream ends when the server closes its streams, so shutdown is not held up.
#[tokio::test]
async fn closing_the_streams_ends_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let records = Records::open(&db).await.unwrap();
    let clusters = Arc::new(Clusters::start(
        ClustersFile::load(dir.path().join("c.toml")).unwrap(),
        None,
    ));
    let state = AppState::new(clusters, Reader::open(&db).await.unwrap(), records);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = api::router(
        state.clone(),
        Access::new(addr, None).unwrap(),
        &UiFiles::Missing,
    );
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let closing = state.clone();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop_rx.await;
                closing.close_streams();
            })
            .await
    });
    let response = reqwest::get(format!("http://{addr}/api/live"))
        .await
        .unwrap();
    let mut events = SseReader::new(response.bytes_stream());
    assert_eq!(events.next().await.unwrap().event, "ready");
    stop_tx.send(()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    assert_eq!(events.next().await, None, "the stream ends");
    while !server.is_finished() {
        assert!(Instant::now() < deadline, "the server did not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.await.unwrap().unwrap();
}
