//! The choreography tracker on a real bus — in-process and NATS JetStream against a real
//! `nats-server` — with its state in SQLite, and on PostgreSQL too.
//!
//! The machine may be slow: waits poll with generous patience, and time-dependent checks
//! (stuck) use explicit instants rather than sleeps where they can.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::json;
use switchyard_eventing::bus::{EventBus, JetStreamBus, JetStreamOptions, MemoryBus, Message};
use switchyard_eventing::database::{Database, DatabaseOptions};
use switchyard_saga::MIGRATIONS;
use switchyard_saga::choreography::{
    ChangeKind, ChoreographyDefinition, ChoreographyInstance, ChoreographyStatus, ChoreographyStep,
    ChoreographyTracker, EventRole, InstanceFilter, TrackerHandle, TrackerOptions,
};
use switchyard_testkit::{NatsServer, PostgresServer};
use tokio::sync::broadcast;

/// How long to wait for something that should happen.
const PATIENCE: Duration = Duration::from_secs(30);

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

// ---------------------------------------------------------------- environments

enum BusKind {
    Memory,
    JetStream,
}

enum DbKind {
    Sqlite,
    Postgres,
}

enum Db {
    Sqlite(tempfile::TempDir),
    Postgres(PostgresServer),
}

/// One test's bus and database, and the servers behind them.
struct Env {
    bus: Arc<dyn EventBus>,
    db: Db,
    _nats: Option<NatsServer>,
}

impl Env {
    async fn new(bus: BusKind, db: DbKind) -> Env {
        let db = match db {
            DbKind::Sqlite => Db::Sqlite(tempfile::tempdir().expect("a temporary directory")),
            DbKind::Postgres => Db::Postgres(PostgresServer::start()),
        };
        let (bus, nats): (Arc<dyn EventBus>, _) = match bus {
            BusKind::Memory => (Arc::new(MemoryBus::new()), None),
            BusKind::JetStream => {
                let server = NatsServer::start();
                let options =
                    JetStreamOptions::default().stats_interval(Duration::from_millis(200));
                let bus = JetStreamBus::connect(&server.url(), options)
                    .await
                    .expect("connects to nats-server");
                (Arc::new(bus), Some(server))
            }
        };
        Env {
            bus,
            db,
            _nats: nats,
        }
    }

    /// A new database handle, as another process would open it.
    async fn open_db(&self) -> Database {
        let url = match &self.db {
            Db::Sqlite(dir) => format!("sqlite://{}/saga.db?mode=rwc", dir.path().display()),
            Db::Postgres(server) => server.url(),
        };
        Database::connect(&url, &DatabaseOptions::default(), MIGRATIONS)
            .await
            .expect("the saga database opens")
    }

    /// A started tracker of `definition` on a fresh database handle.
    async fn tracker(
        &self,
        definition: ChoreographyDefinition,
    ) -> (ChoreographyTracker, TrackerHandle) {
        let options = TrackerOptions::default()
            .retry_delay(Duration::from_millis(100), Duration::from_millis(400))
            .stuck_scan_interval(Duration::from_millis(100));
        let tracker =
            ChoreographyTracker::new(definition, self.bus.clone(), self.open_db().await, options)
                .expect("a valid definition");
        let handle = tracker.start().await.expect("the tracker subscribes");
        (tracker, handle)
    }

    async fn publish(&self, topic: &str, message_id: &str, saga_id: &str) {
        self.publish_message(Message::new(
            topic,
            message_id,
            json!({ "saga_id": saga_id, "at": topic }).to_string(),
        ))
        .await;
    }

    async fn publish_message(&self, message: Message) {
        let id = message.id.clone();
        let ack = self.bus.publish(message).await.expect("publish");
        assert!(!ack.duplicate, "{id} is a new message id");
    }
}

/// Generates one module of tests: each scenario on one bus and one database.
macro_rules! suite {
    ($module:ident, $bus:ident, $db:ident: $($scenario:ident),+ $(,)?) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let env = super::Env::new(super::BusKind::$bus, super::DbKind::$db).await;
                    super::$scenario(env).await;
                }
            )+
        }
    };
}

suite!(memory_sqlite, Memory, Sqlite:
    order_saga_completes,
    failure_path_ends_compensated,
    out_of_order_and_duplicate_events,
    burst_of_events_across_topics,
    quiet_instance_is_stuck_until_progress,
    message_without_saga_id_is_dead_lettered,
    database_error_is_retried,
    restart_continues_from_stored_state,
);

