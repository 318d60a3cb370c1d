//! The saga and breaker views' benchmark: 100,000 saga instances sent
//! through a real `switchyard serve` over OTLP/gRPC (the derived tables are
//! built by its writer, as in production), then the latency of saga searches
//! and of the aggregate flow over them.
//!
//! ```text
//! cargo bench -p switchyard-console --bench sagas -- [--sagas 100000] [--runs 50]
//! ```

use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::trace::v1::Span;
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use switchyard_console::model::TimeRange;
use switchyard_console::model::saga::{self, SagaOrder, SagaSearch};
use switchyard_store::Reader;
use switchyard_testkit::{self as kit, saga::Saga};

const SAGAS_PER_REQUEST: usize = 200;
const SENDERS: usize = 4;
const DAY: u64 = 24 * 3_600 * 1_000_000_000;
const HOUR: u64 = 3_600 * 1_000_000_000;
const MS: u64 = 1_000_000;

struct Options {
    sagas: usize,
    runs: usize,
}

fn options() -> Options {
    let mut o = Options {
        sagas: 100_000,
        runs: 50,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--sagas" => o.sagas = args.next().and_then(|v| v.parse().ok()).expect("--sagas N"),
            "--runs" => o.runs = args.next().and_then(|v| v.parse().ok()).expect("--runs N"),
            _ => {} // cargo bench passes --bench
        }
    }
    o
}

/// Saga `i` of the run: checkout (half), refund or signup; a tenth retry a
/// step, 8 % compensate, 1 % get stuck; spread evenly over the last day.
fn script(rng: &mut StdRng, i: usize, total: usize, day_start: u64) -> (Vec<Span>, Span) {
    let (name, steps): (&str, &[&str]) = match i % 10 {
        0..=4 => (
            "checkout",
            &["reserve-stock", "charge-card", "create-shipment", "notify"],
        ),
        5..=7 => ("refund", &["check-order", "refund-card", "restock"]),
        _ => (
            "signup",
            &[
                "create-account",
                "send-welcome",
                "grant-trial",
                "sync-crm",
                "audit",
            ],
        ),
    };
    let start = day_start + (i as u64) * (DAY / total as u64);
    let mut trace_id = kit::random_trace_id(rng);
    trace_id[6..14].copy_from_slice(&(i as u64).to_be_bytes());
    let mut s = Saga::new(name, &format!("{name}-{i:07}"), trace_id, start);
    let roll = rng.random_range(0..100);
    let fail_at = match roll {
        0..=8 => Some(rng.random_range(1..steps.len())),
        _ => None,
    };
    for (index, step) in steps.iter().enumerate() {
        let nanos = rng.random_range(2 * MS..(20 + 10 * index as u64) * MS);
        if Some(index) == fail_at {
            s.forward(step, index as i64, 1, nanos, Some("upstream said no"));
            s.forward(step, index as i64, 2, nanos, Some("upstream said no again"));
            let stuck = roll == 0;
            for (back, undo) in steps[..index].iter().enumerate().rev() {
                let error = (stuck && back == 0).then_some("compensation failed");
                s.compensate(undo, back as i64, 1, 3 * MS, error);
            }
            let root = if stuck {
                s.root("failed", Some("compensation failed"))
            } else {
                s.root("compensated", Some("upstream said no again"))
            };
            return (s.steps, root);
        }
        if rng.random_range(0..10) == 0 {
            s.forward(step, index as i64, 1, nanos, Some("timeout"));
            s.forward(step, index as i64, 2, nanos, None);
        } else {
            s.forward(step, index as i64, 1, nanos, None);
        }
    }
    let root = s.root("completed", None);
    (s.steps, root)
}

/// Sends every saga; each request carries its sagas' steps and the roots of
/// the request before it, so roots arrive in a later batch than their steps.
async fn send(grpc: String, sender: usize, sagas: usize, day_start: u64) -> u64 {
    let mut client = TraceServiceClient::connect(grpc)
        .await
        .expect("serve accepts gRPC");
    let mut rng = StdRng::seed_from_u64(sender as u64);
    let mut held_roots: Vec<Span> = Vec::new();
    let mut spans_sent = 0;
    let mine: Vec<usize> = (sender..sagas).step_by(SENDERS).collect();
    for chunk in mine.chunks(SAGAS_PER_REQUEST) {
        let mut spans = std::mem::take(&mut held_roots);
        for &i in chunk {
            let (steps, root) = script(&mut rng, i, sagas, day_start);
            spans.extend(steps);
            held_roots.push(root);
        }
        spans_sent += spans.len() as u64;
        export(&mut client, spans).await;
    }
    spans_sent += held_roots.len() as u64;
    export(&mut client, held_roots).await;
    spans_sent
}

