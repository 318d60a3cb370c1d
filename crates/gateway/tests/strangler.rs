//! Strangler fig and adapter against real upstreams: weights, stickiness, shadow
//! differences, the XML adapter, and the governor's rollback.

mod support;

use std::net::SocketAddr;

use serde_json::json;
use support::{client, eventually, upstream};
use switchyard_gateway::{ChangeSource, Config, GOVERNOR, Gateway, RunningGateway};

async fn start(toml: &str) -> RunningGateway {
    let mut config = Config::from_toml(toml).unwrap_or_else(|e| panic!("{e}"));
    config.listeners = vec!["127.0.0.1:0".to_owned()];
    Gateway::start(config).await.unwrap()
}

fn url(gw: &RunningGateway, path: &str) -> String {
    format!("http://{}{path}", gw.local_addr())
}

fn split_toml(legacy: SocketAddr, new: SocketAddr, new_extra: &str, split: &str) -> String {
    format!(
        r#"
        [[cluster]]
        name = "legacy"
        instances = ["{legacy}"]
        [[cluster]]
        name = "new"
        instances = ["{new}"]
        {new_extra}
        [[route]]
        name = "catalog"
        [route.split]
        legacy = "legacy"
        new = "new"
        {split}
        "#
    )
}

#[tokio::test]
async fn weights_are_honoured_and_sticky_per_client() {
    let (legacy, new) = (upstream("legacy").await, upstream("new").await);
    let gw = start(&split_toml(legacy.addr, new.addr, "", "weight = 30")).await;
    let http = client();
    for user in 0..2_000 {
        let response = http
            .get(url(&gw, "/items"))
            .header("x-user-id", format!("user-{user}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let to_new = new.hits();
    assert!(
        (500..=700).contains(&to_new),
        "{to_new} of 2000 went to the new side at 30%"
    );
    let counters = gw.gateway().route("catalog").unwrap().counters;
    assert_eq!(
        (counters.legacy + counters.new, counters.new as usize),
        (2_000, to_new)
    );

    // Each client stays on its side.
    for user in 0..20 {
        let sides: Vec<String> = futures_sides(&http, &gw, &format!("sticky-{user}")).await;
        assert!(sides.windows(2).all(|w| w[0] == w[1]), "{sides:?}");
    }

    // Live weight change through the API.
    let state = gw.gateway().set_weight("catalog", 100).unwrap();
    assert_eq!(state.weight, Some(100));
    let before = new.hits();
    for user in 0..10 {
        http.get(url(&gw, "/x"))
            .header("x-user-id", format!("u{user}"))
            .send()
            .await
            .unwrap();
    }
    assert_eq!(new.hits(), before + 10);
    assert!(gw.gateway().set_weight("nope", 1).is_err());
    assert!(gw.gateway().set_weight("catalog", 101).is_err());
}

async fn futures_sides(http: &reqwest::Client, gw: &RunningGateway, user: &str) -> Vec<String> {
    let mut sides = Vec::new();
    for _ in 0..5 {
        let body: serde_json::Value = http
            .get(url(gw, "/who"))
            .header("x-user-id", user)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        sides.push(body["upstream"].as_str().unwrap().to_owned());
    }
    sides
}

#[tokio::test]
async fn shadowing_counts_differences() {
    let (legacy, new) = (upstream("legacy").await, upstream("new").await);
    let gw = start(&split_toml(
        legacy.addr,
        new.addr,
        "",
        "weight = 0\nshadow = 100",
    ))
    .await;
    let http = client();
    for _ in 0..10 {
        // Same answer from both sides.
        let body: serde_json::Value = http
            .get(url(&gw, "/same"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body["path"], "/same");
    }
    let gateway = gw.gateway().clone();
    eventually("10 shadows compared", || {
        gateway.route("catalog").unwrap().counters.shadowed == 10
    })
    .await;
    assert_eq!(gateway.route("catalog").unwrap().counters.differing, 0);
    for _ in 0..10 {
        // Each side names itself: the answers differ.
        let body: serde_json::Value = http
            .get(url(&gw, "/who"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body["upstream"], "legacy", "answered from the primary");
    }
    eventually("20 shadows compared", || {
        gateway.route("catalog").unwrap().counters.shadowed == 20
    })
    .await;
    let counters = gateway.route("catalog").unwrap().counters;
    assert_eq!(
        (counters.differing, counters.legacy, counters.new),
        (10, 20, 0)
    );
    assert_eq!(new.hits(), 20);
}

#[tokio::test]
async fn xml_adapter_round_trip() {
    let legacy = upstream("legacy").await;
    let gw = start(&format!(
        r#"
        [[cluster]]
        name = "legacy"
        instances = ["{}"]
        [[route]]
        name = "products"
        cluster = "legacy"
        adapter = {{ format = "xml", root = "Product", fields = {{ id = "ProductId", name = "Title" }} }}
        "#,
        legacy.addr
    ))
    .await;
    let sent = json!({"id": 42, "name": "Tea & cake", "price": 3.5});
    let response = client()
        .post(url(&gw, "/xml/products"))
        .json(&sent)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let back: serde_json::Value = response.json().await.unwrap();
    assert_eq!(back, sent);
    let seen = String::from_utf8(legacy.last_body.lock().unwrap().to_vec()).unwrap();
    assert_eq!(
        seen,
        "<Product><ProductId>42</ProductId><Title>Tea &amp; cake</Title><price>3.5</price></Product>"
    );
    let headers = legacy.last_headers.lock().unwrap().clone().unwrap();
    assert_eq!(headers["content-type"], "application/xml");
}

#[tokio::test]
async fn governor_rolls_back_when_the_new_side_breaker_opens() {
    let (legacy, new) = (upstream("legacy").await, upstream("new").await);
    new.set_status(500);
    let gw = start(&split_toml(
        legacy.addr,
        new.addr,
        r#"breaker = { window = 4, minimum_calls = 4, open_for = "60s" }"#,
        "weight = 100\ngovernor = { interval = \"20ms\" }",
    ))
    .await;
    let http = client();
    for _ in 0..4 {
        assert_eq!(http.get(url(&gw, "/")).send().await.unwrap().status(), 500);
    }
    let gateway = gw.gateway().clone();
    eventually("rolled back", || {
        gateway.route("catalog").unwrap().weight == Some(0)
    })
    .await;
    assert!(gateway.route("catalog").unwrap().rolled_back);
    // The rollback is a journal entry like any change, and can be reverted.
    let rollback = gateway.journal().pop().unwrap();
    assert_eq!(
        (
            rollback.who.as_str(),
            &rollback.source,
            rollback.diff.as_str()
        ),
        (
            GOVERNOR,
            &ChangeSource::Governor,
            "route catalog weight 100 → 0\n"
        )
    );
    for _ in 0..10 {
        assert_eq!(http.get(url(&gw, "/")).send().await.unwrap().status(), 200);
    }
    assert_eq!(legacy.hits(), 10);
}
