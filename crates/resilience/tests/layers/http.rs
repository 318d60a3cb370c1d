//! The layers composed in a real hyper client, against a real hyper server on
//! 127.0.0.1:0 that fails on demand. The breaker runs on a manual clock, so its open
//! wait passes when the test says; nothing sleeps.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use switchyard_resilience::BoxError;
use switchyard_resilience::breaker::{
    Breaker, BreakerConfig, BreakerState, CircuitBreakerLayer, HalfOpenTransition,
};
use switchyard_resilience::bulkhead::{Bulkhead, BulkheadLayer};
use switchyard_resilience::classify::{ServerErrors, is_connection_error, is_timeout};
use switchyard_resilience::clock::ManualClock;
use switchyard_resilience::error::{BreakerOpen, BulkheadFull, Elapsed};
use switchyard_resilience::rate_limit::{Quota, RateLimitLayer, RateLimiter};
use switchyard_resilience::retry::{Backoff, RetryLayer, RetryPolicy};
use switchyard_resilience::timeout::TimeoutLayer;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tower::{Service, ServiceBuilder, ServiceExt};

use crate::downcast;

const OK: u8 = 0;
const FAIL: u8 = 1;
const HANG: u8 = 2;

/// A local HTTP server whose behaviour the test switches: answer 200, answer 503, or
/// hold the request until released.
struct Upstream {
    addr: SocketAddr,
    mode: Arc<AtomicU8>,
    hits: Arc<AtomicU64>,
    release: Arc<Notify>,
}

impl Upstream {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (mode, hits, release) = (
            Arc::new(AtomicU8::new(OK)),
            Arc::new(AtomicU64::new(0)),
            Arc::new(Notify::new()),
        );
        let state = (mode.clone(), hits.clone(), release.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (mode, hits, release) = state.clone();
                let service = service_fn(move |_request: Request<Incoming>| {
                    let (mode, hits, release) = (mode.clone(), hits.clone(), release.clone());
                    async move {
                        hits.fetch_add(1, Ordering::SeqCst);
                        let status = match mode.load(Ordering::SeqCst) {
                            OK => StatusCode::OK,
                            FAIL => StatusCode::SERVICE_UNAVAILABLE,
                            _ => {
                                release.notified().await;
                                StatusCode::OK
                            }
                        };
                        let response = Response::builder()
                            .status(status)
                            .body(Full::new(Bytes::from("upstream")));
                        Ok::<_, Infallible>(response.unwrap())
                    }
                });
                tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
            }
        });
        Upstream {
            addr,
            mode,
            hits,
            release,
        }
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }

    fn hits(&self) -> u64 {
        self.hits.load(Ordering::SeqCst)
    }

    fn request(&self) -> Request<Full<Bytes>> {
        Request::get(format!("http://{}/stock", self.addr))
            .body(Full::new(Bytes::new()))
            .unwrap()
    }
}

type Http = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

fn client() -> Http {
    Client::builder(TokioExecutor::new()).build_http()
}

/// Retried: 5xx responses and transport failures, never our own rejections.
fn retryable(result: &Result<Response<Incoming>, BoxError>) -> bool {
    match result {
        Ok(response) => response.status().is_server_error(),
        Err(e) => is_timeout(&**e) || is_connection_error(&**e),
    }
}

