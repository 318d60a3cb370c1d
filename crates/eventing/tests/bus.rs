//! One suite for both buses: each scenario is an `async fn(Arc<dyn EventBus>)` and runs
//! against the in-process bus and against JetStream on a real `nats-server` of its own.
//!
//! The machine may be slow and noisy: waits are generous, and timing assertions are
//! lower bounds ("not before") or orderings, never tight upper bounds.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{TraceContextExt as _, Tracer as _, TracerProvider as _};
use serde::{Deserialize, Serialize};
use switchyard_eventing::bus::{
    BusError, Delivery, EventBus, JetStreamBus, JetStreamOptions, MemoryBus, MemoryBusOptions,
    Message, REPLAY_OF_HEADER, SubscribeOptions, Subscription, Topic, publish_event,
    subscribe_events,
};
use switchyard_testkit::NatsServer;

/// How long to wait for something that should happen.
const PATIENCE: Duration = Duration::from_secs(30);

/// A bus under test and what keeps it alive.
struct Env {
    bus: Arc<dyn EventBus>,
    _server: Option<NatsServer>,
}

fn memory_env() -> Env {
    Env {
        bus: Arc::new(MemoryBus::new()),
        _server: None,
    }
}

fn jetstream_options() -> JetStreamOptions {
    JetStreamOptions::default().stats_interval(Duration::from_millis(200))
}

async fn jetstream_env() -> Env {
    let server = NatsServer::start();
    let bus = JetStreamBus::connect(&server.url(), jetstream_options())
        .await
        .expect("connects to nats-server");
    Env {
        bus: Arc::new(bus),
        _server: Some(server),
    }
}

/// Generates `memory::$name` and `jetstream::$name` for each scenario.
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let env = super::memory_env();
                    super::$name(env.bus.clone()).await;
                }
            )*
        }
        mod jetstream {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let env = super::jetstream_env().await;
                    super::$name(env.bus.clone()).await;
                }
            )*
        }
    };
}

both!(
    typed_round_trip,
    groups_share_and_each_group_gets_all,
    unacked_delivery_is_redelivered_after_ack_wait,
    deliveries_of_a_dropped_member_go_to_another,
    nak_with_delay_redelivers_after_the_delay,
    backoff_schedule_applies,
    progress_extends_the_ack_deadline,
    term_moves_to_dead_letters,
    exhausted_deliveries_move_to_dead_letters,
    replayed_dead_letter_is_delivered_again_to_its_group,
    same_message_id_is_stored_once,
    pause_holds_deliveries_until_resume,
    consumer_stats_count,
    trace_context_crosses_the_bus,
    invalid_topics_are_rejected,
    undecodable_event_is_dead_lettered,
    batch_publish_keeps_order,
);

// ---------------------------------------------------------------- helpers

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct OrderPlaced {
    order: u32,
    amount_cents: u64,
}

impl Topic for OrderPlaced {
    const TOPIC: &'static str = "orders.placed";
}

fn options(topic: &str, group: &str) -> SubscribeOptions {
    SubscribeOptions::new(topic, group)
        .ack_wait(Duration::from_secs(30))
        .backoff(vec![])
}

async fn publish(bus: &Arc<dyn EventBus>, topic: &str, id: &str) {
    let ack = bus
        .publish(Message::new(topic, id, format!("payload of {id}")))
        .await
        .expect("publish");
    assert!(!ack.duplicate, "{id} is new");
}

async fn next(sub: &mut Subscription) -> Delivery {
    tokio::time::timeout(PATIENCE, sub.next())
        .await
        .expect("a delivery in time")
        .expect("the bus is open")
        .expect("no bus error")
}

/// Asserts that nothing is delivered for `quiet`.
async fn assert_quiet(sub: &mut Subscription, quiet: Duration) {
    if let Ok(Some(delivery)) = tokio::time::timeout(quiet, sub.next()).await {
        panic!("unexpected delivery: {delivery:?}");
    }
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
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A spawned consumer that acks everything and reports message ids.
fn consume_all(mut sub: Subscription) -> tokio::sync::mpsc::UnboundedReceiver<String> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(Ok(delivery)) = sub.next().await {
            let id = delivery.message.id.clone();
            delivery.ack().await.expect("ack");
            if tx.send(id).is_err() {
                return;
            }
        }
    });
    rx
}

