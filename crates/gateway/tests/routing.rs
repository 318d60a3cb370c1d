//! Routing, balancing, health, breakers, limits, auth, retries, timeouts and config
//! changes, against real upstreams on loopback.

mod support;

use std::time::Duration;

use support::{client, eventually, upstream};
use switchyard_gateway::{Config, Gateway, RunningGateway};

async fn start(toml: &str) -> RunningGateway {
    let config = Config::from_toml(toml).unwrap_or_else(|e| panic!("{e}"));
    let mut config = config;
    config.listeners = vec!["127.0.0.1:0".to_owned()];
    Gateway::start(config).await.unwrap()
}

fn url(gw: &RunningGateway, path: &str) -> String {
    format!("http://{}{path}", gw.local_addr())
}

#[tokio::test]
async fn routes_by_host_path_method_and_header() {
    let (a, b, c, d) = (
        upstream("a").await,
        upstream("b").await,
        upstream("c").await,
        upstream("d").await,
    );
    let gw = start(&format!(
        r#"
        [[cluster]]
        name = "a"
        instances = ["{}"]
        [[cluster]]
        name = "b"
        instances = ["{}"]
        [[cluster]]
        name = "c"
        instances = ["{}"]
        [[cluster]]
        name = "d"
        instances = ["{}"]
        [[route]]
        name = "by-host"
        host = "shop.example"
        cluster = "a"
        [[route]]
        name = "by-header"
        path_prefix = "/api"
        headers = {{ x-version = "2" }}
        cluster = "b"
        [[route]]
        name = "by-method"
        path_prefix = "/api"
        methods = ["POST"]
        cluster = "c"
        [[route]]
        name = "by-path"
        path_prefix = "/api"
        cluster = "d"
        "#,
        a.addr, b.addr, c.addr, d.addr
    ))
    .await;
    let http = client();
    let ok = http
        .get(url(&gw, "/x"))
        .header("host", "shop.example:80")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    http.get(url(&gw, "/api/items"))
        .header("x-version", "2")
        .send()
        .await
        .unwrap();
    http.post(url(&gw, "/api/items")).send().await.unwrap();
    http.get(url(&gw, "/api/items")).send().await.unwrap();
    assert_eq!((a.hits(), b.hits(), c.hits(), d.hits()), (1, 1, 1, 1));

    let missing = http.get(url(&gw, "/apix")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["path"], "/apix");
    assert_eq!(body["routes"][3]["route"], "by-path");
    assert!(
        body["routes"][3]["mismatch"]
            .as_str()
            .unwrap()
            .contains("/api")
    );

    // The upstream learns who asked.
    let headers = d.last_headers.lock().unwrap().clone().unwrap();
    assert_eq!(headers["x-forwarded-for"], "127.0.0.1");
    assert_eq!(headers["x-forwarded-proto"], "http");
}

fn cluster_toml(name: &str, addrs: &[std::net::SocketAddr], extra: &str) -> String {
    let list: Vec<String> = addrs.iter().map(|a| format!("\"{a}\"")).collect();
    format!(
        "[[cluster]]\nname = \"{name}\"\ninstances = [{}]\n{extra}\n",
        list.join(", ")
    )
}

#[tokio::test]
async fn round_robin_spreads_evenly() {
    let ups = [
        upstream("1").await,
        upstream("2").await,
        upstream("3").await,
    ];
    let addrs: Vec<_> = ups.iter().map(|u| u.addr).collect();
    let gw = start(&format!(
        "{}[[route]]\nname = \"r\"\ncluster = \"c\"\n",
        cluster_toml("c", &addrs, "")
    ))
    .await;
    let http = client();
    for _ in 0..30 {
        assert_eq!(http.get(url(&gw, "/")).send().await.unwrap().status(), 200);
    }
    assert_eq!(
        ups.iter().map(|u| u.hits()).collect::<Vec<_>>(),
        vec![10, 10, 10]
    );
}