suite!(jetstream_sqlite, JetStream, Sqlite:
    order_saga_completes,
    failure_path_ends_compensated,
    out_of_order_and_duplicate_events,
    burst_of_events_across_topics,
    quiet_instance_is_stuck_until_progress,
    message_without_saga_id_is_dead_lettered,
    database_error_is_retried,
    restart_continues_from_stored_state,
);

suite!(memory_postgres, Memory, Postgres:
    order_saga_completes,
    failure_path_ends_compensated,
    out_of_order_and_duplicate_events,
    burst_of_events_across_topics,
    quiet_instance_is_stuck_until_progress,
    database_error_is_retried,
    restart_continues_from_stored_state,
);

suite!(jetstream_postgres, JetStream, Postgres:
    restart_continues_from_stored_state,
);

// ---------------------------------------------------------------- helpers

/// OrderPlaced → PaymentCaptured → StockReserved → OrderConfirmed, with failures and
/// compensations.
fn order_saga(progress_deadline: Duration) -> ChoreographyDefinition {
    ChoreographyDefinition::from_toml(&format!(
        r#"
        name = "order"
        started_by = "OrderPlaced"
        completed_by = "OrderConfirmed"
        progress_deadline = "{}"

        [[steps]]
        name = "payment"
        done = "PaymentCaptured"
        failed = "PaymentFailed"
        compensated = "PaymentRefunded"

        [[steps]]
        name = "stock"
        done = "StockReserved"
        failed = "StockFailed"
        compensated = "StockReleased"
        "#,
        humantime::format_duration(progress_deadline)
    ))
    .expect("the order saga's definition is valid")
}

/// Polls `check` until it returns `Some`, for up to [`PATIENCE`].
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Waits until the instance has recorded `events` distinct events and `duplicates`
/// duplicates (so every delivery published so far has been handled).
async fn wait_counts(
    tracker: &ChoreographyTracker,
    saga_id: &str,
    events: u64,
    duplicates: u64,
) -> ChoreographyInstance {
    eventually(
        &format!("{saga_id} to have {events} events and {duplicates} duplicates"),
        || async {
            let instance = tracker.instance(saga_id).await.expect("instance")?;
            let counts = (instance.summary.events, instance.summary.duplicates);
            assert!(
                counts.0 <= events && counts.1 <= duplicates,
                "{saga_id} has more than expected: {counts:?}"
            );
            (counts == (events, duplicates)).then_some(instance)
        },
    )
    .await
}

async fn wait_status(
    tracker: &ChoreographyTracker,
    saga_id: &str,
    status: ChoreographyStatus,
) -> ChoreographyInstance {
    eventually(&format!("{saga_id} to be {status}"), || async {
        let instance = tracker.instance(saga_id).await.expect("instance")?;
        (instance.summary.status == status).then_some(instance)
    })
    .await
}

/// The next change matching `pick`, skipping others.
async fn next_change<T>(
    changes: &mut broadcast::Receiver<switchyard_saga::choreography::ChoreographyChange>,
    mut pick: impl FnMut(&switchyard_saga::choreography::ChoreographyChange) -> Option<T>,
) -> T {
    tokio::time::timeout(PATIENCE, async {
        loop {
            let change = changes.recv().await.expect("the change stream is open");
            if let Some(value) = pick(&change) {
                return value;
            }
        }
    })
    .await
    .expect("the change in time")
}

// ---------------------------------------------------------------- scenarios