async fn receive_ids(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<String>,
    n: usize,
) -> Vec<String> {
    let mut ids = Vec::new();
    while ids.len() < n {
        let id = tokio::time::timeout(PATIENCE, rx.recv())
            .await
            .expect("deliveries in time")
            .expect("the consumer runs");
        ids.push(id);
    }
    ids
}

// ---------------------------------------------------------------- scenarios

async fn typed_round_trip(bus: Arc<dyn EventBus>) {
    let mut sub = subscribe_events::<OrderPlaced>(bus.as_ref(), "billing", |o| {
        o.ack_wait(Duration::from_secs(30))
    })
    .await
    .expect("subscribe");
    let event = OrderPlaced {
        order: 7,
        amount_cents: 1999,
    };
    let ack = publish_event(bus.as_ref(), "order-7", &event)
        .await
        .expect("publish");
    assert!(!ack.duplicate);

    let delivery = tokio::time::timeout(PATIENCE, sub.next())
        .await
        .expect("in time")
        .expect("open")
        .expect("decodes");
    assert_eq!(delivery.event, event);
    assert_eq!(delivery.attempt(), 1);
    assert_eq!(delivery.message().id, "order-7");
    assert_eq!(delivery.message().topic, OrderPlaced::TOPIC);
    assert_eq!(
        delivery
            .message()
            .headers
            .get("content-type")
            .map(String::as_str),
        Some("application/json")
    );
    delivery.ack().await.expect("ack");
}