#[tokio::test]
async fn least_outstanding_prefers_the_idle_instance() {
    let (slow, fast) = (upstream("slow").await, upstream("fast").await);
    slow.set_delay(Duration::from_secs(3));
    let gw = start(&format!(
        "{}[[route]]\nname = \"r\"\ncluster = \"c\"\n",
        cluster_toml(
            "c",
            &[slow.addr, fast.addr],
            "balancer = \"least_outstanding\""
        )
    ))
    .await;
    let http = client();
    // Until one request is stuck on the slow instance...
    let mut stuck = Vec::new();
    while slow.hits() == 0 {
        let request = http.get(url(&gw, "/")).send();
        stuck.push(tokio::spawn(request));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // ...every new request goes to the idle one.
    for _ in 0..20 {
        assert_eq!(http.get(url(&gw, "/")).send().await.unwrap().status(), 200);
    }
    assert_eq!(slow.hits(), 1);
}

#[tokio::test]
async fn health_checks_eject_and_bring_back() {
    let (a, b) = (upstream("a").await, upstream("b").await);
    let gw = start(&format!(
        "{}[[route]]\nname = \"r\"\ncluster = \"c\"\n",
        cluster_toml(
            "c",
            &[a.addr, b.addr],
            "health = { path = \"/health\", interval = \"30ms\", unhealthy_after = 1, healthy_after = 1 }"
        )
    ))
    .await;
    let http = client();
    let gateway = gw.gateway().clone();
    let a_healthy = || {
        gateway
            .instances()
            .iter()
            .find(|i| i.address == a.addr.to_string())
            .unwrap()
            .healthy
    };
    a.set_healthy(false);
    eventually("a ejected", || !a_healthy()).await;
    let before = a.hits();
    for _ in 0..10 {
        assert_eq!(http.get(url(&gw, "/")).send().await.unwrap().status(), 200);
    }
    assert_eq!(a.hits(), before, "no traffic to an unhealthy instance");
    a.set_healthy(true);
    eventually("a back", a_healthy).await;
    for _ in 0..10 {
        http.get(url(&gw, "/")).send().await.unwrap();
    }
    assert!(a.hits() > before, "traffic returns");
}

#[tokio::test]
async fn breaker_opens_on_5xx_and_traffic_moves() {
    let (bad, good) = (upstream("bad").await, upstream("good").await);
    bad.set_status(500);
    let gw = start(&format!(
        "{}[[route]]\nname = \"r\"\ncluster = \"c\"\n",
        cluster_toml(
            "c",
            &[bad.addr, good.addr],
            "breaker = { window = 4, minimum_calls = 4, failure_rate = 50.0, open_for = \"60s\" }"
        )
    ))
    .await;
    let http = client();
    let name = switchyard_gateway::breaker_name("c", &bad.addr);
    for _ in 0..8 {
        http.get(url(&gw, "/")).send().await.unwrap();
    }
    let state = gw.gateway().registry().snapshot(&name).unwrap().state;
    assert_eq!(state, switchyard_resilience::breaker::BreakerState::Open);
    let before = bad.hits();
    for _ in 0..10 {
        assert_eq!(http.get(url(&gw, "/")).send().await.unwrap().status(), 200);
    }
    assert_eq!(bad.hits(), before);
}

#[tokio::test]
async fn rate_limits_enforce_and_observe() {
    let up = upstream("u").await;
    let gw = start(&format!(
        r#"{}
        [[route]]
        name = "strict"
        path_prefix = "/strict"
        cluster = "c"
        rate_limit = {{ rate = 2, per = "1h", key_header = "x-client" }}
        [[route]]
        name = "dry"
        path_prefix = "/dry"
        cluster = "c"
        rate_limit = {{ rate = 2, per = "1h", mode = "observe" }}
        "#,
        cluster_toml("c", &[up.addr], "")
    ))
    .await;
    let http = client();
    let get = |path: &'static str, who: &'static str| {
        http.get(url(&gw, path)).header("x-client", who).send()
    };
    assert_eq!(get("/strict", "alice").await.unwrap().status(), 200);
    assert_eq!(get("/strict", "alice").await.unwrap().status(), 200);
    let limited = get("/strict", "alice").await.unwrap();
    assert_eq!(limited.status(), 429);
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    assert_eq!(
        get("/strict", "bob").await.unwrap().status(),
        200,
        "bob has his own"
    );
    for _ in 0..5 {
        assert_eq!(get("/dry", "x").await.unwrap().status(), 200);
    }
    let dry = gw.gateway().route("dry").unwrap().counters;
    assert_eq!(dry.would_limit, 3);
    assert_eq!(
        gw.gateway().route("strict").unwrap().counters.rate_limited,
        1
    );
    assert_eq!(up.hits(), 3 + 5);
}

#[derive(serde::Serialize)]
struct Claims {
    sub: String,
    aud: String,
    iss: String,
    exp: u64,
}

fn token(aud: &str, exp_offset: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let claims = Claims {
        sub: "alice".into(),
        aud: aud.into(),
        iss: "switchyard".into(),
        exp: (now + exp_offset) as u64,
    };
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"s3cret"),
    )
    .unwrap()
}