async fn order_saga_completes(env: Env) {
    let (tracker, handle) = env.tracker(order_saga(Duration::from_secs(60))).await;
    assert_eq!(tracker.group(), "switchyard-tracker-order");
    let mut changes = tracker.changes();

    env.publish("OrderPlaced", "m-placed", "order-1").await;
    env.publish_message(
        Message::new(
            "PaymentCaptured",
            "m-captured",
            json!({ "saga_id": "order-1" }).to_string(),
        )
        .with_header("traceparent", TRACEPARENT),
    )
    .await;
    let running = wait_counts(&tracker, "order-1", 2, 0).await;
    assert_eq!(running.summary.status, ChoreographyStatus::Running);
    env.publish("StockReserved", "m-reserved", "order-1").await;
    env.publish("OrderConfirmed", "m-confirmed", "order-1")
        .await;
    let done = wait_counts(&tracker, "order-1", 4, 0).await;

    let s = &done.summary;
    assert_eq!(
        (s.saga_name.as_str(), s.status, s.failed_step.as_deref()),
        ("order", ChoreographyStatus::Completed, None)
    );
    assert!(s.ended_at.is_some_and(|end| end >= s.started_at));
    assert_eq!(s.progress_deadline, Duration::from_secs(60));
    assert_eq!(
        done.started.as_ref().map(|e| e.message_id.as_str()),
        Some("m-placed")
    );
    assert_eq!(
        done.completed.as_ref().map(|e| e.event_type.as_str()),
        Some("OrderConfirmed")
    );
    let names: Vec<&str> = done.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["payment", "stock"]);
    let payment = done
        .step("payment")
        .and_then(|s| s.done.as_ref())
        .expect("payment done");
    assert_eq!(payment.message_id, "m-captured");
    assert_eq!(
        payment.trace_id.as_deref(),
        Some("4bf92f3577b34da6a3ce929d0e0e4736"),
        "the trace id comes from traceparent"
    );
    let stock = done.step("stock").expect("stock step");
    assert_eq!(
        stock.done.as_ref().map(|e| e.message_id.as_str()),
        Some("m-reserved")
    );
    assert!(stock.failed.is_none() && stock.compensated.is_none());

    // The saga id may also come in the header; the payload need not be JSON then.
    env.publish_message(
        Message::new("OrderPlaced", "m-placed-2", "not json").with_header("saga.id", "order-2"),
    )
    .await;
    wait_counts(&tracker, "order-2", 1, 0).await;

    let completed = tracker
        .instances(&InstanceFilter::default().status(ChoreographyStatus::Completed))
        .await
        .expect("instances");
    assert_eq!(
        completed
            .iter()
            .map(|i| i.saga_id.as_str())
            .collect::<Vec<_>>(),
        ["order-1"]
    );
    let all = tracker
        .instances(&InstanceFilter::default().since(s.started_at))
        .await
        .expect("instances");
    assert_eq!(all.len(), 2, "{all:?}");
    let other_saga = tracker
        .instances(&InstanceFilter::default().name("shipping"))
        .await
        .expect("instances");
    assert!(other_saga.is_empty());
    let far_future = SystemTime::now() + Duration::from_secs(3600);
    let stuck: Vec<String> = tracker
        .stuck(far_future)
        .await
        .expect("stuck")
        .into_iter()
        .map(|s| s.summary.saga_id)
        .collect();
    assert_eq!(stuck, ["order-2"], "a completed instance is never stuck");

    // The change stream saw the instance go from running to completed.
    let completion = next_change(&mut changes, |change| match &change.kind {
        ChangeKind::Recorded {
            event_type,
            previous_status,
            ..
        } if change.saga_id == "order-1" && change.status == ChoreographyStatus::Completed => {
            Some((event_type.clone(), *previous_status))
        }
        _ => None,
    })
    .await;
    assert_eq!(
        completion,
        ("OrderConfirmed".into(), Some(ChoreographyStatus::Running))
    );
    handle.stop().await.expect("stops cleanly");
}

async fn failure_path_ends_compensated(env: Env) {
    let (tracker, handle) = env.tracker(order_saga(Duration::from_secs(60))).await;
    env.publish("OrderPlaced", "f-placed", "order-f").await;
    env.publish("PaymentCaptured", "f-captured", "order-f")
        .await;
    wait_counts(&tracker, "order-f", 2, 0).await;
    env.publish("StockFailed", "f-stock-failed", "order-f")
        .await;
    let compensating = wait_counts(&tracker, "order-f", 3, 0).await;
    assert_eq!(
        compensating.summary.status,
        ChoreographyStatus::Compensating,
        "payment must still be refunded"
    );
    assert_eq!(compensating.summary.failed_step.as_deref(), Some("stock"));
    assert!(
        !compensating.summary.status.is_finished(),
        "compensating can get stuck"
    );

    env.publish("PaymentRefunded", "f-refunded", "order-f")
        .await;
    let compensated = wait_status(&tracker, "order-f", ChoreographyStatus::Compensated).await;
    let s = &compensated.summary;
    assert_eq!(s.failed_step.as_deref(), Some("stock"));
    assert_eq!(s.last_step.as_deref(), Some("payment"));
    assert!(s.ended_at.is_some());
    let stock = compensated.step("stock").expect("stock");
    assert_eq!(
        stock.failed.as_ref().map(|e| e.message_id.as_str()),
        Some("f-stock-failed")
    );
    assert!(stock.done.is_none() && stock.compensated.is_none());
    let payment = compensated.step("payment").expect("payment");
    assert!(payment.done.is_some());
    assert_eq!(
        payment.compensated.as_ref().map(|e| e.message_id.as_str()),
        Some("f-refunded")
    );
    assert!(compensated.completed.is_none());
    assert_eq!(s.status.outcome().to_string(), "compensated");
    let listed = tracker
        .instances(&InstanceFilter::default().status(ChoreographyStatus::Compensated))
        .await
        .expect("instances");
    assert_eq!(listed.len(), 1);
    handle.stop().await.expect("stops cleanly");
}