async fn groups_share_and_each_group_gets_all(bus: Arc<dyn EventBus>) {
    let topic = "shipments";
    let member_a = bus.subscribe(options(topic, "packers")).await.unwrap();
    let member_b = bus.subscribe(options(topic, "packers")).await.unwrap();
    let auditors = bus.subscribe(options(topic, "auditors")).await.unwrap();
    let (mut rx_a, mut rx_b, mut rx_audit) = (
        consume_all(member_a),
        consume_all(member_b),
        consume_all(auditors),
    );

    let ids: Vec<String> = (0..40).map(|i| format!("shipment-{i}")).collect();
    for id in &ids {
        publish(&bus, topic, id).await;
    }

    // Every message reaches the packers group exactly once, across its two members.
    let (mut packed, mut by_b) = (Vec::new(), 0);
    let deadline = Instant::now() + PATIENCE;
    while packed.len() < ids.len() {
        assert!(Instant::now() < deadline, "packers got {}", packed.len());
        tokio::select! {
            Some(id) = rx_a.recv() => packed.push(id),
            Some(id) = rx_b.recv() => { packed.push(id); by_b += 1; }
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
    // Which member gets what is up to the bus (JetStream pulls in batches).
    eprintln!("members got {} and {by_b}", packed.len() - by_b);
    let unique: BTreeSet<_> = packed.iter().cloned().collect();
    assert_eq!(unique.len(), packed.len(), "no duplicates: {packed:?}");
    assert_eq!(unique, ids.iter().cloned().collect::<BTreeSet<_>>());

    // The other group gets all of them too.
    let audited: BTreeSet<_> = receive_ids(&mut rx_audit, ids.len())
        .await
        .into_iter()
        .collect();
    assert_eq!(audited, unique);

    // And nothing more arrives anywhere once all are acked.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(rx_a.try_recv().is_err() && rx_b.try_recv().is_err() && rx_audit.try_recv().is_err());
}

async fn unacked_delivery_is_redelivered_after_ack_wait(bus: Arc<dyn EventBus>) {
    let ack_wait = Duration::from_millis(500);
    let mut sub = bus
        .subscribe(options("payments", "ledger").ack_wait(ack_wait))
        .await
        .unwrap();
    publish(&bus, "payments", "payment-1").await;

    let first = next(&mut sub).await;
    assert_eq!(first.attempt, 1);
    let delivered_at = Instant::now();
    drop(first); // never answered

    let second = next(&mut sub).await;
    assert_eq!(second.message.id, "payment-1");
    assert_eq!(second.attempt, 2);
    assert!(delivered_at.elapsed() >= ack_wait.mul_f32(0.9));
    second.ack().await.unwrap();
    assert_quiet(&mut sub, Duration::from_secs(1)).await;
}

async fn deliveries_of_a_dropped_member_go_to_another(bus: Arc<dyn EventBus>) {
    let opts = options("parcels", "couriers").ack_wait(Duration::from_millis(500));
    let mut leaving = bus.subscribe(opts.clone()).await.unwrap();
    publish(&bus, "parcels", "parcel-1").await;
    let unanswered = next(&mut leaving).await;
    drop(leaving);
    drop(unanswered);

    let mut staying = bus.subscribe(opts).await.unwrap();
    let again = next(&mut staying).await;
    assert_eq!((again.message.id.as_str(), again.attempt), ("parcel-1", 2));
    again.ack().await.unwrap();
}

async fn nak_with_delay_redelivers_after_the_delay(bus: Arc<dyn EventBus>) {
    let mut sub = bus.subscribe(options("invoices", "mailer")).await.unwrap();
    publish(&bus, "invoices", "invoice-a").await;
    let a = next(&mut sub).await;
    let delay = Duration::from_secs(1);
    let nakked_at = Instant::now();
    a.nak(Some(delay), "smtp down").await.unwrap();

    // A message published after the nak overtakes the delayed one.
    publish(&bus, "invoices", "invoice-b").await;
    let b = next(&mut sub).await;
    assert_eq!((b.message.id.as_str(), b.attempt), ("invoice-b", 1));
    b.ack().await.unwrap();

    let again = next(&mut sub).await;
    assert_eq!((again.message.id.as_str(), again.attempt), ("invoice-a", 2));
    assert!(
        nakked_at.elapsed() >= delay.mul_f32(0.9),
        "redelivered after {:?}, before the delay",
        nakked_at.elapsed()
    );
    again.ack().await.unwrap();
}

async fn backoff_schedule_applies(bus: Arc<dyn EventBus>) {
    let backoff = vec![Duration::from_millis(300), Duration::from_millis(1500)];
    let mut sub = bus
        .subscribe(
            options("refunds", "processor")
                .backoff(backoff.clone())
                .max_deliver(5),
        )
        .await
        .unwrap();
    publish(&bus, "refunds", "refund-1").await;

    let mut gaps = Vec::new();
    let mut delivery = next(&mut sub).await;
    for attempt in 1..=3 {
        assert_eq!(delivery.attempt, attempt);
        let nakked_at = Instant::now();
        delivery.nak(None, "not yet").await.unwrap();
        delivery = next(&mut sub).await;
        gaps.push(nakked_at.elapsed());
    }
    assert_eq!(delivery.attempt, 4);
    delivery.ack().await.unwrap();
    // Delivery n waits backoff[n-1]; the last entry repeats.
    let expected = [backoff[0], backoff[1], backoff[1]];
    for (gap, want) in gaps.iter().zip(expected) {
        assert!(
            *gap >= want.mul_f32(0.9),
            "gaps {gaps:?}, want {expected:?}"
        );
    }
}

async fn progress_extends_the_ack_deadline(bus: Arc<dyn EventBus>) {
    let ack_wait = Duration::from_secs(2);
    let mut sub = bus
        .subscribe(options("reports", "renderer").ack_wait(ack_wait))
        .await
        .unwrap();
    publish(&bus, "reports", "report-1").await;
    let delivery = next(&mut sub).await;
    // 2.4 s of work against a 2 s ack wait, reporting progress every 0.8 s.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(800)).await;
        delivery.progress().await.unwrap();
    }
    delivery.ack().await.unwrap();
    assert_quiet(&mut sub, ack_wait + Duration::from_secs(1)).await;
    let stats = eventually("the ack to count", || async {
        let stats = bus.consumer_stats("reports", "renderer").await.unwrap();
        (stats.lag == 0).then_some(stats)
    })
    .await;
    assert_eq!(stats.redeliveries, 0);
}

async fn term_moves_to_dead_letters(bus: Arc<dyn EventBus>) {
    let mut sub = bus.subscribe(options("imports", "parser")).await.unwrap();
    bus.publish(Message::new("imports", "import-1", "garbage").with_header("source", "ftp"))
        .await
        .unwrap();
    let delivery = next(&mut sub).await;
    delivery.term("unsupported format").await.unwrap();

    let letters = bus.dead_letters(Some("imports")).await.unwrap();
    assert_eq!(letters.len(), 1, "{letters:?}");
    let letter = letters[0].clone();
    assert_eq!(letter.reason, "terminated: unsupported format");
    assert_eq!(letter.group, "parser");
    assert_eq!(letter.deliveries, 1);
    assert_eq!(letter.message.id, "import-1");
    assert_eq!(letter.message.topic, "imports");
    assert_eq!(&letter.message.payload[..], b"garbage");
    assert_eq!(
        letter.message.headers.get("source").map(String::as_str),
        Some("ftp")
    );
    assert!(bus.dead_letters(Some("other")).await.unwrap().is_empty());
    assert_eq!(bus.dead_letters(None).await.unwrap().len(), 1);

    assert_quiet(&mut sub, Duration::from_secs(1)).await;
    let stats = bus.consumer_stats("imports", "parser").await.unwrap();
    assert_eq!(stats.dead_lettered, 1);
    assert_eq!(stats.in_flight, 0);

    // Listing filters by topic across interleaved dead letters, and skips replayed ones.
    let mut exports = bus.subscribe(options("exports", "writer")).await.unwrap();
    publish(&bus, "exports", "export-1").await;
    next(&mut exports).await.term("disk full").await.unwrap();
    publish(&bus, "imports", "import-2").await;
    next(&mut sub).await.term("bad header").await.unwrap();
    let imports: Vec<String> = bus
        .dead_letters(Some("imports"))
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.message.id)
        .collect();
    assert_eq!(imports, ["import-1", "import-2"]);
    bus.replay_dead_letter(letter.id).await.unwrap();
    let all: Vec<String> = bus
        .dead_letters(None)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.message.id)
        .collect();
    assert_eq!(
        all,
        ["export-1", "import-2"],
        "oldest first, replayed one gone"
    );
}

