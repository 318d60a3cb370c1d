//! The workers and their upstream connection pools, against a hand-made upstream that
//! counts the connections it accepts and can close each one after one answer.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use switchyard_gateway::{Config, Gateway, RunningGateway};

/// Counts connections; with `close_each` set, answers with `connection: close`.
struct CountingUpstream {
    addr: SocketAddr,
    connections: AtomicUsize,
    close_each: AtomicBool,
}

async fn counting_upstream() -> Arc<CountingUpstream> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = Arc::new(CountingUpstream {
        addr: listener.local_addr().unwrap(),
        connections: AtomicUsize::new(0),
        close_each: AtomicBool::new(false),
    });
    let state = upstream.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            state.connections.fetch_add(1, Ordering::SeqCst);
            let state = state.clone();
            tokio::spawn(async move {
                let service = service_fn(move |_request| {
                    let close = state.close_each.load(Ordering::SeqCst);
                    async move {
                        let mut response =
                            http::Response::new(Full::new(Bytes::from_static(b"ok")));
                        if close {
                            response.headers_mut().insert(
                                http::header::CONNECTION,
                                http::HeaderValue::from_static("close"),
                            );
                        }
                        Ok::<_, Infallible>(response)
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    upstream
}

async fn start(upstream: SocketAddr, workers: usize) -> RunningGateway {
    let mut config = Config::from_toml(&format!(
        "workers = {workers}\n[[cluster]]\nname = \"c\"\ninstances = [\"{upstream}\"]\n\
         [[route]]\nname = \"r\"\ncluster = \"c\"\n"
    ))
    .unwrap();
    config.listeners = vec!["127.0.0.1:0".to_owned()];
    Gateway::start(config).await.unwrap()
}

#[tokio::test]
async fn one_client_connection_reuses_one_upstream_connection() {
    let upstream = counting_upstream().await;
    let gw = start(upstream.addr, 2).await;
    let client = reqwest::Client::new();
    for _ in 0..50 {
        let response = client
            .get(format!("http://{}/", gw.local_addr()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.unwrap(), "ok");
    }
    // One keep-alive client connection lives on one worker, which keeps reusing the
    // connection it opened once the answer has been read.
    assert_eq!(upstream.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn connections_the_upstream_closes_are_replaced() {
    let upstream = counting_upstream().await;
    upstream.close_each.store(true, Ordering::SeqCst);
    let gw = start(upstream.addr, 1).await;
    let client = reqwest::Client::new();
    for _ in 0..20 {
        let response = client
            .get(format!("http://{}/", gw.local_addr()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    assert_eq!(upstream.connections.load(Ordering::SeqCst), 20);
}

#[tokio::test]
async fn many_client_connections_are_spread_over_the_workers_and_all_answered() {
    let upstream = counting_upstream().await;
    let gw = start(upstream.addr, 3).await;
    let addr = gw.local_addr();
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            tokio::spawn(async move {
                // A client of its own: a connection of its own.
                let client = reqwest::Client::new();
                for _ in 0..10 {
                    let response = client.get(format!("http://{addr}/")).send().await.unwrap();
                    assert_eq!(response.status(), 200);
                    response.bytes().await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    // Each worker's pool opens its own connections, at most one per client connection
    // in flight at once.
    let opened = upstream.connections.load(Ordering::SeqCst);
    assert!((1..=12).contains(&opened), "{opened} upstream connections");
    gw.shutdown().await;
}

#[test]
fn worker_count_is_checked() {
    let err = Config::from_toml("listeners = []\nworkers = 0\n").unwrap_err();
    assert_eq!(err.line, 2, "{err}");
    assert_eq!(err.field, "workers", "{err}");
}
