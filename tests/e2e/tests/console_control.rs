//! The console controlling a real agent: `switchyard-agent demo` as a process, the
//! `switchyard` CLI as a process, and the console's live view (the library the desktop
//! app and the HTTP API use) in this test, all on one store file.
//!
//! - A trip from the CLI forces the payments breaker open: the breaker list says so,
//!   the live view hears the transition on the state stream, the store records it and
//!   the command, and the calls that follow are rejected (the demo's `breaker.calls`
//!   with `breaker.outcome = rejected`, exported to a running `switchyard serve`).
//!   A reset closes it.
//! - A route weight change shows in the gateway's traffic to the new side.
//! - A wrong token, an unknown breaker, an unreachable agent and a view-only cluster
//!   each give a clear error, and none is recorded as done.
//! - An agent that dies and comes back: the live view reconnects and catches up.

mod support;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use serde_json::Value;
use support::{eventually, free_port, require_programs, start_demo, switchyard};
use switchyard_console::closed_loop::ClosedLoop;
use switchyard_console::clusters::Command;
use switchyard_console::clusters::views::LiveEvent;
use switchyard_console::clusters::{Clusters, ClustersFile};
use switchyard_console::findings::{self, FindingKind, Thresholds};
use switchyard_store::Reader;
use switchyard_store::records::{CommandQuery, EventQuery, Outcome, Records};
use switchyard_testkit::ServeProcess;

