//! Sidecar (egress) mode against real upstreams, with a real client that uses the
//! sidecar as its HTTP proxy: routing by destination, retries of idempotent calls
//! only, a breaker per destination that stops calling when open, the unknown
//! destination policy, and config errors with their line.

mod support;

use serde_json::Value;
use support::upstream;
use switchyard_gateway::{Config, Gateway, RunningGateway};
use switchyard_resilience::breaker::BreakerState;

/// The gateway of `toml` with its sidecar served on 127.0.0.1:0.
async fn start(toml: &str) -> RunningGateway {
    let config = Config::from_toml(toml).unwrap_or_else(|e| panic!("{e}"));
    let gateway = Gateway::new(config).unwrap();
    gateway
        .serve_sidecar_on(&["127.0.0.1:0".to_owned()])
        .await
        .unwrap()
}

/// A client that sends every http:// call through the sidecar, as a service would
/// with `HTTP_PROXY`.
fn proxied(sidecar: &RunningGateway) -> reqwest::Client {
    reqwest::Client::builder()
        .proxy(reqwest::Proxy::http(format!("http://{}", sidecar.local_addr())).unwrap())
        .build()
        .unwrap()
}

fn sidecar_toml(extra: &str, destinations: &str) -> String {
    format!(
        r#"listeners = []

[sidecar]
listen = "127.0.0.1:0"
service = "checkout"
{extra}
{destinations}"#
    )
}

async fn json(response: reqwest::Response) -> Value {
    response.json().await.unwrap()
}