async fn exhausted_deliveries_move_to_dead_letters(bus: Arc<dyn EventBus>) {
    let mut sub = bus
        .subscribe(options("webhooks", "sender").max_deliver(3))
        .await
        .unwrap();
    publish(&bus, "webhooks", "hook-1").await;
    for attempt in 1..=3 {
        let delivery = next(&mut sub).await;
        assert_eq!(delivery.attempt, attempt);
        delivery
            .nak(None, &format!("HTTP 503 on try {attempt}"))
            .await
            .unwrap();
    }
    assert_quiet(&mut sub, Duration::from_secs(1)).await;
    let letters = bus.dead_letters(Some("webhooks")).await.unwrap();
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(
        letters[0].reason,
        "max deliveries (3) reached: HTTP 503 on try 3"
    );
    assert_eq!(letters[0].deliveries, 3);
    assert_eq!(letters[0].message.id, "hook-1");

    // The same rule when the last delivery times out instead.
    let mut sub = bus
        .subscribe(
            options("webhooks", "slow")
                .max_deliver(2)
                .ack_wait(Duration::from_millis(400)),
        )
        .await
        .unwrap();
    publish(&bus, "webhooks", "hook-2").await;
    let first = next(&mut sub).await;
    first.nak(None, "first try failed").await.unwrap();
    let second = next(&mut sub).await;
    assert_eq!(second.attempt, 2);
    drop(second);
    let letter = eventually("the timed-out message to be dead-lettered", || async {
        bus.dead_letters(Some("webhooks"))
            .await
            .unwrap()
            .into_iter()
            .find(|l| l.group == "slow")
    })
    .await;
    assert_eq!(letter.reason, "max deliveries (2) reached: ack timeout");
}

