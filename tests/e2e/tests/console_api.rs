//! The HTTP API of a real `switchyard ui` process driving a real `switchyard-agent demo`
//! process, as the browser and the desktop app will use it:
//!
//! - a cluster added over the API (its token never comes back) connects; the breakers
//!   show; a trip through `POST /api/commands` opens the payments breaker, the
//!   transition arrives on `/api/live` as a `breaker` event and is kept in
//!   `/api/events` and `/api/history`; a reset closes it;
//! - an unknown breaker is a 404 that names it, a view-only cluster a 403, an agent that
//!   refuses our token a 502 `agent_unauthenticated`;
//! - telemetry sent through the embedded OTLP receiver reads back through
//!   `/api/services`, `/api/traces`, `/api/traces/{id}` and `/api/metrics`;
//! - off loopback it needs a token (and refuses to start without one); SIGTERM ends it
//!   cleanly with a live stream open.

mod support;

use std::time::{Duration, Instant};

use prost::Message as _;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{eventually, require_programs, start_demo, start_ui, ui_command};
use switchyard_testkit::{SseReader, full_span, now_nanos, traces_request};

async fn answer(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

struct Api {
    http: reqwest::Client,
    ui: support::Ui,
}

impl Api {
    async fn get(&self, path: &str) -> (StatusCode, Value) {
        answer(self.http.get(self.ui.api(path)).send().await.unwrap()).await
    }

    async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        answer(
            self.http
                .post(self.ui.api(path))
                .json(body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    async fn command(&self, cluster: &str, action: &str, breaker: &str) -> (StatusCode, Value) {
        let body = json!({
            "cluster": cluster,
            "command": {"action": action, "breaker": breaker},
            "reason": "game day",
            "who": "alice",
        });
        self.post("/api/commands", &body).await
    }
}

fn cluster(name: &str, endpoint: &str, token: &str) -> Value {
    json!({"name": name, "agents": [{"endpoint": endpoint, "token": token}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_drives_a_real_agent_and_streams_its_changes() {
    require_programs();
    let dir = tempfile::tempdir().unwrap();
    let clusters = dir.path().join("clusters.toml");
    let ui = start_ui(&clusters, &dir.path().join("telemetry.db"), &[]);
    let demo = start_demo(&ui.otlp_grpc, &["--no-outage"]);
    let api = Api {
        http: reqwest::Client::new(),
        ui,
    };

    let (status, added) = api
        .post(
            "/api/clusters",
            &cluster("shop", &demo.endpoint(), &demo.token),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    let (_, listed) = api.get("/api/clusters").await;
    assert!(
        !listed.to_string().contains(&demo.token),
        "token echoed: {listed}"
    );
    let (status, tested) = api.post("/api/clusters/shop/test", &json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tested[0]["ok"], true, "{tested}");
    assert!(tested[0]["agent_id"].is_string(), "{tested}");

    let payments = eventually(
        Duration::from_secs(30),
        "the payments breaker",
        async || {
            let (_, breakers) = api.get("/api/breakers?cluster=shop").await;
            breakers.as_array()?.iter().find_map(|b| {
                let name = b["name"].as_str()?;
                name.starts_with("upstream.payments.")
                    .then(|| name.to_owned())
            })
        },
    )
    .await;
    let (_, agents) = api.get("/api/agents").await;
    assert_eq!(agents[0]["connected"], true, "{agents}");
    let (_, routes) = api.get("/api/routes?cluster=shop").await;
    assert!(!routes.as_array().unwrap().is_empty(), "{routes}");
    eventually(Duration::from_secs(30), "saga statuses", async || {
        let (_, sagas) = api.get("/api/sagas/live?cluster=shop&limit=3").await;
        let sagas = sagas.as_array()?;
        (!sagas.is_empty() && sagas.len() <= 3 && sagas[0]["id"].is_string()).then_some(())
    })
    .await;

    // Subscribe, then act: the trip's transition comes down the stream.
    let response = api.http.get(api.ui.api("/api/live")).send().await.unwrap();
    let mut live = SseReader::new(response.bytes_stream());
    assert_eq!(live.next().await.unwrap().event, "ready");
    let (status, tripped) = api.command("shop", "trip", &payments).await;
    assert_eq!(status, StatusCode::OK, "{tripped}");
    assert_eq!(tripped["outcome"], "ok");
    assert_eq!(tripped["result"]["state"], "forced_open");
    let deadline = Instant::now() + Duration::from_secs(30);
    let heard = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let event = tokio::time::timeout(left, live.next())
            .await
            .expect("the transition on /api/live in time")
            .expect("the stream stays open");
        if event.event != "breaker" {
            continue;
        }
        let change: Value = serde_json::from_str(&event.data).unwrap();
        if change["breaker"]["name"] == payments.as_str()
            && change["breaker"]["state"] == "forced_open"
        {
            break change;
        }
    };
    assert_eq!(heard["type"], "breaker");
    assert_eq!(heard["reason"], "manual");
    let (_, breakers) = api.get("/api/breakers").await;
    let state = breakers
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == payments.as_str())
        .map(|b| b["state"].clone());
    assert_eq!(state, Some(json!("forced_open")));
    eventually(
        Duration::from_secs(10),
        "the transition in /api/events",
        async || {
            let (_, events) = api
                .get(&format!(
                    "/api/events?kind=breaker&name={payments}&since=10m"
                ))
                .await;
            events
                .as_array()?
                .iter()
                .any(|e| e["to_state"] == "forced_open")
                .then_some(())
        },
    )
    .await;

    // Errors, each with a status that says whose fault it is.
    let (status, unknown) = api.command("shop", "trip", "no-such-breaker").await;
    assert_eq!(
        (status, unknown["kind"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    assert!(
        unknown["error"]
            .as_str()
            .unwrap()
            .contains("no-such-breaker"),
        "{unknown}"
    );
    let mut prod = cluster("prod", &demo.endpoint(), &demo.token);
    prod["view_only"] = json!(true);
    assert_eq!(
        api.post("/api/clusters", &prod).await.0,
        StatusCode::CREATED
    );
    let (status, view_only) = api.command("prod", "trip", &payments).await;
    assert_eq!(
        (status, view_only["kind"].as_str()),
        (StatusCode::FORBIDDEN, Some("view_only"))
    );
    let stranger = cluster("stranger", &demo.endpoint(), "wrong-token");
    assert_eq!(
        api.post("/api/clusters", &stranger).await.0,
        StatusCode::CREATED
    );
    let (status, refused) = api.command("stranger", "trip", &payments).await;
    assert_eq!(
        (status, refused["kind"].as_str()),
        (StatusCode::BAD_GATEWAY, Some("agent_unauthenticated")),
        "{refused}"
    );
    let (_, tested) = api.post("/api/clusters/stranger/test", &json!({})).await;
    assert_eq!(tested[0]["ok"], false);
    assert_eq!(tested[0]["kind"], "agent_unauthenticated");

    let (status, reset) = api.command("shop", "reset", &payments).await;
    assert_eq!(status, StatusCode::OK, "{reset}");
    assert_eq!(reset["result"]["state"], "closed");
    let (_, history) = api.get("/api/history?limit=5").await;
    let actions: Vec<(&str, &str)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["action"].as_str().unwrap(),
                c["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("reset", "ok"),
            ("trip", "error"),
            ("trip", "refused"),
            ("trip", "error"),
            ("trip", "ok")
        ]
    );

    // Telemetry through the embedded receiver, read back through the API.
    let trace_id = [0x5a; 16];
    let spans = vec![full_span(&trace_id, &[1; 8], &[], "checkout", now_nanos())];
    let sent = api
        .http
        .post(format!("{}/v1/traces", api.ui.otlp_http))
        .header("content-type", "application/x-protobuf")
        .body(traces_request("api-e2e", spans).encode_to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::OK);
    let (_, services) = api.get("/api/services").await;
    assert!(services.to_string().contains("api-e2e"), "{services}");
    let (_, page) = api.get("/api/traces?service=api-e2e&errors&since=1h").await;
    let hex = "5a".repeat(16);
    assert_eq!(page["traces"][0]["trace_id"], hex.as_str(), "{page}");
    let (status, trace) = api.get(&format!("/api/traces/{hex}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(trace["spans"][0]["name"], "checkout");
    // The demo's breaker metrics arrive through the same receiver.
    eventually(
        Duration::from_secs(60),
        "breaker.state points",
        async || {
            let (_, series) = api
                .get(&format!(
                    "/api/metrics?name=breaker.state&attr=breaker.name={payments}&since=10m"
                ))
                .await;
            (!series.as_array()?.is_empty()).then_some(())
        },
    )
    .await;

    // The closed loop runs inside `switchyard ui`: the trip gets its verdict from the
    // breaker metrics that followed it.
    let verdict = eventually(Duration::from_secs(90), "the trip's verdict", async || {
        let (_, history) = api.get("/api/history?limit=20").await;
        let trip = history
            .as_array()?
            .iter()
            .find(|c| c["action"] == "trip" && c["outcome"] == "ok")?
            .clone();
        trip["verdict"].as_str().map(str::to_owned)
    })
    .await;
    assert!(
        matches!(verdict.as_str(), "confirmed" | "no_traffic"),
        "{verdict}"
    );
    // The impact preview and the findings answer too.
    let (status, impact) = api
        .post(
            "/api/impact",
            &json!({"cluster": "shop", "command": {"action": "trip", "breaker": payments}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{impact}");
    assert!(
        impact["summary"]
            .as_str()
            .unwrap()
            .contains(payments.as_str()),
        "{impact}"
    );
    let (status, findings) = api.get("/api/findings?breaker_quiet=1s").await;
    assert_eq!(status, StatusCode::OK, "{findings}");
    assert!(findings.is_array(), "{findings}");

    // The models over the same store: sagas (and one flow), the breaker board and one
    // breaker's history.
    let sagas = eventually(Duration::from_secs(60), "sagas in the store", async || {
        let (_, sagas) = api.get("/api/sagas?name=checkout&since=10m").await;
        let first = sagas.as_array()?.first()?.clone();
        Some(first)
    })
    .await;
    let id = sagas["saga_id"].as_str().unwrap();
    let (status, flow) = api.get(&format!("/api/sagas/{id}/flow")).await;
    assert_eq!(status, StatusCode::OK, "{flow}");
    let (status, aggregate) = api.get("/api/sagas/aggregate/checkout?since=1h").await;
    assert_eq!(status, StatusCode::OK, "{aggregate}");
    let (status, board) = api.get("/api/breakers/board?since=10m").await;
    assert_eq!(status, StatusCode::OK, "{board}");
    assert!(board.to_string().contains(payments.as_str()), "{board}");
    let (status, history) = api
        .get(&format!(
            "/api/breakers/{payments}/history?since=10m&interval=10s"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{history}");
    // The breaker's chart, with the commands sent to it as annotations.
    let chart = api
        .http
        .get(
            api.ui
                .api(&format!("/api/plots/breaker/{payments}?since=10m")),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(chart.status(), StatusCode::OK);
    assert_eq!(chart.headers()["content-type"], "image/svg+xml");
    let svg = chart.text().await.unwrap();
    assert!(svg.contains("<svg"), "{svg}");
    assert!(svg.contains("trip by"), "the trip is annotated");
    let png = api
        .http
        .get(api.ui.api(&format!(
            "/api/plots/breaker/{payments}?since=10m&format=png"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(png.headers()["content-type"], "image/png");
    assert!(png.bytes().await.unwrap().starts_with(b"\x89PNG"));
    // The other charts from the demo's telemetry: saga outcomes, a span name's
    // latency, a route's traffic by target.
    for (path, expect) in [
        (
            "/api/plots/sagas?name=checkout&since=10m&interval=1m",
            "completed",
        ),
        (
            "/api/plots/latency/saga%20checkout?since=10m",
            "saga checkout",
        ),
        ("/api/plots/route/catalog?since=10m", "catalog"),
    ] {
        let chart = api.http.get(api.ui.api(path)).send().await.unwrap();
        assert_eq!(chart.status(), StatusCode::OK, "{path}");
        let svg = chart.text().await.unwrap();
        assert!(svg.contains(expect), "{path}: {expect} not in the chart");
    }
    let (status, missing) = api.get("/api/sagas/no-such-saga/flow").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");

    // SIGTERM with a live stream open: a clean exit, and the stream ends.
    let status = api.ui.stop();
    assert!(status.success(), "ui exited with {status}");
    // The stream ends: what was sent before still arrives, then nothing.
    tokio::time::timeout(Duration::from_secs(30), async {
        while live.next().await.is_some() {}
    })
    .await
    .expect("the live stream ends with the process");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_loopback_the_ui_requires_a_token() {
    require_programs();
    let dir = tempfile::tempdir().unwrap();
    let clusters = dir.path().join("clusters.toml");
    let db = dir.path().join("telemetry.db");

    let refused = ui_command(&clusters, &db, &["--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("--token"), "{stderr}");
    assert!(refused.stdout.is_empty(), "nothing started");

    let ui = start_ui(
        &clusters,
        &db,
        &["--listen", "0.0.0.0:0", "--token", "open-sesame"],
    );
    assert!(ui.url.starts_with("http://0.0.0.0:"), "{}", ui.url);
    let http = reqwest::Client::new();
    let status =
        |request: reqwest::RequestBuilder| async move { request.send().await.unwrap().status() };
    let clusters_url = ui.api("/api/clusters");
    assert_eq!(
        status(http.get(&clusters_url)).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        status(http.get(&clusters_url).bearer_auth("sesame-open")).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        status(http.get(&clusters_url).bearer_auth("open-sesame")).await,
        StatusCode::OK
    );
    let live = http
        .get(ui.api("/api/live?token=open-sesame"))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), StatusCode::OK);
    let mut events = SseReader::new(live.bytes_stream());
    assert_eq!(events.next().await.unwrap().event, "ready");
    assert!(ui.stop().success());
}
