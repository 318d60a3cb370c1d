//! Killed processes: a projector killed mid-way resumes and ends equal to a rebuild from
//! zero; an outbox relay killed at random points loses no event and publishes none twice
//! to a de-duplicating consumer.
//!
//! The killed process is this test binary run again with [`CHILD_ROLE`] set: it runs the
//! ignored test `child`, which does the role's work until it is killed.

mod support;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use rand::Rng as _;
use serde_json::json;
use support::bank::Balances;
use switchyard_eventing::bus::{EventBus, JetStreamBus, JetStreamOptions, SubscribeOptions};
use switchyard_eventing::cqrs::Projector;
use switchyard_eventing::outbox::OutboxRelay;
use switchyard_eventing::store::{EventStore, ExpectedVersion, NewEvent};
use switchyard_testkit::NatsServer;

const CHILD_ROLE: &str = "SWITCHYARD_CRASH_CHILD";
const CHILD_DB: &str = "SWITCHYARD_CRASH_DB";
const CHILD_NATS: &str = "SWITCHYARD_CRASH_NATS";

fn spawn_child(role: &str, db: &str, nats: Option<&str>) -> Child {
    let mut command = Command::new(std::env::current_exe().expect("the test binary"));
    command
        .args([
            "child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ROLE, role)
        .env(CHILD_DB, db)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if let Some(nats) = nats {
        command.env(CHILD_NATS, nats);
    }
    command.spawn().expect("the child starts")
}

fn kill_after(mut child: Child, delay: Duration) {
    std::thread::sleep(delay);
    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).expect("SIGKILL");
    child.wait().expect("the child is reaped");
}

fn deposit(account: u32, amount: i64) -> NewEvent {
    NewEvent::new(
        "MoneyDeposited",
        json!({ "type": "Deposited", "amount": amount }),
    )
    .with_metadata("account", account.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projection_killed_midway_resumes_and_equals_a_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/events.db?mode=rwc", dir.path().display());
    let store = EventStore::connect(&url).await.unwrap();
    for account in 0..20u32 {
        let stream = format!("account-{account}");
        let opened = NewEvent::new(
            "AccountOpened",
            json!({ "type": "Opened", "owner": format!("o{account}") }),
        );
        let mut events = vec![opened];
        events.extend((1..=20).map(|n| deposit(account, i64::from(account) * 100 + n)));
        store
            .append(&stream, ExpectedVersion::NoStream, events)
            .await
            .unwrap();
    }
    let head = store.head_position().await.unwrap();
    assert_eq!(head, 420);

    let mut rng = rand::rng();
    let mut midway = 0;
    let mut rounds = 0;
    loop {
        let before = store.checkpoint("projection:balances").await.unwrap();
        if before == head {
            break;
        }
        rounds += 1;
        assert!(
            rounds < 60,
            "the projector makes no progress (at {before} of {head})"
        );
        let child = spawn_child("projector", &url, None);
        kill_after(child, Duration::from_millis(rng.random_range(300..900)));
        let after = store.checkpoint("projection:balances").await.unwrap();
        if after > before && after < head {
            midway += 1;
        }
    }
    assert!(
        midway >= 1,
        "at least one kill landed between the first and the last event"
    );

    let projector = Projector::new(store.clone(), Balances::default())
        .await
        .unwrap();
    let rebuilt = projector.rebuild_as_of(head).await.unwrap();
    let comparison = projector.compare(&rebuilt).await.unwrap();
    assert!(comparison.is_identical(), "{comparison:?}");
    assert_eq!(comparison.equal, 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_killed_at_random_loses_nothing_and_duplicates_nothing() {
    let nats = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/events.db?mode=rwc", dir.path().display());
    let store = EventStore::connect(&url).await.unwrap();
    let bus: Arc<dyn EventBus> = Arc::new(
        JetStreamBus::connect(&nats.url(), JetStreamOptions::default())
            .await
            .unwrap(),
    );
    // The consumer group exists before anything is published, so it sees every message.
    let mut subscription = bus
        .subscribe(
            SubscribeOptions::new("MoneyDeposited", "ledger").ack_wait(Duration::from_secs(30)),
        )
        .await
        .unwrap();

    let mut rng = rand::rng();
    for _ in 0..8 {
        let child = spawn_child("outbox", &url, Some(&nats.url()));
        kill_after(child, Duration::from_millis(rng.random_range(400..1200)));
    }
    // What the children appended but did not get to publish goes out now.
    let relay = OutboxRelay::new(store.clone(), bus.clone(), "crash");
    let head = relay.drain().await.unwrap();
    assert_eq!(head, store.head_position().await.unwrap());
    assert!(
        head > 50,
        "the children appended a fair number of events ({head})"
    );

    let mut seen: HashMap<String, u32> = HashMap::new();
    while seen.len() < head as usize {
        let delivery = tokio::time::timeout(Duration::from_secs(30), subscription.next())
            .await
            .unwrap_or_else(|_| panic!("only {} of {head} events arrived", seen.len()))
            .expect("the subscription is open")
            .unwrap();
        *seen.entry(delivery.message.id.clone()).or_default() += 1;
        delivery.ack().await.unwrap();
    }
    // Anything published twice would arrive now.
    let extra = tokio::time::timeout(Duration::from_secs(2), subscription.next()).await;
    assert!(
        extra.is_err(),
        "an event was delivered twice: {:?}",
        extra.ok().flatten().map(|d| d.map(|d| d.message.id))
    );
    let stored: Vec<String> = store
        .read_all(0, 1_000_000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_id)
        .collect();
    assert_eq!(stored.len(), head as usize);
    for id in &stored {
        assert_eq!(
            seen.get(id),
            Some(&1),
            "event {id} arrived {:?} times",
            seen.get(id)
        );
    }
}

/// The killed process: runs a role until it is killed.
#[test]
#[ignore = "a child process of the crash tests"]
fn child() {
    let role = std::env::var(CHILD_ROLE).expect("run by a crash test");
    let db = std::env::var(CHILD_DB).expect("a database URL");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = EventStore::connect(&db).await.unwrap();
        match role.as_str() {
            "projector" => {
                let balances = Balances {
                    delay: Some(Duration::from_millis(3)),
                };
                let projector = Projector::new(store, balances).await.unwrap().batch(7);
                let (_stop, stopped) = tokio::sync::watch::channel(false);
                projector.run(stopped).await.unwrap();
            }
            "outbox" => {
                let nats = std::env::var(CHILD_NATS).expect("a NATS URL");
                let bus = JetStreamBus::connect(&nats, JetStreamOptions::default())
                    .await
                    .unwrap();
                let relay = OutboxRelay::new(store.clone(), Arc::new(bus), "crash").batch(16);
                let (_stop, stopped) = tokio::sync::watch::channel(false);
                tokio::spawn(async move { relay.run(stopped).await });
                let mut account = 0u32;
                loop {
                    account = (account + 1) % 10;
                    store
                        .append(
                            &format!("account-{account}"),
                            ExpectedVersion::Any,
                            vec![deposit(account, 1)],
                        )
                        .await
                        .unwrap();
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
            other => panic!("unknown role {other}"),
        }
    });
}

/// The crash window itself, made deterministic: the relay published a batch but its
/// checkpoint was lost, so it publishes the batch again; the broker drops the repeats.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_republishing_after_a_lost_checkpoint_is_deduplicated() {
    let nats = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::open_sqlite(&dir.path().join("events.db"))
        .await
        .unwrap();
    let bus: Arc<dyn EventBus> = Arc::new(
        JetStreamBus::connect(&nats.url(), JetStreamOptions::default())
            .await
            .unwrap(),
    );
    let mut subscription = bus
        .subscribe(SubscribeOptions::new("MoneyDeposited", "ledger"))
        .await
        .unwrap();
    for account in 0..5 {
        store
            .append(
                &format!("account-{account}"),
                ExpectedVersion::NoStream,
                vec![deposit(account, 1), deposit(account, 2)],
            )
            .await
            .unwrap();
    }
    let relay = OutboxRelay::new(store.clone(), bus.clone(), "lost").batch(4);
    assert_eq!(relay.drain().await.unwrap(), 10);
    store.save_checkpoint("outbox:lost", 3).await.unwrap();
    assert_eq!(
        relay.drain().await.unwrap(),
        10,
        "positions 4 to 10 published again"
    );

    let mut ids = Vec::new();
    for _ in 0..10 {
        let delivery = tokio::time::timeout(Duration::from_secs(30), subscription.next())
            .await
            .expect("all ten arrive")
            .unwrap()
            .unwrap();
        assert_eq!(
            delivery
                .message
                .headers
                .get("Switchyard-Stream-Version")
                .map(String::len),
            Some(1)
        );
        ids.push(delivery.message.id.clone());
        delivery.ack().await.unwrap();
    }
    let extra = tokio::time::timeout(Duration::from_secs(2), subscription.next()).await;
    assert!(
        extra.is_err(),
        "a repeat got through the de-duplication window"
    );
    let stored: Vec<String> = store
        .read_all(0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_id)
        .collect();
    assert_eq!(ids, stored, "each event once, in store order");
}