async fn replayed_dead_letter_is_delivered_again_to_its_group(bus: Arc<dyn EventBus>) {
    let mut sub = bus.subscribe(options("emails", "sender")).await.unwrap();
    let mut other = bus.subscribe(options("emails", "archiver")).await.unwrap();
    publish(&bus, "emails", "email-1").await;
    next(&mut other).await.ack().await.unwrap();
    next(&mut sub).await.term("mailbox full").await.unwrap();

    let letter = bus.dead_letters(Some("emails")).await.unwrap().remove(0);
    let ack = bus.replay_dead_letter(letter.id).await.unwrap();
    assert!(!ack.duplicate);
    assert!(bus.dead_letters(Some("emails")).await.unwrap().is_empty());
    assert!(matches!(
        bus.replay_dead_letter(letter.id).await,
        Err(BusError::UnknownDeadLetter(id)) if id == letter.id
    ));

    let again = next(&mut sub).await;
    assert_eq!(again.message.id, "email-1", "the original id is kept");
    assert_eq!(&again.message.payload[..], b"payload of email-1");
    assert_eq!(again.attempt, 1);
    assert_eq!(
        again.message.headers.get(REPLAY_OF_HEADER),
        Some(&letter.id.to_string())
    );
    again.ack().await.unwrap();
    // The group that handled it fine does not see the replay.
    assert_quiet(&mut other, Duration::from_secs(1)).await;
}

async fn same_message_id_is_stored_once(bus: Arc<dyn EventBus>) {
    let mut sub = bus.subscribe(options("transfers", "bank")).await.unwrap();
    let first = bus
        .publish(Message::new("transfers", "transfer-1", "100"))
        .await
        .unwrap();
    let second = bus
        .publish(Message::new("transfers", "transfer-1", "100"))
        .await
        .unwrap();
    assert!(!first.duplicate);
    assert!(second.duplicate);
    assert_eq!(second.sequence, first.sequence);

    let delivery = next(&mut sub).await;
    assert_eq!(delivery.message.id, "transfer-1");
    delivery.ack().await.unwrap();
    assert_quiet(&mut sub, Duration::from_secs(1)).await;
}

