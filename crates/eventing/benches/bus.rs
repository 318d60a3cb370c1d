//! Throughput of the two buses: messages published per second (pipelined batches from
//! several tasks), consumed per second (two members acking a backlog), and end to end
//! (publishing while the members consume, until the last ack).
//!
//! `cargo bench -p switchyard-eventing --bench bus`; `BUS_BENCH_MESSAGES` sets how many
//! messages each phase moves (default 50 000). JetStream runs against a `nats-server`
//! the bench starts itself, with file storage.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use switchyard_eventing::bus::{
    EventBus, JetStreamBus, JetStreamOptions, MemoryBus, MemoryBusOptions, Message,
    SubscribeOptions,
};
use switchyard_testkit::NatsServer;

const PUBLISHERS: usize = 4;
const BATCH: usize = 500;
const MEMBERS: usize = 2;
const PAYLOAD: usize = 256;

#[derive(Debug, Clone, Copy)]
struct Figures {
    publish: f64,
    consume: f64,
    end_to_end: f64,
}

fn main() {
    let n: usize = std::env::var("BUS_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let memory: Arc<dyn EventBus> = Arc::new(MemoryBus::with_options(
            MemoryBusOptions::default().queue_capacity(n),
        ));
        let memory = run(memory, n).await;
        print_line("memory", &memory);

        let server = NatsServer::start();
        let jetstream: Arc<dyn EventBus> = Arc::new(
            JetStreamBus::connect(&server.url(), JetStreamOptions::default())
                .await
                .expect("connects to nats-server"),
        );
        let jetstream = run(jetstream, n).await;
        print_line("jetstream", &jetstream);

        println!(
            "ratio memory/jetstream: publish {:.1}x, consume {:.1}x, end-to-end {:.1}x",
            memory.publish / jetstream.publish,
            memory.consume / jetstream.consume,
            memory.end_to_end / jetstream.end_to_end
        );
    });
}

fn print_line(name: &str, f: &Figures) {
    println!(
        "{name:<10} publish {:>10.0} msgs/s   consume {:>10.0} msgs/s   end-to-end {:>10.0} msgs/s",
        f.publish, f.consume, f.end_to_end
    );
}

async fn run(bus: Arc<dyn EventBus>, n: usize) -> Figures {
    // Publish a backlog (the group exists, so it is kept), then drain it.
    let consumed = Arc::new(AtomicUsize::new(0));
    let members = subscribe(&bus, "bench.backlog", consumed.clone()).await;
    let started = Instant::now();
    publish(&bus, "bench.backlog", n).await;
    let publish_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    resume_members(&members);
    wait_for(&consumed, n).await;
    let consume_secs = started.elapsed().as_secs_f64();
    stop(members);

    // End to end: members running while publishing.
    let consumed = Arc::new(AtomicUsize::new(0));
    let members = subscribe(&bus, "bench.live", consumed.clone()).await;
    resume_members(&members);
    let started = Instant::now();
    publish(&bus, "bench.live", n).await;
    wait_for(&consumed, n).await;
    let end_to_end_secs = started.elapsed().as_secs_f64();
    stop(members);

    Figures {
        publish: n as f64 / publish_secs,
        consume: n as f64 / consume_secs,
        end_to_end: n as f64 / end_to_end_secs,
    }
}

async fn publish(bus: &Arc<dyn EventBus>, topic: &str, n: usize) {
    let payload = bytes::Bytes::from(vec![b'x'; PAYLOAD]);
    let next = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..PUBLISHERS)
        .map(|_| {
            let (bus, next, payload, topic) =
                (bus.clone(), next.clone(), payload.clone(), topic.to_owned());
            tokio::spawn(async move {
                loop {
                    let start = next.fetch_add(BATCH, Ordering::Relaxed);
                    if start >= n {
                        return;
                    }
                    let batch = (start..(start + BATCH).min(n))
                        .map(|i| Message::new(&topic, format!("{topic}-{i}"), payload.clone()))
                        .collect();
                    bus.publish_batch(batch).await.expect("publish");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("publisher");
    }
}

struct Members {
    start: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Members that wait for [`resume_members`], then ack everything and count it.
async fn subscribe(bus: &Arc<dyn EventBus>, topic: &str, consumed: Arc<AtomicUsize>) -> Members {
    let start = tokio::sync::watch::Sender::new(false);
    let mut tasks = Vec::new();
    for _ in 0..MEMBERS {
        let mut sub = bus
            .subscribe(
                SubscribeOptions::new(topic, "bench")
                    .ack_wait(Duration::from_secs(60))
                    .max_in_flight(1024),
            )
            .await
            .expect("subscribe");
        let (mut start, consumed) = (start.subscribe(), consumed.clone());
        tasks.push(tokio::spawn(async move {
            let _ = start.wait_for(|go| *go).await;
            while let Some(delivery) = sub.next().await {
                delivery.expect("delivery").ack().await.expect("ack");
                consumed.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    Members { start, tasks }
}

fn resume_members(members: &Members) {
    members.start.send_replace(true);
}

fn stop(members: Members) {
    for task in members.tasks {
        task.abort();
    }
}

async fn wait_for(consumed: &AtomicUsize, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(300);
    while consumed.load(Ordering::Relaxed) < n {
        assert!(Instant::now() < deadline, "consumers stalled");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}
