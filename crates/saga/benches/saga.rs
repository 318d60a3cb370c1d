//! Sagas per second: 3 in-process steps each, every transition in the durable log, many
//! sagas at once; against the same steps called directly (no orchestrator, no log), which
//! gives the log's overhead per step.
//!
//! `cargo bench -p switchyard-saga --bench saga [-- --sagas N] [--sqlite-only]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchyard_saga::{
    Orchestrator, OrchestratorOptions, SagaDefinition, SagaLog, SagaStatus, StepAction,
    StepContext, StepDefinition, action_fn,
};
use switchyard_testkit::PostgresServer;
use tokio::sync::Semaphore;

const STEPS: [&str; 3] = ["reserve", "charge", "ship"];
/// Sagas in flight at once (the orchestrator's limit and the starters' window).
const CONCURRENCY: usize = 256;

fn step_action() -> Arc<dyn StepAction> {
    action_fn(|cx: StepContext| async move { Ok(json!({ "step": cx.step_name, "ok": true })) })
}

fn definition() -> SagaDefinition {
    let mut builder = SagaDefinition::builder("bench");
    for name in STEPS {
        builder =
            builder.step(StepDefinition::new(name, step_action()).compensate_with(step_action()));
    }
    builder.build().expect("a valid definition")
}

/// The same three steps, awaited one after another, `sagas` times with the same
/// concurrency: the work without the orchestrator.
async fn bare(sagas: usize) -> Duration {
    let action = step_action();
    let window = Arc::new(Semaphore::new(CONCURRENCY));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(sagas);
    for n in 0..sagas {
        let permit = window.clone().acquire_owned().await.expect("open");
        let action = action.clone();
        tasks.push(tokio::spawn(async move {
            for (index, name) in STEPS.iter().enumerate() {
                let cx = StepContext {
                    saga_id: n.to_string(),
                    saga_name: "bench".into(),
                    step_name: (*name).into(),
                    step_index: index,
                    phase: switchyard_conventions::saga::StepPhase::Forward,
                    attempt: 1,
                    idempotency_key: format!("{n}:{name}:forward"),
                    input: Value::Null,
                    step_input: None,
                    outputs: Default::default(),
                    trace_headers: Default::default(),
                };
                action.run(cx).await.expect("the step succeeds");
            }
            drop(permit);
        }));
    }
    for task in tasks {
        task.await.expect("no panic");
    }
    started.elapsed()
}

async fn orchestrated(url: &str, sagas: usize) -> Duration {
    let log = SagaLog::connect(url).await.expect("the log opens");
    let orchestrator = Orchestrator::new(
        log,
        OrchestratorOptions {
            max_concurrent: CONCURRENCY,
        },
    );
    orchestrator.register(definition()).expect("registered");
    let window = Arc::new(Semaphore::new(CONCURRENCY));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(sagas);
    for n in 0..sagas {
        let permit = window.clone().acquire_owned().await.expect("open");
        let orchestrator = orchestrator.clone();
        tasks.push(tokio::spawn(async move {
            let done = orchestrator
                .run("bench", json!({ "n": n }), Duration::from_secs(600))
                .await
                .expect("the saga ends");
            assert_eq!(done.status, SagaStatus::Completed);
            drop(permit);
        }));
    }
    for task in tasks {
        task.await.expect("no panic");
    }
    started.elapsed()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let sagas: usize = args
        .iter()
        .position(|a| a == "--sagas")
        .and_then(|i| args.get(i + 1))
        .map(|n| n.parse().expect("--sagas N"))
        .unwrap_or(20_000);
    let sqlite_only = args.iter().any(|a| a == "--sqlite-only");
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let bare_took = bare(sagas).await;
        let rate = |took: Duration| sagas as f64 / took.as_secs_f64();
        println!("bare steps      {:>9.0} sagas/s ({sagas} sagas of 3 steps, {CONCURRENCY} at once)", rate(bare_took));
        let dir = tempfile::tempdir().expect("a temporary directory");
        let sqlite = format!("sqlite://{}/saga.db?mode=rwc", dir.path().display());
        let mut backends = vec![("sqlite", sqlite)];
        let server = (!sqlite_only).then(PostgresServer::start);
        if let Some(server) = &server {
            backends.push(("postgres", server.url()));
        }
        for (name, url) in backends {
            let took = orchestrated(&url, sagas).await;
            let per_step = (took.saturating_sub(bare_took)).as_secs_f64() / (sagas * STEPS.len()) as f64;
            println!(
                "{name:<15} {:>9.0} sagas/s   log overhead {:.1} µs per step (wall time, {CONCURRENCY} sagas at once; 8 log entries per saga)",
                rate(took),
                per_step * 1e6
            );
        }
    });
}
