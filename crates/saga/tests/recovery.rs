//! Crash recovery: the orchestrator runs in a child process that is killed with SIGKILL
//! at random points, again and again; each restart resumes every unfinished saga from the
//! log. The participants are real HTTP services in this process that remember each
//! effect by its `Idempotency-Key`, so at the end their state must match the sagas'
//! outcomes exactly: every completed saga's effects present once, every compensated
//! saga's effects undone, nothing for anyone else. On SQLite and on PostgreSQL.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, post};
use axum::{Json, Router};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use rand::Rng as _;
use serde_json::{Value, json};
use switchyard_saga::{Orchestrator, OrchestratorOptions, SagaLog, SagaStatus, load_definitions};
use switchyard_testkit::{TestDatabase, on_both_databases};

const SAGAS: usize = 60;
const CHILD_DB: &str = "SWITCHYARD_RECOVERY_DB";
const CHILD_DEFINITION: &str = "SWITCHYARD_RECOVERY_DEFINITION";

/// Effects by service, then by the forward call's idempotency key.
#[derive(Debug, Default)]
struct Services {
    effects: Mutex<BTreeMap<&'static str, BTreeMap<String, Effect>>>,
    calls: Mutex<usize>,
}

#[derive(Debug, Clone, PartialEq)]
struct Effect {
    saga: String,
    cancelled: bool,
}

async fn jitter() {
    let millis = rand::rng().random_range(5..40);
    tokio::time::sleep(Duration::from_millis(millis)).await;
}

fn key(headers: &HeaderMap) -> Result<String, StatusCode> {
    headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or(StatusCode::BAD_REQUEST)
}

async fn create(
    service: &'static str,
    services: Arc<Services>,
    headers: HeaderMap,
    body: Value,
) -> Result<Json<Value>, StatusCode> {
    jitter().await;
    *services.calls.lock().unwrap() += 1;
    let key = key(&headers)?;
    if service == "shipping" && body["fail"] == json!(true) {
        return Err(StatusCode::UNPROCESSABLE_ENTITY);
    }
    let saga = body["order"]
        .as_str()
        .ok_or(StatusCode::BAD_REQUEST)?
        .to_owned();
    // A repeat of a call already made (after a crash) answers the first result.
    services
        .effects
        .lock()
        .unwrap()
        .entry(service)
        .or_default()
        .entry(key.clone())
        .or_insert(Effect {
            saga,
            cancelled: false,
        });
    Ok(Json(json!({ "id": key })))
}

async fn cancel(
    service: &'static str,
    services: Arc<Services>,
    id: String,
) -> Result<Json<Value>, StatusCode> {
    jitter().await;
    *services.calls.lock().unwrap() += 1;
    let mut effects = services.effects.lock().unwrap();
    match effects.entry(service).or_default().get_mut(&id) {
        Some(effect) => {
            effect.cancelled = true;
            Ok(Json(json!({ "cancelled": id })))
        }
        None => Err(StatusCode::NOT_FOUND),
    }
}

async fn serve(services: Arc<Services>) -> String {
    let mut router = Router::new();
    for service in ["inventory", "payments", "shipping"] {
        router = router
            .route(
                &format!("/{service}"),
                post(
                    move |State(s): State<Arc<Services>>,
                          headers: HeaderMap,
                          Json(body): Json<Value>| {
                        create(service, s, headers, body)
                    },
                ),
            )
            .route(
                &format!("/{service}/{{id}}"),
                delete(
                    move |State(s): State<Arc<Services>>, Path(id): Path<String>| {
                        cancel(service, s, id)
                    },
                ),
            );
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router.with_state(services))
            .await
            .unwrap()
    });
    format!("http://{address}")
}

fn definition(base: &str) -> String {
    let step = |name: &str, service: &str| {
        format!(
            r#"
[[saga.step]]
name = "{name}"
timeout = "5s"
retry = {{ attempts = 3, backoff = "20ms", max_backoff = "100ms" }}
compensation_retry = {{ attempts = 10, backoff = "20ms", max_backoff = "200ms" }}

[saga.step.action]
method = "POST"
url = "{base}/{service}"
body = {{ order = "{{{{ saga.id }}}}", fail = "{{{{ input.fail }}}}" }}

[saga.step.compensation]
method = "DELETE"
url = "{base}/{service}/{{{{ steps.{name}.output.id }}}}"
"#
        )
    };
    format!(
        "[[saga]]\nname = \"checkout\"\n{}{}{}",
        step("reserve", "inventory"),
        step("charge", "payments"),
        step("ship", "shipping")
    )
}