async fn out_of_order_and_duplicate_events(env: Env) {
    let (tracker, handle) = env.tracker(order_saga(Duration::from_secs(60))).await;
    // The refund is recorded before the failure that caused it, and before the capture
    // it undoes; the start arrives last.
    env.publish("PaymentRefunded", "o-refunded", "order-o")
        .await;
    let early = wait_counts(&tracker, "order-o", 1, 0).await;
    assert_eq!(early.summary.status, ChoreographyStatus::Compensating);
    assert!(early.started.is_none());

    env.publish("StockFailed", "o-stock-failed", "order-o")
        .await;
    let failed = wait_counts(&tracker, "order-o", 2, 0).await;
    assert_eq!(failed.summary.status, ChoreographyStatus::Compensated);

    env.publish("PaymentCaptured", "o-captured", "order-o")
        .await;
    wait_counts(&tracker, "order-o", 3, 0).await;
    env.publish("OrderPlaced", "o-placed", "order-o").await;
    let all = wait_counts(&tracker, "order-o", 4, 0).await;
    assert_eq!(all.summary.status, ChoreographyStatus::Compensated);
    assert_eq!(all.summary.failed_step.as_deref(), Some("stock"));

    // At least once: the same logical events again under new message ids (a participant
    // that retried its publish), and one message id twice (the bus drops that one).
    env.publish("PaymentCaptured", "o-captured-again", "order-o")
        .await;
    env.publish("StockFailed", "o-stock-failed-again", "order-o")
        .await;
    env.publish("OrderPlaced", "o-placed-again", "order-o")
        .await;
    let again = env
        .bus
        .publish(Message::new(
            "PaymentRefunded",
            "o-refunded",
            json!({ "saga_id": "order-o" }).to_string(),
        ))
        .await
        .expect("publish");
    assert!(again.duplicate, "the bus de-duplicates a message id");
    let after = wait_counts(&tracker, "order-o", 4, 3).await;
    assert_eq!(after.summary.status, ChoreographyStatus::Compensated);
    assert_eq!(
        after.summary.last_progress_at, all.summary.last_progress_at,
        "a duplicate is not progress"
    );
    let payment = after.step("payment").expect("payment");
    let done = payment.done.as_ref().expect("payment done");
    assert_eq!(
        (done.message_id.as_str(), done.duplicates),
        ("o-captured", 1),
        "the first delivery is the one kept"
    );
    assert_eq!(
        after.started.as_ref().map(|e| e.message_id.as_str()),
        Some("o-placed")
    );
    handle.stop().await.expect("stops cleanly");
}

/// Many instances' events at once, across topics handled concurrently: every instance
/// still ends right (per-instance serialisation of the derived status).
async fn burst_of_events_across_topics(env: Env) {
    let (tracker, handle) = env.tracker(order_saga(Duration::from_secs(60))).await;
    let mut messages = Vec::new();
    for n in 0..15 {
        let id = format!("burst-{n}");
        let path: &[&str] = if n % 3 == 0 {
            &[
                "OrderPlaced",
                "PaymentCaptured",
                "StockFailed",
                "PaymentRefunded",
            ]
        } else {
            &[
                "OrderConfirmed",
                "OrderPlaced",
                "PaymentCaptured",
                "StockReserved",
            ]
        };
        for topic in path {
            messages.push(Message::new(
                *topic,
                format!("{id}-{topic}"),
                json!({ "saga_id": id }).to_string(),
            ));
        }
    }
    env.bus
        .publish_batch(messages)
        .await
        .expect("publish the burst");
    for n in 0..15 {
        let expected = if n % 3 == 0 {
            ChoreographyStatus::Compensated
        } else {
            ChoreographyStatus::Completed
        };
        let instance = wait_counts(&tracker, &format!("burst-{n}"), 4, 0).await;
        assert_eq!(instance.summary.status, expected, "burst-{n}");
    }
    handle.stop().await.expect("stops cleanly");
}