#[tokio::test]
async fn the_stack_protects_a_real_client_from_a_failing_server() {
    let upstream = Upstream::start().await;
    let clock = ManualClock::new();
    let config = BreakerConfig::default()
        .count_window(4)
        .minimum_calls(4)
        .wait_in_open(Duration::from_secs(30))
        .permitted_probes(1)
        .half_open_transition(HalfOpenTransition::OnNextCall);
    let breaker = Breaker::builder("stock")
        .config(config)
        .clock(clock.clone())
        .build()
        .unwrap();
    let retry = RetryPolicy::builder("stock")
        .max_attempts(3)
        .backoff(Backoff::new(Duration::ZERO, Duration::ZERO))
        .classify(retryable as fn(&Result<Response<Incoming>, BoxError>) -> bool)
        .no_budget()
        .build()
        .unwrap();
    let mut stack = ServiceBuilder::new()
        .layer(RetryLayer::new(retry.clone()))
        .layer(RateLimitLayer::new(
            RateLimiter::new("stock", Quota::per_second(10_000)).unwrap(),
        ))
        .layer(BulkheadLayer::new(Bulkhead::new("stock", 8).unwrap()))
        .layer(CircuitBreakerLayer::new(breaker.clone()).classify(ServerErrors))
        .layer(TimeoutLayer::new(Duration::from_secs(5)))
        .service(client());

    // Healthy: one call, one hit.
    let response = stack
        .ready()
        .await
        .unwrap()
        .call(upstream.request())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.into_body().collect().await.unwrap().to_bytes(),
        "upstream"
    );
    assert_eq!(upstream.hits(), 1);

    // Failing: the call is tried 3 times and its last 503 returned. With the success
    // before them, 3 failures of 4 calls open the breaker.
    upstream.set(FAIL);
    let response = stack
        .ready()
        .await
        .unwrap()
        .call(upstream.request())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(upstream.hits(), 4);
    assert_eq!(breaker.state(), BreakerState::Open);
    let err = stack
        .ready()
        .await
        .unwrap()
        .call(upstream.request())
        .await
        .unwrap_err();
    assert_eq!(downcast::<BreakerOpen>(&err).state, BreakerState::Open);

    // Open: calls fail fast, are not retried, and the server sees nothing.
    for _ in 0..10 {
        let err = stack
            .ready()
            .await
            .unwrap()
            .call(upstream.request())
            .await
            .unwrap_err();
        assert!(err.is::<BreakerOpen>());
    }
    assert_eq!(upstream.hits(), 4);

    // Recovered: after the open wait, one probe closes the breaker.
    upstream.set(OK);
    clock.advance(Duration::from_secs(30));
    let response = stack
        .ready()
        .await
        .unwrap()
        .call(upstream.request())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(breaker.state(), BreakerState::Closed);
    assert_eq!(upstream.hits(), 5);
    let totals = breaker.snapshot().totals;
    assert_eq!(
        (totals.success, totals.failure, totals.rejected),
        (2, 3, 11)
    );
    // Retry saw: a success, an exhausted call, 11 rejections returned as they were
    // (not retryable), and the probe's success.
    assert_eq!(retry.counts(), ([2, 11, 1, 0], 2));
}

#[tokio::test]
async fn timeouts_and_refused_connections_are_failures_the_breaker_counts() {
    let upstream = Upstream::start().await;
    let breaker = Breaker::new(
        "flaky",
        BreakerConfig::default().count_window(2).minimum_calls(2),
    )
    .unwrap();
    let mut stack = ServiceBuilder::new()
        .layer(CircuitBreakerLayer::new(breaker.clone()).classify(ServerErrors))
        .layer(TimeoutLayer::new(Duration::from_millis(50)))
        .service(client());

    upstream.set(HANG);
    let err = stack
        .ready()
        .await
        .unwrap()
        .call(upstream.request())
        .await
        .unwrap_err();
    assert_eq!(downcast::<Elapsed>(&err).after, Duration::from_millis(50));
    upstream.release.notify_waiters();

    // Nothing listens on this port any more: connection refused.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let request = Request::get(format!("http://{addr}/"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let err = stack
        .ready()
        .await
        .unwrap()
        .call(request)
        .await
        .unwrap_err();
    assert!(is_connection_error(&*err), "{err:?}");
    assert!(!is_timeout(&*err));

    let s = breaker.snapshot();
    assert_eq!((s.state, s.totals.failure), (BreakerState::Open, 2));
}

#[tokio::test]
async fn a_full_bulkhead_turns_calls_away_while_the_server_hangs() {
    let upstream = Upstream::start().await;
    upstream.set(HANG);
    let bulkhead = Bulkhead::new("hanging", 1).unwrap();
    let stack = ServiceBuilder::new()
        .layer(BulkheadLayer::new(bulkhead.clone()))
        .service(client());

    let mut first = stack.clone();
    let request = upstream.request();
    let in_flight = tokio::spawn(async move { first.ready().await.unwrap().call(request).await });
    while upstream.hits() == 0 {
        tokio::task::yield_now().await;
    }
    assert_eq!(bulkhead.in_flight(), 1);
    let err = stack
        .clone()
        .ready()
        .await
        .unwrap()
        .call(upstream.request())
        .await
        .unwrap_err();
    assert_eq!(downcast::<BulkheadFull>(&err).max_concurrent, 1);
    assert_eq!(upstream.hits(), 1, "rejected before reaching the server");

    upstream.release.notify_waiters();
    assert_eq!(in_flight.await.unwrap().unwrap().status(), StatusCode::OK);
    assert_eq!(bulkhead.in_flight(), 0);
}
