//! A real agent for the tests: a breaker registry, an orchestrator on a SQLite file, a
//! gateway in front of two axum upstreams, served by the real control server on
//! 127.0.0.1:0 and reached with the real client.

#![allow(dead_code)] // each test binary uses its own share of the helpers

pub(crate) mod process;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::json;
use switchyard_agent::faults::NoFaults;
use switchyard_agent::{AgentBackend, AgentParts};
use switchyard_control_api::{AuditLog, AuthConfig, ControlClient, ControlServer};
use switchyard_gateway::Gateway;
use switchyard_resilience::breaker::{BreakerConfig, Registry};
use switchyard_saga::{
    OnStepFailure, Orchestrator, OrchestratorOptions, SagaDefinition, SagaLog, StepDefinition,
    StepError, action_fn,
};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub(crate) const TOKEN: &str = "test-token-0123456789";
/// A saga whose second step is refused: it compensates the first.
pub(crate) const CHECKOUT: &str = "checkout";
/// A saga that holds at its failing step for an operator.
pub(crate) const PAYOUT: &str = "payout";
/// The split route of the test gateway.
pub(crate) const ROUTE: &str = "catalog";

pub(crate) struct TestAgent {
    pub(crate) client: ControlClient,
    pub(crate) control: SocketAddr,
    pub(crate) parts: AgentParts,
    pub(crate) orchestrator: Orchestrator,
    pub(crate) audit: Arc<AuditLog>,
    /// While set, the payout's `transfer` step fails.
    pub(crate) payout_fails: Arc<AtomicBool>,
    stop: Option<oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for TestAgent {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// An axum server answering every request with `name`.
pub(crate) async fn upstream(name: &'static str) -> SocketAddr {
    let app = axum::Router::new().fallback(move || async move { name });
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind upstream");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

fn definitions(payout_fails: Arc<AtomicBool>) -> Vec<SagaDefinition> {
    let ok = || action_fn(|_| async { Ok(json!({ "ok": true })) });
    let checkout = SagaDefinition::builder(CHECKOUT)
        .step(StepDefinition::new("reserve", ok()).compensate_with(ok()))
        .step(StepDefinition::new(
            "charge",
            action_fn(|_| async { Err(StepError::permanent("card declined")) }),
        ))
        .build()
        .expect("checkout definition");
    let payout = SagaDefinition::builder(PAYOUT)
        .step(StepDefinition::new("debit", ok()).compensate_with(ok()))
        .step(StepDefinition::new(
            "transfer",
            action_fn(move |_| {
                let fails = payout_fails.load(Ordering::SeqCst);
                async move {
                    if fails {
                        Err(StepError::permanent("bank refused"))
                    } else {
                        Ok(json!({ "sent": true }))
                    }
                }
            }),
        ))
        .on_step_failure(OnStepFailure::Hold)
        .build()
        .expect("payout definition");
    vec![checkout, payout]
}

/// Starts the agent and connects a client with the good token.
pub(crate) async fn start() -> TestAgent {
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = Registry::new();
    registry
        .breaker("payments", BreakerConfig::default())
        .expect("breaker");
    registry
        .breaker("inventory", BreakerConfig::default())
        .expect("breaker");

    let (legacy, new) = (upstream("legacy").await, upstream("new").await);
    let gateway_toml = format!(
        r#"
listeners = ["127.0.0.1:0"]
[[cluster]]
name = "monolith"
instances = ["{legacy}"]
[[cluster]]
name = "catalog-v2"
instances = ["{new}"]
[[route]]
name = "{ROUTE}"
path_prefix = "/catalog"
[route.split]
legacy = "monolith"
new = "catalog-v2"
weight = 10
"#
    );
    let config = switchyard_gateway::Config::from_toml(&gateway_toml).expect("gateway config");
    let gateway = Gateway::with_registry(config, registry.clone())
        .expect("gateway")
        .serve_on(&["127.0.0.1:0".to_owned()])
        .await
        .expect("gateway listens");

    let log = SagaLog::connect(&dir.path().join("sagas.db").display().to_string())
        .await
        .expect("saga log");
    let orchestrator = Orchestrator::new(log, OrchestratorOptions::default());
    let payout_fails = Arc::new(AtomicBool::new(true));
    for definition in definitions(payout_fails.clone()) {
        orchestrator.register(definition).expect("register");
    }
    orchestrator.recover().await.expect("recover");

    let parts = AgentParts {
        id: "test-agent".to_owned(),
        services: vec!["payments".to_owned()],
        registry,
        orchestrator: Some(orchestrator.clone()),
        gateway: Some(gateway),
        sidecar: None,
        faults: Arc::new(NoFaults),
    };
    let backend = Arc::new(AgentBackend::new(&parts));
    let audit =
        Arc::new(AuditLog::with_file(100, &dir.path().join("audit.jsonl")).expect("audit file"));
    let server = ControlServer::new(backend, AuthConfig::new().token("console", TOKEN))
        .with_audit(audit.clone());
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind control");
    let control = listener.local_addr().expect("addr");
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(server.serve(listener, None, async {
        let _ = stopped.await;
    }));
    let client = ControlClient::connect(&format!("http://{control}"), TOKEN, None)
        .await
        .expect("client connects");
    TestAgent {
        client,
        control,
        parts,
        orchestrator,
        audit,
        payout_fails,
        stop: Some(stop),
        _dir: dir,
    }
}

impl TestAgent {
    /// A client presenting `token`.
    pub(crate) async fn client_with(&self, token: &str) -> ControlClient {
        ControlClient::connect(&format!("http://{}", self.control), token, None)
            .await
            .expect("client connects")
    }

    pub(crate) fn audit_path(&self) -> std::path::PathBuf {
        self._dir.path().join("audit.jsonl")
    }
}

/// Polls `check` until it returns `Some`, for up to 10 s.
#[track_caller]
pub(crate) fn eventually<T, F, Fut>(what: &'static str, mut check: F) -> impl Future<Output = T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let caller = std::panic::Location::caller();
    async move {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(value) = check().await {
                return value;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{caller}: timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