async fn pause_holds_deliveries_until_resume(bus: Arc<dyn EventBus>) {
    assert!(matches!(
        bus.pause("nothing", "nobody").await,
        Err(BusError::UnknownGroup { .. })
    ));
    let sub = bus.subscribe(options("audits", "writer")).await.unwrap();
    let mut rx = consume_all(sub);
    publish(&bus, "audits", "audit-0").await;
    assert_eq!(receive_ids(&mut rx, 1).await, ["audit-0"]);

    bus.pause("audits", "writer").await.unwrap();
    assert!(bus.consumer_stats("audits", "writer").await.unwrap().paused);
    let ids: Vec<String> = (1..=5).map(|i| format!("audit-{i}")).collect();
    for id in &ids {
        publish(&bus, "audits", id).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(rx.try_recv().is_err(), "nothing is delivered while paused");

    bus.resume("audits", "writer").await.unwrap();
    assert!(!bus.consumer_stats("audits", "writer").await.unwrap().paused);
    let got: BTreeSet<_> = receive_ids(&mut rx, ids.len()).await.into_iter().collect();
    assert_eq!(got, ids.into_iter().collect::<BTreeSet<_>>());
}

async fn consumer_stats_count(bus: Arc<dyn EventBus>) {
    assert!(matches!(
        bus.consumer_stats("stock", "nobody").await,
        Err(BusError::UnknownGroup { .. })
    ));
    let mut sub = bus
        .subscribe(options("stock", "warehouse").max_in_flight(2))
        .await
        .unwrap();
    for i in 0..5 {
        publish(&bus, "stock", &format!("stock-{i}")).await;
    }
    let first = next(&mut sub).await;
    let second = next(&mut sub).await;
    let stats = eventually("5 lagging, 2 in flight", || async {
        let stats = bus.consumer_stats("stock", "warehouse").await.unwrap();
        (stats.lag == 5 && stats.in_flight == 2).then_some(stats)
    })
    .await;
    assert_eq!((stats.redeliveries, stats.dead_lettered), (0, 0));
    assert!(!stats.paused);

    first.nak(None, "retry").await.unwrap();
    let redelivered = next(&mut sub).await;
    assert_eq!(redelivered.attempt, 2, "redeliveries go first");
    second.ack().await.unwrap();
    redelivered.ack().await.unwrap();
    for _ in 0..3 {
        next(&mut sub).await.ack().await.unwrap();
    }
    let stats = eventually("everything acked", || async {
        let stats = bus.consumer_stats("stock", "warehouse").await.unwrap();
        (stats.lag == 0 && stats.in_flight == 0).then_some(stats)
    })
    .await;
    assert_eq!(stats.redeliveries, 1);
}

async fn trace_context_crosses_the_bus(bus: Arc<dyn EventBus>) {
    let exporter = opentelemetry_sdk::trace::InMemorySpanExporter::default();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let tracer = provider.tracer("bus-test");
    let mut sub = bus.subscribe(options("traces", "worker")).await.unwrap();

    let producer = tracer.start("publish traces");
    let producer_cx = opentelemetry::Context::current_with_span(producer);
    let producer_span = producer_cx.span().span_context().clone();
    bus.publish(Message::new("traces", "traced-1", "x"))
        .with_context(producer_cx.clone())
        .await
        .unwrap();
    producer_cx.span().end();

    let delivery = next(&mut sub).await;
    assert!(delivery.message.headers.contains_key("traceparent"));
    let consumer = tracer.start_with_context("process traces", &delivery.parent_context());
    drop(consumer);
    delivery.ack().await.unwrap();

    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    let process = spans
        .iter()
        .find(|s| s.name == "process traces")
        .expect("consumer span");
    assert_eq!(process.span_context.trace_id(), producer_span.trace_id());
    assert_eq!(process.parent_span_id, producer_span.span_id());
    assert!(process.parent_span_is_remote);

    // A message that already carries a trace context keeps it.
    let explicit = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    bus.publish(Message::new("traces", "traced-2", "x").with_header("traceparent", explicit))
        .with_context(producer_cx)
        .await
        .unwrap();
    let delivery = next(&mut sub).await;
    assert_eq!(delivery.message.headers["traceparent"], explicit);
    delivery.ack().await.unwrap();
}

async fn invalid_topics_are_rejected(bus: Arc<dyn EventBus>) {
    for topic in [
        "",
        "two words",
        "orders.*",
        "orders.>",
        "a..b",
        ".a",
        "a.",
        "tab\there",
    ] {
        let published = bus.publish(Message::new(topic, "id", "x")).await;
        assert!(
            matches!(published, Err(BusError::Invalid { what: "topic", .. })),
            "publish to {topic:?}: {published:?}"
        );
        let subscribed = bus.subscribe(options(topic, "group")).await;
        assert!(
            matches!(subscribed, Err(BusError::Invalid { what: "topic", .. })),
            "subscribe to {topic:?}: {subscribed:?}"
        );
    }
    let bad = bus.subscribe(options("fine", "group").max_deliver(0)).await;
    assert!(matches!(bad, Err(BusError::Invalid { .. })), "{bad:?}");
    let bad = bus
        .subscribe(options("fine", "").ack_wait(Duration::ZERO))
        .await;
    assert!(matches!(bad, Err(BusError::Invalid { .. })), "{bad:?}");
    let bad = bus.publish(Message::new("fine", "", "x")).await;
    assert!(
        matches!(
            bad,
            Err(BusError::Invalid {
                what: "message id",
                ..
            })
        ),
        "{bad:?}"
    );
    // A valid hierarchical topic is fine.
    bus.publish(Message::new("orders.eu.placed", "id", "x"))
        .await
        .unwrap();
}

async fn undecodable_event_is_dead_lettered(bus: Arc<dyn EventBus>) {
    let mut sub = subscribe_events::<OrderPlaced>(bus.as_ref(), "billing", |o| o.backoff(vec![]))
        .await
        .unwrap();
    bus.publish(Message::new(OrderPlaced::TOPIC, "poison-1", "{not json"))
        .await
        .unwrap();
    let event = OrderPlaced {
        order: 8,
        amount_cents: 5,
    };
    publish_event(bus.as_ref(), "order-8", &event)
        .await
        .unwrap();

    let delivery = tokio::time::timeout(PATIENCE, sub.next())
        .await
        .expect("in time")
        .expect("open")
        .expect("decodes");
    assert_eq!(delivery.event, event, "the poison message is skipped");
    delivery.ack().await.unwrap();

    let letters = bus.dead_letters(Some(OrderPlaced::TOPIC)).await.unwrap();
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0].message.id, "poison-1");
    assert!(
        letters[0]
            .reason
            .starts_with("terminated: event payload is not valid JSON for"),
        "{}",
        letters[0].reason
    );
}