#[tokio::test]
async fn auth_refuses_at_the_edge() {
    let up = upstream("u").await;
    let gw = start(&format!(
        r#"{}
        [[route]]
        name = "keys"
        path_prefix = "/keys"
        cluster = "c"
        auth = {{ api_keys = ["k1", "k2"] }}
        [[route]]
        name = "jwt"
        path_prefix = "/jwt"
        cluster = "c"
        auth = {{ jwt = {{ hs256_secret = "s3cret", issuer = "switchyard", audience = "shop" }} }}
        "#,
        cluster_toml("c", &[up.addr], "")
    ))
    .await;
    let http = client();
    let status = |r: reqwest::Response| r.status().as_u16();
    assert_eq!(
        status(http.get(url(&gw, "/keys")).send().await.unwrap()),
        401
    );
    assert_eq!(
        status(
            http.get(url(&gw, "/keys"))
                .header("x-api-key", "bad")
                .send()
                .await
                .unwrap()
        ),
        401
    );
    assert_eq!(
        status(
            http.get(url(&gw, "/keys"))
                .header("x-api-key", "k2")
                .send()
                .await
                .unwrap()
        ),
        200
    );
    let bearer = |t: String| format!("Bearer {t}");
    assert_eq!(
        status(http.get(url(&gw, "/jwt")).send().await.unwrap()),
        401
    );
    assert_eq!(
        status(
            http.get(url(&gw, "/jwt"))
                .header("authorization", bearer(token("shop", 600)))
                .send()
                .await
                .unwrap()
        ),
        200
    );
    assert_eq!(
        status(
            http.get(url(&gw, "/jwt"))
                .header("authorization", bearer(token("shop", -600)))
                .send()
                .await
                .unwrap()
        ),
        401
    );
    assert_eq!(
        status(
            http.get(url(&gw, "/jwt"))
                .header("authorization", bearer(token("admin", 600)))
                .send()
                .await
                .unwrap()
        ),
        403
    );
    assert_eq!(
        status(
            http.get(url(&gw, "/jwt"))
                .header("authorization", "Bearer garbage")
                .send()
                .await
                .unwrap()
        ),
        401
    );
    assert_eq!(
        up.hits(),
        2,
        "only the accepted requests reached the upstream"
    );
    let counters = gw.gateway().route("jwt").unwrap().counters;
    assert_eq!((counters.unauthorized, counters.forbidden), (3, 1));
}