async fn export(client: &mut TraceServiceClient<tonic::transport::Channel>, spans: Vec<Span>) {
    let request = kit::traces_request("shop", spans);
    loop {
        match client.export(request.clone()).await {
            Ok(_) => return,
            Err(s)
                if matches!(
                    s.code(),
                    tonic::Code::Unavailable | tonic::Code::ResourceExhausted
                ) =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(s) => panic!("export failed: {s}"),
        }
    }
}

/// Runs `query` `runs` times after a warm-up; prints and returns p50, p99, max.
async fn measure<F, Fut, T>(label: &str, runs: usize, mut query: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
    T: std::fmt::Debug + Rows,
{
    let mut rows = 0;
    for _ in 0..3 {
        rows = query().await.rows();
    }
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        std::hint::black_box(query().await);
        times.push(t.elapsed());
    }
    times.sort();
    let p = |q: f64| times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1];
    println!(
        "  {label:<52} {:>8.2?} {:>8.2?} {:>8.2?}  {rows:>6} rows",
        p(0.5),
        p(0.99),
        times[times.len() - 1]
    );
    p(0.5)
}

trait Rows {
    fn rows(&self) -> usize;
}

impl Rows for Vec<saga::SagaInstance> {
    fn rows(&self) -> usize {
        self.len()
    }
}

impl Rows for saga::AggregateFlow {
    fn rows(&self) -> usize {
        self.instances as usize
    }
}

fn main() {
    let o = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("telemetry.db");
        let serve = kit::ServeProcess::spawn(
            std::path::Path::new(env!("CARGO_BIN_EXE_switchyard")),
            &db,
            &["--retention-age", "off", "--retention-size-mib", "0"],
        );
        let day_start = kit::now_nanos() - DAY;
        let started = Instant::now();
        let senders: Vec<_> = (0..SENDERS)
            .map(|s| tokio::spawn(send(serve.grpc_url(), s, o.sagas, day_start)))
            .collect();
        let mut spans = 0;
        for s in senders {
            spans += s.await.expect("sender finished");
        }
        let took = started.elapsed().as_secs_f64();
        println!(
            "ingest through serve: {} sagas ({spans} spans) in {took:.1} s: {:.0} sagas/s, {:.0} spans/s",
            o.sagas,
            o.sagas as f64 / took,
            spans as f64 / took
        );

        let reader = Reader::open(&db).await.expect("the store opens");
        let stored = saga::search(&reader, &SagaSearch { limit: 100_000, ..SagaSearch::default() })
            .await
            .expect("search")
            .len();
        println!("saga instances stored: {stored}");
        let now = kit::now_nanos();
        let last_hour = TimeRange::new((now - HOUR) as i64, now as i64).unwrap();
        let whole_day = TimeRange::new(day_start as i64, now as i64).unwrap();
        let runs = o.runs;

        println!("\n  {:<52} {:>8} {:>8} {:>8}", "query (page of 50 unless said)", "p50", "p99", "max");
        let r = &reader;
        let search = |s: SagaSearch| async move { saga::search(r, &s).await.expect("search") };
        let page = SagaSearch::default;
        let mut worst = Duration::ZERO;
        for (label, s) in [
            ("newest sagas", page()),
            ("failed only", SagaSearch { failed_only: true, ..page() }),
            ("by name (checkout)", SagaSearch { saga_name: Some("checkout".into()), ..page() }),
            (
                "failed, by name, last hour",
                SagaSearch {
                    failed_only: true,
                    saga_name: Some("checkout".into()),
                    range: Some(last_hour),
                    ..page()
                },
            ),
            (
                "failed, by name (refund), whole day, page of 500",
                SagaSearch {
                    failed_only: true,
                    saga_name: Some("refund".into()),
                    range: Some(whole_day),
                    limit: 500,
                    ..page()
                },
            ),
            ("failed first, whole day", SagaSearch { order: SagaOrder::FailedFirst, range: Some(whole_day), ..page() }),
        ] {
            worst = worst.max(measure(label, runs, || search(s.clone())).await);
        }
        for (label, range) in [("aggregate flow (checkout), last hour", last_hour), ("aggregate flow (checkout), whole day", whole_day)] {
            let p50 = measure(label, runs, || async move {
                saga::aggregate_flow(r, "checkout", range).await.expect("aggregate")
            })
            .await;
            worst = worst.max(p50);
        }
        println!("\nslowest p50: {worst:.2?} (goal: under 100 ms each)");
        drop(serve);
    });
}