async fn batch_publish_keeps_order(bus: Arc<dyn EventBus>) {
    let mut sub = bus.subscribe(options("ledger", "auditor")).await.unwrap();
    let messages: Vec<Message> = (0..300)
        .map(|i| Message::new("ledger", format!("entry-{i}"), i.to_string()))
        .collect();
    let acks = bus.publish_batch(messages.clone()).await.unwrap();
    assert_eq!(acks.len(), 300);
    assert!(acks.windows(2).all(|w| w[0].sequence < w[1].sequence));
    assert!(acks.iter().all(|a| !a.duplicate));
    let again = bus.publish_batch(messages[..10].to_vec()).await.unwrap();
    assert!(again.iter().all(|a| a.duplicate));

    let mut seen = Vec::new();
    while seen.len() < 300 {
        let delivery = next(&mut sub).await;
        seen.push(delivery.message.id.clone());
        delivery.ack().await.unwrap();
    }
    let want: Vec<String> = (0..300).map(|i| format!("entry-{i}")).collect();
    assert_eq!(seen, want, "one member, no failures: publish order");
}

/// Instruments register on the meter provider installed when the bus is made, so these
/// two tests install one first (each test runs in its own process under nextest).
fn install_meter_provider() -> (
    opentelemetry_sdk::metrics::SdkMeterProvider,
    opentelemetry_sdk::metrics::InMemoryMetricExporter,
) {
    let exporter = opentelemetry_sdk::metrics::InMemoryMetricExporter::default();
    let provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
        .with_reader(opentelemetry_sdk::metrics::PeriodicReader::builder(exporter.clone()).build())
        .build();
    opentelemetry::global::set_meter_provider(provider.clone());
    (provider, exporter)
}

/// The value of gauge `name` for the group `metered`/`counter`, after a collection.
fn gauge(
    provider: &opentelemetry_sdk::metrics::SdkMeterProvider,
    exporter: &opentelemetry_sdk::metrics::InMemoryMetricExporter,
    name: &str,
) -> Option<u64> {
    use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
    use switchyard_conventions::eventing::{GROUP, TOPIC};

    exporter.reset();
    provider.force_flush().unwrap();
    let mut found = None;
    for rm in exporter.get_finished_metrics().unwrap() {
        for metric in rm.scope_metrics().flat_map(|s| s.metrics()) {
            if metric.name() != name {
                continue;
            }
            if let AggregatedMetrics::U64(MetricData::Gauge(gauge)) = metric.data() {
                for point in gauge.data_points() {
                    let attrs: BTreeMap<String, String> = point
                        .attributes()
                        .map(|kv| (kv.key.to_string(), kv.value.to_string()))
                        .collect();
                    if attrs.get(TOPIC).map(String::as_str) == Some("metered")
                        && attrs.get(GROUP).map(String::as_str) == Some("counter")
                    {
                        found = Some(point.value());
                    }
                }
            }
        }
    }
    found
}