#[tokio::test]
async fn retries_idempotent_methods_only() {
    let (bad, good) = (upstream("bad").await, upstream("good").await);
    bad.set_status(500);
    let gw = start(&format!(
        r#"{}
        [[route]]
        name = "r"
        cluster = "c"
        retry = {{ attempts = 2, budget = 1.0 }}
        "#,
        cluster_toml(
            "c",
            &[bad.addr, good.addr],
            "breaker = { minimum_calls = 1000, window = 1000 }"
        )
    ))
    .await;
    let http = client();
    for _ in 0..10 {
        assert_eq!(http.get(url(&gw, "/")).send().await.unwrap().status(), 200);
    }
    let (bad_get, good_get) = (bad.hits(), good.hits());
    assert_eq!(good_get, 10);
    assert!(
        bad_get >= 4,
        "round robin sent some GETs to the bad instance first"
    );
    let mut failed = 0;
    for _ in 0..10 {
        if http.post(url(&gw, "/")).send().await.unwrap().status() == 500 {
            failed += 1;
        }
    }
    assert_eq!(
        bad.hits() - bad_get + good.hits() - good_get,
        10,
        "one attempt per POST"
    );
    assert_eq!(failed, bad.hits() - bad_get);
    assert!(failed > 0);
}

#[tokio::test]
async fn slow_upstream_times_out_with_504() {
    let up = upstream("u").await;
    up.set_delay(Duration::from_secs(5));
    let gw = start(&format!(
        "{}[[route]]\nname = \"r\"\ncluster = \"c\"\ntimeout = \"100ms\"\n",
        cluster_toml("c", &[up.addr], "")
    ))
    .await;
    assert_eq!(
        client().get(url(&gw, "/")).send().await.unwrap().status(),
        504
    );
}

#[tokio::test]
async fn connect_failure_is_502() {
    // A port that was just free: nothing listens there.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let gw = start(&format!(
        "{}[[route]]\nname = \"r\"\ncluster = \"c\"\n",
        cluster_toml("c", &[dead], "")
    ))
    .await;
    assert_eq!(
        client().get(url(&gw, "/")).send().await.unwrap().status(),
        502
    );
}

#[tokio::test]
async fn bad_config_is_refused_with_its_line_and_the_old_one_serves() {
    let up = upstream("u").await;
    let gw = start(&format!(
        "{}[[route]]\nname = \"r\"\ncluster = \"c\"\n",
        cluster_toml("c", &[up.addr], "")
    ))
    .await;
    let bad = format!(
        "{}\n[[route]]\nname = \"r\"\ncluster = \"nope\"\n",
        cluster_toml("c", &[up.addr], "")
    );
    let err = gw.gateway().apply_toml(&bad).unwrap_err();
    let switchyard_gateway::Error::Config(err) = err else {
        panic!("{err}")
    };
    assert_eq!(err.line, 8, "{err}");
    assert!(err.message.contains("nope"), "{err}");

    let syntax =
        "[[cluster]]\nname = \"c\"\ninstances = [\"127.0.0.1:1\"]\nbalancer = \"random\"\n";
    let switchyard_gateway::Error::Config(err) = gw.gateway().apply_toml(syntax).unwrap_err()
    else {
        panic!()
    };
    assert_eq!(err.line, 4, "{err}");

    let address =
        "[[cluster]]\nname = \"c\"\ninstances = [\n  \"127.0.0.1:1\",\n  \"localhost\",\n]\n";
    let switchyard_gateway::Error::Config(err) = gw.gateway().apply_toml(address).unwrap_err()
    else {
        panic!()
    };
    assert_eq!(err.line, 5, "{err}");
    assert_eq!(err.field, "cluster[0].instances[1]");

    assert_eq!(
        client().get(url(&gw, "/")).send().await.unwrap().status(),
        200
    );
}

#[tokio::test]
async fn live_apply_lets_a_request_in_flight_finish() {
    let up = upstream("u").await;
    up.set_delay(Duration::from_millis(500));
    let gw = start(&format!(
        "{}[[route]]\nname = \"r\"\ncluster = \"c\"\n",
        cluster_toml("c", &[up.addr], "")
    ))
    .await;
    let http = client();
    let in_flight = tokio::spawn(http.get(url(&gw, "/slow")).send());
    eventually("the request reached the upstream", || up.hits() == 1).await;
    gw.gateway()
        .apply_toml(&cluster_toml("c", &[up.addr], ""))
        .unwrap();
    assert_eq!(in_flight.await.unwrap().unwrap().status(), 200);
    assert_eq!(
        http.get(url(&gw, "/slow")).send().await.unwrap().status(),
        404
    );
    gw.shutdown().await;
}
