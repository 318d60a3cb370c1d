//! Event store appends per second: single events (one transaction each) and batches (one
//! transaction of many streams), on SQLite and on PostgreSQL.
//!
//! `cargo bench -p switchyard-eventing --bench store [-- --events N] [--sqlite-only]`
//!
//! PostgreSQL is a private test server (testkit) with fsync off, so its figure measures
//! the store's own work, not the disk.

use std::time::{Duration, Instant};

use serde_json::json;
use switchyard_eventing::store::{EventStore, ExpectedVersion, NewEvent, StreamAppend};
use switchyard_testkit::PostgresServer;

const STREAMS_PER_BATCH: usize = 100;
const EVENTS_PER_STREAM: usize = 10;

fn event(n: usize) -> NewEvent {
    NewEvent::new(
        "MoneyDeposited",
        json!({ "type": "Deposited", "amount": n, "currency": "EUR", "reference": format!("ref-{n:08}") }),
    )
}

async fn single(store: &EventStore, events: usize) -> Duration {
    let started = Instant::now();
    for n in 0..events {
        store
            .append(
                &format!("single-{}", n % 1000),
                ExpectedVersion::Any,
                vec![event(n)],
            )
            .await
            .expect("append");
    }
    started.elapsed()
}

async fn batched(store: &EventStore, events: usize) -> Duration {
    let per_batch = STREAMS_PER_BATCH * EVENTS_PER_STREAM;
    // Events are built before the clock starts: the figure is the store's, not serde's.
    let batches: Vec<Vec<StreamAppend>> = (0..events / per_batch)
        .map(|batch| {
            (0..STREAMS_PER_BATCH)
                .map(|stream| StreamAppend {
                    stream_id: format!("batch-{batch}-{stream}"),
                    expected: ExpectedVersion::NoStream,
                    events: (0..EVENTS_PER_STREAM)
                        .map(|n| event(batch * per_batch + n))
                        .collect(),
                })
                .collect()
        })
        .collect();
    let started = Instant::now();
    for batch in batches {
        store.append_many(batch).await.expect("append");
    }
    started.elapsed()
}

fn rate(events: usize, took: Duration) -> f64 {
    events as f64 / took.as_secs_f64()
}

async fn measure(name: &str, store: &EventStore, events: usize) {
    let single_events = events / 10;
    let single_took = single(store, single_events).await;
    let batch_took = batched(store, events).await;
    let (single_rate, batch_rate) = (rate(single_events, single_took), rate(events, batch_took));
    println!(
        "{name:<10} single: {single_rate:>9.0} events/s ({single_events} appends)   batched: {batch_rate:>9.0} events/s \
         ({} transactions of {} streams x {} events)   batched/single {:.1}x",
        events / (STREAMS_PER_BATCH * EVENTS_PER_STREAM),
        STREAMS_PER_BATCH,
        EVENTS_PER_STREAM,
        batch_rate / single_rate
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let events = args
        .iter()
        .position(|a| a == "--events")
        .and_then(|i| args.get(i + 1))
        .map(|n| n.parse().expect("--events N"))
        .unwrap_or(200_000);
    let sqlite_only = args.iter().any(|a| a == "--sqlite-only");
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let sqlite = EventStore::open_sqlite(&dir.path().join("bench.db"))
            .await
            .expect("open");
        measure("sqlite", &sqlite, events).await;
        if !sqlite_only {
            let server = PostgresServer::start();
            let postgres = EventStore::connect(&server.url()).await.expect("connect");
            measure("postgres", &postgres, events).await;
        }
    });
}