async fn metrics_report_lag_and_pause(
    bus: Arc<dyn EventBus>,
    provider: opentelemetry_sdk::metrics::SdkMeterProvider,
    exporter: opentelemetry_sdk::metrics::InMemoryMetricExporter,
) {
    use switchyard_conventions::eventing::{CONSUMER_LAG_METRIC, CONSUMER_PAUSED_METRIC};

    let _sub = bus.subscribe(options("metered", "counter")).await.unwrap();
    for i in 0..3 {
        publish(&bus, "metered", &format!("m-{i}")).await;
    }
    bus.pause("metered", "counter").await.unwrap();
    eventually("lag 3 and paused reported", || async {
        let lag = gauge(&provider, &exporter, CONSUMER_LAG_METRIC);
        let paused = gauge(&provider, &exporter, CONSUMER_PAUSED_METRIC);
        (lag == Some(3) && paused == Some(1)).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_metrics_report_lag_and_pause() {
    let (provider, exporter) = install_meter_provider();
    metrics_report_lag_and_pause(Arc::new(MemoryBus::new()), provider, exporter).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_metrics_report_lag_and_pause() {
    let (provider, exporter) = install_meter_provider();
    let env = jetstream_env().await;
    metrics_report_lag_and_pause(env.bus.clone(), provider, exporter).await;
}

// ---------------------------------------------------------------- one bus only

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_publish_waits_while_a_group_queue_is_full() {
    let bus: Arc<dyn EventBus> = Arc::new(MemoryBus::with_options(
        MemoryBusOptions::default().queue_capacity(4),
    ));
    let mut sub = bus.subscribe(options("slow", "consumer")).await.unwrap();
    for i in 0..4 {
        publish(&bus, "slow", &format!("slow-{i}")).await;
    }
    let fifth = {
        let bus = bus.clone();
        tokio::spawn(async move { publish(&bus, "slow", "slow-4").await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!fifth.is_finished(), "the fifth publish waits for room");

    let mut got = Vec::new();
    let first = next(&mut sub).await; // makes room
    got.push(first.message.id.clone());
    first.ack().await.unwrap();
    tokio::time::timeout(PATIENCE, fifth)
        .await
        .expect("the fifth publish completes once there is room")
        .unwrap();
    while got.len() < 5 {
        let delivery = next(&mut sub).await;
        got.push(delivery.message.id.clone());
        delivery.ack().await.unwrap();
    }
    let want: Vec<String> = (0..5).map(|i| format!("slow-{i}")).collect();
    assert_eq!(got, want, "none lost, in order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_close_ends_subscriptions_and_publishes() {
    let bus = MemoryBus::new();
    let mut sub = bus.subscribe(options("closing", "group")).await.unwrap();
    let waiting = tokio::spawn(async move { sub.next().await.is_none() });
    tokio::time::sleep(Duration::from_millis(100)).await;
    bus.close();
    assert!(
        tokio::time::timeout(PATIENCE, waiting)
            .await
            .unwrap()
            .unwrap()
    );
    let published = bus.publish(Message::new("closing", "id", "x")).await;
    assert!(matches!(published, Err(BusError::Closed)), "{published:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_message_survives_a_broker_restart() {
    let mut server = NatsServer::start();
    let bus: Arc<dyn EventBus> = Arc::new(
        JetStreamBus::connect(&server.url(), jetstream_options())
            .await
            .unwrap(),
    );
    drop(bus.subscribe(options("durable", "keeper")).await.unwrap());
    publish(&bus, "durable", "kept-1").await;

    server.restart();

    let mut sub = bus.subscribe(options("durable", "keeper")).await.unwrap();
    let delivery = next(&mut sub).await;
    assert_eq!(delivery.message.id, "kept-1");
    assert_eq!(&delivery.message.payload[..], b"payload of kept-1");
    delivery.ack().await.unwrap();
    // And the bus works on after the restart.
    publish(&bus, "durable", "kept-2").await;
    assert_eq!(next(&mut sub).await.message.id, "kept-2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_unreachable_broker_is_a_connect_error() {
    let server = NatsServer::start();
    let url = server.url();
    drop(server);
    let result = JetStreamBus::connect(&url, JetStreamOptions::default()).await;
    assert!(matches!(result, Err(BusError::Connect(_))), "{result:?}");
}