#[tokio::test]
async fn calls_go_where_their_destination_says() {
    let (payments, other) = (upstream("payments").await, upstream("other").await);
    let toml = format!(
        r#"listeners = []

[[cluster]]
name = "payments"
instances = ["{}"]

[sidecar]
listen = "127.0.0.1:0"
service = "checkout"

[[sidecar.destination]]
host = "payments.internal"
cluster = "payments"
"#,
        payments.addr
    );
    let sidecar = start(&toml).await;
    let http = proxied(&sidecar);

    // A name only the sidecar knows goes to its cluster.
    let answer = http
        .get("http://payments.internal/who")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(json(answer).await["upstream"], "payments");
    let seen = payments.last_headers.lock().unwrap().clone().unwrap();
    assert_eq!(seen["host"], "payments.internal");
    assert_eq!(seen["via"], "1.1 switchyard-sidecar");
    assert!(!seen.contains_key("proxy-connection"));

    // An unlisted host:port is passed through to where it was going.
    let answer = http
        .get(format!("http://{}/who", other.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(json(answer).await["upstream"], "other");

    // Without proxy mode: a plain request naming its destination in Host.
    let answer = reqwest::Client::new()
        .get(format!("http://{}/who", sidecar.local_addr()))
        .header("host", "payments.internal")
        .send()
        .await
        .unwrap();
    assert_eq!(json(answer).await["upstream"], "payments");
    assert_eq!(payments.hits(), 2);
    assert_eq!(other.hits(), 1);
}

#[tokio::test]
async fn retries_only_idempotent_calls() {
    let flaky = upstream("flaky").await;
    flaky.set_status(503);
    let sidecar = start(&sidecar_toml(
        "",
        &format!(
            "[[sidecar.destination]]\nhost = \"{}\"\nretry = {{ attempts = 3 }}\n",
            flaky.addr
        ),
    ))
    .await;
    let http = proxied(&sidecar);
    let url = format!("http://{}/charge", flaky.addr);

    assert_eq!(http.get(&url).send().await.unwrap().status(), 503);
    assert_eq!(flaky.hits(), 3, "GET is tried three times");
    assert_eq!(http.post(&url).send().await.unwrap().status(), 503);
    assert_eq!(flaky.hits(), 4, "POST is sent once");
    assert_eq!(http.put(&url).send().await.unwrap().status(), 503);
    assert_eq!(flaky.hits(), 7, "PUT is idempotent");
}

#[tokio::test]
async fn an_open_breaker_stops_calling_the_destination() {
    let failing = upstream("failing").await;
    failing.set_status(500);
    let sidecar = start(&sidecar_toml(
        r#"breaker = { window = 4, minimum_calls = 4, open_for = "60s" }"#,
        "",
    ))
    .await;
    let http = proxied(&sidecar);
    let url = format!("http://{}/charge", failing.addr);
    for _ in 0..4 {
        assert_eq!(http.get(&url).send().await.unwrap().status(), 500);
    }
    let name = format!("egress.{}", failing.addr);
    let registry = sidecar.gateway().registry();
    assert_eq!(registry.get(&name).unwrap().state(), BreakerState::Open);

    let refused = http.get(&url).send().await.unwrap();
    assert_eq!(refused.status(), 503);
    assert_eq!(json(refused).await["breaker"], name.as_str());
    assert_eq!(failing.hits(), 4, "nothing was sent while open");

    // Another destination has its own breaker and is still called.
    let healthy = upstream("healthy").await;
    let answer = http
        .get(format!("http://{}/", healthy.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(
        registry
            .get(&format!("egress.{}", healthy.addr))
            .unwrap()
            .state(),
        BreakerState::Closed
    );
}

#[tokio::test]
async fn unlisted_destinations_can_be_refused() {
    let (listed, unlisted) = (upstream("listed").await, upstream("unlisted").await);
    let sidecar = start(&sidecar_toml(
        "unknown = \"refuse\"",
        &format!("[[sidecar.destination]]\nhost = \"{}\"\n", listed.addr),
    ))
    .await;
    let http = proxied(&sidecar);
    let answer = http
        .get(format!("http://{}/who", listed.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);

    let refused = http
        .get(format!("http://{}/who", unlisted.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    assert_eq!(
        json(refused).await["destination"],
        unlisted.addr.to_string().as_str()
    );
    assert_eq!(unlisted.hits(), 0);
}

#[tokio::test]
async fn slow_destinations_time_out() {
    let slow = upstream("slow").await;
    slow.set_delay(std::time::Duration::from_secs(5));
    let sidecar = start(&sidecar_toml(
        "",
        &format!(
            "[[sidecar.destination]]\nhost = \"{}\"\ntimeout = \"50ms\"\n",
            slow.addr
        ),
    ))
    .await;
    let answer = proxied(&sidecar)
        .get(format!("http://{}/", slow.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 504);
}

#[test]
fn bad_sidecar_sections_are_refused_with_their_line() {
    let refused = |toml: &str| Config::from_toml(toml).expect_err("refused");
    let err = refused(&sidecar_toml(
        "",
        "[[sidecar.destination]]\nhost = \"payments.internal\"\ncluster = \"nope\"\n",
    ));
    assert_eq!(
        (err.line, err.field.as_str()),
        (9, "sidecar.destination[0].cluster")
    );
    assert!(err.message.contains("nope"), "{err}");

    let err = refused(&sidecar_toml(
        "",
        "[[sidecar.destination]]\nhost = \"http://payments.internal/\"\n",
    ));
    assert_eq!(
        (err.line, err.field.as_str()),
        (8, "sidecar.destination[0].host")
    );

    let err = refused(&sidecar_toml("retry = { attempts = 0 }", ""));
    assert_eq!(
        (err.line, err.field.as_str()),
        (6, "sidecar.retry.attempts")
    );

    let err = refused("[sidecar]\nlisten = \"nowhere\"\nservice = \"s\"\n");
    assert_eq!((err.line, err.field.as_str()), (2, "sidecar.listen"));
}

#[tokio::test]
async fn a_call_that_loops_back_is_stopped() {
    let sidecar = start(&sidecar_toml("", "")).await;
    // The sidecar's own address as a destination: passed through to itself once, then
    // recognised by its Via.
    let answer = proxied(&sidecar)
        .get(format!("http://{}/", sidecar.local_addr()))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 508);
}
