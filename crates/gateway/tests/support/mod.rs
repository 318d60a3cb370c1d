//! Real upstream servers on loopback for the gateway's tests.
#![allow(dead_code)] // each test file uses a different part of the harness

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// What an upstream does and what it saw.
#[derive(Debug)]
pub(crate) struct Upstream {
    pub(crate) name: String,
    pub(crate) addr: SocketAddr,
    pub(crate) hits: AtomicUsize,
    pub(crate) status: AtomicU16,
    pub(crate) healthy: AtomicBool,
    pub(crate) delay_ms: AtomicU64,
    pub(crate) last_headers: Mutex<Option<HeaderMap>>,
    pub(crate) last_body: Mutex<Bytes>,
}

impl Upstream {
    pub(crate) fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
    pub(crate) fn set_status(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }
    pub(crate) fn set_healthy(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::SeqCst);
    }
    pub(crate) fn set_delay(&self, delay: Duration) {
        self.delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }
}

/// Starts an upstream: `/health` answers 200 or 503; `/xml...` echoes its body as
/// XML; `/who...` names the upstream; anything else answers a body that does not.
pub(crate) async fn upstream(name: &str) -> Arc<Upstream> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let state = Arc::new(Upstream {
        name: name.to_owned(),
        addr: listener.local_addr().unwrap(),
        hits: AtomicUsize::new(0),
        status: AtomicU16::new(200),
        healthy: AtomicBool::new(true),
        delay_ms: AtomicU64::new(0),
        last_headers: Mutex::new(None),
        last_body: Mutex::new(Bytes::new()),
    });
    let app = Router::new().fallback(handle).with_state(state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    state
}

async fn handle(
    State(up): State<Arc<Upstream>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if uri.path() == "/health" {
        return if up.healthy.load(Ordering::SeqCst) {
            StatusCode::OK.into_response()
        } else {
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        };
    }
    up.hits.fetch_add(1, Ordering::SeqCst);
    *up.last_headers.lock().unwrap() = Some(headers);
    *up.last_body.lock().unwrap() = body.clone();
    let delay = up.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let status = StatusCode::from_u16(up.status.load(Ordering::SeqCst)).unwrap();
    if uri.path().starts_with("/xml") {
        return (status, [("content-type", "application/xml")], body).into_response();
    }
    let text = if uri.path().starts_with("/who") {
        format!(r#"{{"upstream":"{}","method":"{method}"}}"#, up.name)
    } else {
        format!(r#"{{"method":"{method}","path":"{}"}}"#, uri.path())
    };
    (status, [("content-type", "application/json")], text).into_response()
}

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder().build().unwrap()
}

/// Polls `condition` every 20 ms for up to 10 s: waits for background work without
/// asserting on how long it takes.
pub(crate) async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    for _ in 0..500 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for: {what}");
}