fn failing(index: usize) -> bool {
    index % 4 == 3
}

on_both_databases!(killed_orchestrator_resumes_every_saga);

async fn killed_orchestrator_resumes_every_saga(db: TestDatabase) {
    let services = Arc::new(Services::default());
    let base = serve(services.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let definition_file = dir.path().join("checkout.toml");
    std::fs::write(&definition_file, definition(&base)).unwrap();

    let mut kills = 0;
    loop {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "child",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DB, db.url())
            .env(CHILD_DEFINITION, &definition_file)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        if kills < 12 {
            let delay = Duration::from_millis(rand::rng().random_range(100..400));
            tokio::time::sleep(delay).await;
            if child.try_wait().unwrap().is_none() {
                kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
                child.wait().unwrap();
                kills += 1;
                continue;
            }
        }
        let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
            .await
            .unwrap();
        assert!(
            status.success(),
            "the last orchestrator finished every saga ({status})"
        );
        break;
    }
    assert!(
        kills >= 3,
        "the orchestrator was killed mid-way {kills} times"
    );

    let log = SagaLog::connect(&db.url()).await.unwrap();
    let effects = services.effects.lock().unwrap().clone();
    for index in 0..SAGAS {
        let id = format!("s-{index}");
        let instance = log
            .instance(&id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{id} was started"));
        let expected = if failing(index) {
            SagaStatus::Compensated
        } else {
            SagaStatus::Completed
        };
        assert_eq!(instance.status, expected, "{id}: {:?}", instance.error);
        for (service, step) in [
            ("inventory", "reserve"),
            ("payments", "charge"),
            ("shipping", "ship"),
        ] {
            let key = format!("{id}:{step}:forward");
            let effect = effects.get(service).and_then(|e| e.get(&key));
            match (failing(index), service) {
                (true, "shipping") => {
                    assert!(effect.is_none(), "{id}: shipping refused, nothing shipped")
                }
                (true, _) => assert!(
                    effect.is_some_and(|e| e.cancelled),
                    "{id}: {service} undone: {effect:?}"
                ),
                (false, _) => assert!(
                    effect.is_some_and(|e| !e.cancelled),
                    "{id}: {service} done once: {effect:?}"
                ),
            }
        }
    }
    for (service, by_key) in &effects {
        for (key, effect) in by_key {
            assert!(
                key.starts_with(&format!("{}:", effect.saga)),
                "{service}: {key} belongs to {}",
                effect.saga
            );
        }
    }
    // Without crashes: 3 calls per completed saga, and 3 forward + 2 compensating calls
    // per failing one. More means calls repeated after a kill, harmlessly.
    let calls = *services.calls.lock().unwrap();
    let failing_sagas = (0..SAGAS).filter(|i| failing(*i)).count();
    assert!(
        calls >= (SAGAS - failing_sagas) * 3 + failing_sagas * 5,
        "{calls} calls"
    );
    eprintln!("{kills} kills, {calls} participant calls");
}

/// The killed process: registers the definition, resumes what the log has unfinished,
/// starts whichever of the sagas are not started yet, and waits for all of them.
#[test]
#[ignore = "a child process of the recovery test"]
fn child() {
    let url = std::env::var(CHILD_DB).expect("run by the recovery test");
    let path = std::env::var(CHILD_DEFINITION).expect("a definition file");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let log = SagaLog::connect(&url).await.unwrap();
        let orchestrator = Orchestrator::new(log, OrchestratorOptions { max_concurrent: 3 });
        let source = std::fs::read_to_string(&path).unwrap();
        for definition in load_definitions(&source, &path).unwrap() {
            orchestrator.register(definition).unwrap();
        }
        orchestrator.recover().await.unwrap();
        for index in 0..SAGAS {
            let input = json!({ "fail": failing(index) });
            orchestrator
                .start_with_id("checkout", &format!("s-{index}"), input)
                .await
                .unwrap();
        }
        for index in 0..SAGAS {
            orchestrator
                .wait(&format!("s-{index}"), Duration::from_secs(120))
                .await
                .unwrap();
        }
    });
}