async fn quiet_instance_is_stuck_until_progress(env: Env) {
    let deadline = Duration::from_secs(2);
    let (tracker, handle) = env.tracker(order_saga(deadline)).await;
    let mut changes = tracker.changes();
    env.publish("OrderPlaced", "s-placed", "order-s").await;
    env.publish("PaymentCaptured", "s-captured", "order-s")
        .await;
    let quiet = wait_counts(&tracker, "order-s", 2, 0).await;
    let t1 = quiet.summary.last_progress_at;

    assert!(
        tracker
            .stuck(t1 + deadline / 2)
            .await
            .expect("stuck")
            .is_empty()
    );
    let stuck = tracker.stuck(t1 + deadline * 3).await.expect("stuck");
    assert_eq!(stuck.len(), 1, "{stuck:?}");
    assert_eq!(stuck[0].summary.saga_id, "order-s");
    assert_eq!(stuck[0].last_step.as_deref(), Some("payment"));
    assert_eq!(stuck[0].quiet_for, deadline * 3);
    assert!(stuck[0].summary.is_stuck(t1 + deadline * 3));

    // The tracker's own scan notices it too, in real time.
    let (quiet_for, last_step) = next_change(&mut changes, |change| match &change.kind {
        ChangeKind::Stuck {
            quiet_for,
            last_step,
        } if change.saga_id == "order-s" => Some((*quiet_for, last_step.clone())),
        _ => None,
    })
    .await;
    assert!(quiet_for > deadline, "{quiet_for:?}");
    assert_eq!(last_step.as_deref(), Some("payment"));

    // Progress resumes: no longer stuck, until quiet again past the deadline.
    env.publish("StockReserved", "s-reserved", "order-s").await;
    let resumed = wait_counts(&tracker, "order-s", 3, 0).await;
    let t2 = resumed.summary.last_progress_at;
    assert!(t2 > t1);
    assert!(
        tracker
            .stuck(t2 + deadline / 2)
            .await
            .expect("stuck")
            .is_empty()
    );
    let again = tracker.stuck(t2 + deadline * 2).await.expect("stuck");
    assert_eq!(again[0].last_step.as_deref(), Some("stock"));

    env.publish("OrderConfirmed", "s-confirmed", "order-s")
        .await;
    wait_status(&tracker, "order-s", ChoreographyStatus::Completed).await;
    assert!(
        tracker
            .stuck(t2 + deadline * 100)
            .await
            .expect("stuck")
            .is_empty(),
        "a finished instance is never stuck"
    );
    handle.stop().await.expect("stops cleanly");
}

async fn message_without_saga_id_is_dead_lettered(env: Env) {
    let (tracker, handle) = env.tracker(order_saga(Duration::from_secs(60))).await;
    env.publish_message(Message::new(
        "OrderPlaced",
        "no-id",
        json!({ "order": 7 }).to_string(),
    ))
    .await;
    env.publish_message(Message::new("PaymentCaptured", "not-json", "<xml/>"))
        .await;

    let letters = eventually("two dead letters", || async {
        let letters = env.bus.dead_letters(None).await.expect("dead letters");
        (letters.len() >= 2).then_some(letters)
    })
    .await;
    assert_eq!(letters.len(), 2, "{letters:?}");
    let no_id = letters
        .iter()
        .find(|l| l.message.id == "no-id")
        .expect("the message without saga id");
    assert_eq!(no_id.group, tracker.group());
    assert_eq!(no_id.message.topic, "OrderPlaced");
    assert!(
        no_id.reason.contains("no saga id") && no_id.reason.contains("/saga_id"),
        "{}",
        no_id.reason
    );
    assert_eq!(no_id.deliveries, 1, "terminated, not retried");
    let not_json = letters
        .iter()
        .find(|l| l.message.id == "not-json")
        .expect("the message that is not JSON");
    assert!(not_json.reason.contains("not JSON"), "{}", not_json.reason);

    // The tracker goes on with good messages.
    env.publish("OrderPlaced", "good", "order-g").await;
    wait_counts(&tracker, "order-g", 1, 0).await;
    assert!(
        tracker
            .instances(&InstanceFilter::default())
            .await
            .expect("instances")
            .iter()
            .all(|i| i.saga_id == "order-g")
    );
    handle.stop().await.expect("stops cleanly");
}