fn ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn refused(output: &Output) -> String {
    assert!(!output.status.success(), "should have failed");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn json(output: &Output) -> Value {
    serde_json::from_str(&ok(output)).expect("JSON on stdout")
}

/// The state `switchyard breakers` (with `args`) lists for breaker `name`.
fn breaker_state(clusters: &Path, args: &[&str], name: &str) -> Option<Value> {
    json(&switchyard(clusters, args))
        .as_array()?
        .iter()
        .find(|b| b["name"] == name)
        .map(|b| b["state"].clone())
}

/// The newest cumulative count of rejected calls of `breaker`, from the store.
fn rejected_calls(clusters: &Path, db: &Path, breaker: &str) -> f64 {
    let output = switchyard(
        clusters,
        &[
            "metrics",
            "breaker.calls",
            "--attr",
            &format!("breaker.name={breaker}"),
            "--attr",
            "breaker.outcome=rejected",
            "--since",
            "10m",
            "--json",
            "--db",
            db.to_str().unwrap(),
        ],
    );
    json(&output)
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|series| series["points"].as_array().cloned().unwrap_or_default())
        .filter_map(|point| point["last"].as_f64())
        .fold(0.0, f64::max)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_from_the_cli_change_the_agent_the_live_view_and_the_store() {
    require_programs();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("telemetry.db");
    let db_arg = db.to_str().unwrap();
    let clusters = dir.path().join("clusters.toml");
    let serve = ServeProcess::spawn(&support::bin_dir().join("switchyard"), &db, &[]);
    let demo = start_demo(&serve.grpc_url(), &["--no-outage"]);

    ok(&switchyard(
        &clusters,
        &[
            "clusters",
            "add",
            "shop",
            "--agent",
            &demo.endpoint(),
            "--token",
            &demo.token,
        ],
    ));
    let listed = ok(&switchyard(&clusters, &["clusters", "list"]));
    assert!(listed.contains("shop"), "{listed}");
    assert!(!listed.contains(&demo.token), "the token is never printed");

    // The live view, as the app keeps it, recording into the same store.
    let records = Records::open(&db).await.unwrap();
    let console = Clusters::start(
        ClustersFile::load(&clusters).unwrap(),
        Some(records.clone()),
    );
    let mut changes = console.live().subscribe();
    let payments = eventually(
        Duration::from_secs(30),
        "the payments breaker in the live view",
        async || {
            console
                .live()
                .breakers(Some("shop"))
                .into_iter()
                .find(|b| b.name.starts_with("upstream.payments."))
        },
    )
    .await;
    assert_eq!(payments.state, "closed");
    assert!(console.live().agents()[0].connected);

    // The impact preview: the checkout saga's payment step goes through this breaker
    // (from the traces the demo exported), and nothing is sent.
    let impact = eventually(
        Duration::from_secs(60),
        "traces through the payments breaker",
        async || {
            let impact = json(&switchyard(
                &clusters,
                &[
                    "trip",
                    &payments.name,
                    "--preview",
                    "--json",
                    "--db",
                    db_arg,
                ],
            ));
            let sagas = impact["sagas"].as_array()?;
            sagas
                .iter()
                .any(|s| s["saga_name"] == "checkout")
                .then_some(impact)
        },
    )
    .await;
    assert!(impact["sampled_traces"].as_u64().unwrap() > 0, "{impact}");
    assert!(
        impact["summary"].as_str().unwrap().contains("checkout"),
        "{impact}"
    );
    assert!(
        records
            .commands(&CommandQuery::default())
            .await
            .unwrap()
            .is_empty(),
        "a preview sends nothing"
    );

    // Trip from the CLI.
    let rejected_before = rejected_calls(&clusters, &db, &payments.name);
    let tripped = json(&switchyard(
        &clusters,
        &[
            "trip",
            &payments.name,
            "--reason",
            "game day",
            "--as",
            "alice",
            "--json",
            "--db",
            db_arg,
        ],
    ));
    assert_eq!(tripped["outcome"], "ok");
    assert_eq!(tripped["result"]["state"], "forced_open");
    let state = breaker_state(&clusters, &["breakers", "--json"], &payments.name);
    assert_eq!(state, Some(Value::from("forced_open")));

    // The state stream brought the transition to the live view…
    let heard = eventually(
        Duration::from_secs(20),
        "the trip on the state stream",
        async || {
            while let Ok(event) = changes.try_recv() {
                if let LiveEvent::Breaker { breaker, by, .. } = event
                    && breaker.name == payments.name
                    && breaker.state == "forced_open"
                {
                    return Some(by);
                }
            }
            None
        },
    )
    .await;
    assert_eq!(
        heard.as_deref(),
        Some("operator"),
        "the demo's token is named operator"
    );
    // …and the store keeps it, and the command.
    let events = eventually(
        Duration::from_secs(10),
        "the transition in the store",
        async || {
            let events = records
                .events(&EventQuery {
                    kind: Some("breaker".into()),
                    name: Some(payments.name.clone()),
                    ..EventQuery::default()
                })
                .await
                .unwrap();
            events
                .iter()
                .any(|e| e.to_state.as_deref() == Some("forced_open"))
                .then_some(events)
        },
    )
    .await;
    assert_eq!(events[0].cluster, "shop");
    let commands = records.commands(&CommandQuery::default()).await.unwrap();
    assert_eq!(commands[0].action, "trip");
    assert_eq!(commands[0].who, "alice");
    assert_eq!(commands[0].reason, "game day");
    assert_eq!(commands[0].outcome, Outcome::Ok);

    // The calls that follow are rejected: the demo's breaker metrics say so.
    eventually(
        Duration::from_secs(60),
        "rejected calls after the trip",
        async || (rejected_calls(&clusters, &db, &payments.name) > rejected_before).then_some(()),
    )
    .await;

    // Reset closes it.
    let reset = json(&switchyard(
        &clusters,
        &["reset", &payments.name, "--json", "--db", db_arg],
    ));
    assert_eq!(reset["result"]["state"], "closed");

    // A route weight change shows in the gateway's traffic.
    let routes = json(&switchyard(&clusters, &["routes", "--json"]));
    let before = routes[0]["new_requests"].as_u64().unwrap();
    let name = routes[0]["name"].as_str().unwrap().to_owned();
    let set = json(&switchyard(
        &clusters,
        &[
            "route", "set", &name, "legacy=0", "new=100", "--json", "--db", db_arg,
        ],
    ));
    assert_eq!(set["result"]["new_percent"], 100);
    eventually(
        Duration::from_secs(30),
        "traffic to the new side",
        async || {
            let routes = json(&switchyard(&clusters, &["routes", "--json"]));
            (routes[0]["new_requests"].as_u64().unwrap() > before + 10).then_some(())
        },
    )
    .await;

    // The closed loop checks each command against the telemetry that followed: the
    // trip rejected calls, the weight change moved traffic.
    let closed_loop = ClosedLoop::new(records.clone(), Reader::open(&db).await.unwrap());
    eventually(
        Duration::from_secs(60),
        "verdicts on the trip and the weight change",
        async || {
            closed_loop.check_pending().await.unwrap();
            let commands = records.commands(&CommandQuery::default()).await.unwrap();
            let verdict = |action: &str| {
                commands
                    .iter()
                    .find(|c| c.action == action)
                    .and_then(|c| c.verdict.clone())
            };
            let (trip, weight) = (verdict("trip")?, verdict("set_weight")?);
            Some((trip, weight))
        },
    )
    .await;
    let commands = records.commands(&CommandQuery::default()).await.unwrap();
    let trip = commands.iter().find(|c| c.action == "trip").unwrap();
    assert_eq!(trip.verdict.as_deref(), Some("confirmed"), "{trip:#?}");
    assert!(
        trip.verdict_detail.as_ref().unwrap()["rejected_calls"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    let weight = commands.iter().find(|c| c.action == "set_weight").unwrap();
    assert_eq!(weight.verdict.as_deref(), Some("confirmed"), "{weight:#?}");

    // Bulk saga operations over a query, with a dry run that lists them first.
    let failed = eventually(
        Duration::from_secs(60),
        "a failed checkout in the store",
        async || {
            let sagas = json(&switchyard(
                &clusters,
                &[
                    "sagas", "--failed", "--name", "checkout", "--json", "--db", db_arg,
                ],
            ));
            sagas.as_array()?.first().cloned()
        },
    )
    .await;
    let step = failed["failed_step"]
        .as_str()
        .expect("a failing step")
        .to_owned();
    let before = records
        .commands(&CommandQuery::default())
        .await
        .unwrap()
        .len();
    let dry = json(&switchyard(
        &clusters,
        &[
            "saga",
            "bulk",
            "compensate",
            "--name",
            "checkout",
            "--failed-step",
            &step,
            "--since",
            "1h",
            "--dry-run",
            "--json",
            "--db",
            db_arg,
        ],
    ));
    assert!(dry["matched"].as_u64().unwrap() >= 1, "{dry}");
    let items = dry["items"].as_array().unwrap();
    assert!(
        items
            .iter()
            .all(|i| i["failed_step"] == step.as_str() && i["outcome"] == "planned")
    );
    assert!(items.iter().any(|i| i["saga_id"] == failed["saga_id"]));
    assert_eq!(
        records
            .commands(&CommandQuery::default())
            .await
            .unwrap()
            .len(),
        before,
        "a dry run sends nothing"
    );
    // A real run sends one command per saga, each in the history with its outcome
    // (these sagas are compensated already, so the agent may refuse: that is reported).
    let real = switchyard(
        &clusters,
        &[
            "saga",
            "bulk",
            "compensate",
            "--name",
            "checkout",
            "--failed-step",
            &step,
            "--since",
            "1h",
            "--limit",
            "2",
            "--json",
            "--db",
            db_arg,
        ],
    );
    let report: Value = serde_json::from_slice(&real.stdout).expect("a JSON report");
    let sent = report["items"].as_array().unwrap().len();
    assert!((1..=2).contains(&sent), "{report}");
    let history = records.commands(&CommandQuery::default()).await.unwrap();
    assert_eq!(history.len(), before + sent);
    assert!(
        history[..sent]
            .iter()
            .all(|c| c.action == "compensate_saga")
    );

    // Errors: clear, and nothing recorded as done.
    let unknown = refused(&switchyard(
        &clusters,
        &["trip", "no-such-breaker", "--db", db_arg],
    ));
    assert!(unknown.contains("no-such-breaker"), "{unknown}");
    ok(&switchyard(
        &clusters,
        &[
            "clusters",
            "add",
            "stranger",
            "--agent",
            &demo.endpoint(),
            "--token",
            "wrong",
        ],
    ));
    let bad_token = refused(&switchyard(
        &clusters,
        &[
            "trip",
            &payments.name,
            "--cluster",
            "stranger",
            "--db",
            db_arg,
        ],
    ));
    assert!(bad_token.contains("token"), "{bad_token}");
    ok(&switchyard(
        &clusters,
        &[
            "clusters",
            "add",
            "gone",
            "--agent",
            &format!("http://127.0.0.1:{}", free_port()),
            "--token",
            "x",
        ],
    ));
    let unreachable = refused(&switchyard(
        &clusters,
        &["trip", &payments.name, "--cluster", "gone", "--db", db_arg],
    ));
    assert!(unreachable.contains("unreachable"), "{unreachable}");
    ok(&switchyard(
        &clusters,
        &[
            "clusters",
            "add",
            "prod",
            "--agent",
            &demo.endpoint(),
            "--token",
            &demo.token,
            "--view-only",
        ],
    ));
    let view_only = refused(&switchyard(
        &clusters,
        &["trip", &payments.name, "--cluster", "prod", "--db", db_arg],
    ));
    assert!(view_only.contains("view-only"), "{view_only}");
    let state = breaker_state(
        &clusters,
        &["breakers", "--json", "--cluster", "prod"],
        &payments.name,
    );
    assert_eq!(
        state,
        Some(Value::from("closed")),
        "the view-only trip was not sent"
    );

    let history = records.commands(&CommandQuery::default()).await.unwrap();
    let failed: Vec<_> = history.iter().take(4).collect();
    assert!(
        failed.iter().all(|c| c.outcome != Outcome::Ok),
        "{failed:#?}"
    );
    assert_eq!(failed[0].outcome, Outcome::Refused);
    assert!(failed.iter().all(|c| c.error.is_some()));

    // Stuck detectors: with all traffic on the legacy side and no shadowing, a tripped
    // breaker of the new side has no calls to probe it; and the demo's order-history
    // projection reports its lag (over a threshold below zero, to see the detector).
    ok(&switchyard(
        &clusters,
        &[
            "route",
            "set",
            &name,
            "legacy=100",
            "--cluster",
            "shop",
            "--db",
            db_arg,
        ],
    ));
    ok(&switchyard(
        &clusters,
        &[
            "route",
            "shadow",
            &name,
            "0",
            "--cluster",
            "shop",
            "--db",
            db_arg,
        ],
    ));
    let new_side = routes[0]["new_target"].as_str().unwrap().to_owned();
    let quiet = console
        .live()
        .breakers(Some("shop"))
        .into_iter()
        .find(|b| b.name.starts_with(&format!("upstream.{new_side}.")))
        .expect("a breaker of the new side");
    ok(&switchyard(
        &clusters,
        &["trip", &quiet.name, "--cluster", "shop", "--db", db_arg],
    ));
    let thresholds = Thresholds {
        breaker_quiet: Duration::from_secs(3),
        projection_lag_seconds: -1.0,
        ..Thresholds::default()
    };
    let reader = Reader::open(&db).await.unwrap();
    let found = eventually(
        Duration::from_secs(60),
        "a breaker without traffic",
        async || {
            let findings = findings::detect(console.live(), &records, Some(&reader), &thresholds)
                .await
                .unwrap();
            findings
                .iter()
                .any(|f| f.kind == FindingKind::BreakerWithoutTraffic && f.subject == quiet.name)
                .then_some(findings)
        },
    )
    .await;
    let finding = found.iter().find(|f| f.subject == quiet.name).unwrap();
    assert_eq!(
        finding.action,
        Some(Command::Release {
            breaker: quiet.name.clone()
        })
    );
    assert!(
        found
            .iter()
            .any(|f| f.kind == FindingKind::ProjectionLagging),
        "{found:#?}"
    );
    // The same from the command line.
    let listed = json(&switchyard(
        &clusters,
        &[
            "findings",
            "--breaker-quiet",
            "3s",
            "--json",
            "--db",
            db_arg,
        ],
    ));
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["subject"] == quiet.name.as_str()
                && f["kind"] == "breaker_without_traffic"
                && f["action"]["action"] == "release"),
        "{listed}"
    );
    drop(console);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_view_reconnects_to_an_agent_that_comes_back() {
    require_programs();
    let dir = tempfile::tempdir().unwrap();
    let clusters = dir.path().join("clusters.toml");
    let control = format!("127.0.0.1:{}", free_port());
    let token = "a-fixed-demo-token";
    // Telemetry goes nowhere: the agent keeps serving and drops what it cannot send.
    let dead_end = format!("http://127.0.0.1:{}", free_port());
    let args = ["--control", control.as_str(), "--token", token];
    let mut demo = start_demo(&dead_end, &args);
    ok(&switchyard(
        &clusters,
        &[
            "clusters",
            "add",
            "shop",
            "--agent",
            &demo.endpoint(),
            "--token",
            token,
        ],
    ));
    let records = Records::open(dir.path().join("console.db")).await.unwrap();
    let console = Clusters::start(
        ClustersFile::load(&clusters).unwrap(),
        Some(records.clone()),
    );
    eventually(
        Duration::from_secs(30),
        "the first connection",
        async || {
            let agents = console.live().agents();
            (agents.first()?.connected && !console.live().breakers(None).is_empty()).then_some(())
        },
    )
    .await;

    demo.kill();
    eventually(Duration::from_secs(30), "the link to notice", async || {
        let agents = console.live().agents();
        (!agents.first()?.connected).then_some(())
    })
    .await;

    // The agent comes back on the same address; while it was away, nothing changed
    // in the view but its health. Once back, a trip made behind the console's back
    // (straight through the control API) shows up in the view.
    let _back = start_demo(&dead_end, &args);
    let health = eventually(Duration::from_secs(60), "the reconnection", async || {
        let agent = console.live().agents().into_iter().next()?;
        agent.connected.then_some(agent)
    })
    .await;
    assert!(health.reconnects >= 1, "{health:?}");
    let payments = console
        .live()
        .breakers(None)
        .into_iter()
        .find(|b| b.name.starts_with("upstream.payments."))
        .expect("the payments breaker after the reconnection");
    let client =
        switchyard_control_api::ControlClient::connect(&format!("http://{control}"), token, None)
            .await
            .unwrap();
    client
        .trip_breaker(&payments.name, "behind the console's back", None)
        .await
        .unwrap();
    eventually(
        Duration::from_secs(20),
        "the view to catch up",
        async || {
            console
                .live()
                .breakers(None)
                .into_iter()
                .any(|b| b.name == payments.name && b.state == "forced_open")
                .then_some(())
        },
    )
    .await;
    let connections = records
        .events(&EventQuery {
            kind: Some("agent".into()),
            ..EventQuery::default()
        })
        .await
        .unwrap();
    let states: Vec<_> = connections
        .iter()
        .rev()
        .filter_map(|e| e.to_state.clone())
        .collect();
    assert_eq!(states, ["connected", "disconnected", "connected"]);
}