/// A delivery that cannot be recorded is nakked and recorded on a later delivery.
async fn database_error_is_retried(env: Env) {
    let (tracker, handle) = env.tracker(order_saga(Duration::from_secs(60))).await;
    let admin = env.open_db().await;
    sqlx::query("ALTER TABLE choreography_events RENAME TO choreography_events_away")
        .execute(admin.write_pool())
        .await
        .expect("hide the table");
    env.publish("OrderPlaced", "r-placed", "order-r").await;
    eventually("a redelivery after the database error", || async {
        let stats = env
            .bus
            .consumer_stats("OrderPlaced", tracker.group())
            .await
            .expect("stats");
        (stats.redeliveries >= 2).then_some(())
    })
    .await;
    assert!(
        tracker
            .instance("order-r")
            .await
            .expect("instance")
            .is_none()
    );
    sqlx::query("ALTER TABLE choreography_events_away RENAME TO choreography_events")
        .execute(admin.write_pool())
        .await
        .expect("restore the table");
    let recorded = wait_counts(&tracker, "order-r", 1, 0).await;
    assert_eq!(recorded.summary.status, ChoreographyStatus::Running);
    assert!(
        env.bus
            .dead_letters(None)
            .await
            .expect("dead letters")
            .is_empty(),
        "a database error is retried, not dead-lettered"
    );
    handle.stop().await.expect("stops cleanly");
}

async fn restart_continues_from_stored_state(env: Env) {
    let definition = order_saga(Duration::from_secs(60));
    let (first, handle) = env.tracker(definition.clone()).await;
    env.publish("OrderPlaced", "p-placed", "order-p").await;
    env.publish("PaymentCaptured", "p-captured", "order-p")
        .await;
    let before = wait_counts(&first, "order-p", 2, 0).await;
    handle.stop().await.expect("stops cleanly");
    first.store().database().close().await;

    // Published while no tracker runs: the consumer group keeps it.
    env.publish("StockReserved", "p-reserved", "order-p").await;

    let (second, handle) = env.tracker(definition).await;
    let resumed = wait_counts(&second, "order-p", 3, 0).await;
    assert_eq!(resumed.summary.status, ChoreographyStatus::Running);
    assert_eq!(resumed.summary.started_at, before.summary.started_at);
    env.publish("PaymentCaptured", "p-captured-again", "order-p")
        .await;
    env.publish("OrderConfirmed", "p-confirmed", "order-p")
        .await;
    let done = wait_counts(&second, "order-p", 4, 1).await;
    assert_eq!(done.summary.status, ChoreographyStatus::Completed);
    assert_eq!(
        done.step("payment")
            .and_then(|s| s.done.as_ref())
            .map(|e| (e.message_id.as_str(), e.at)),
        before
            .step("payment")
            .and_then(|s| s.done.as_ref())
            .map(|e| (e.message_id.as_str(), e.at)),
        "the first tracker's record stands"
    );
    let roles: Vec<_> = [
        done.started.as_ref().map(|_| EventRole::Started),
        done.completed.as_ref().map(|_| EventRole::Completed),
    ]
    .into_iter()
    .flatten()
    .collect();
    assert_eq!(roles, [EventRole::Started, EventRole::Completed]);
    handle.stop().await.expect("stops cleanly");

    // A third handle reads the same state without running a tracker.
    let reader = switchyard_saga::choreography::ChoreographyStore::new(env.open_db().await);
    let stored = reader
        .instance("order", "order-p")
        .await
        .expect("instance")
        .expect("stored");
    assert_eq!(stored.summary, done.summary);
}

// ---------------------------------------------------------------- definitions

#[test]
fn definitions_build_in_rust_like_toml() {
    let built = ChoreographyDefinition::new(
        "order",
        "OrderPlaced",
        "OrderConfirmed",
        Duration::from_secs(60),
    )
    .step(
        ChoreographyStep::new("payment", "PaymentCaptured")
            .failed("PaymentFailed")
            .compensated("PaymentRefunded"),
    )
    .step(
        ChoreographyStep::new("stock", "StockReserved")
            .failed("StockFailed")
            .compensated("StockReleased"),
    );
    assert_eq!(built, order_saga(Duration::from_secs(60)));
}
