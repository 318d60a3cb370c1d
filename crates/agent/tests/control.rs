//! The control API over a real agent: each command changes what the next inventory,
//! the state stream, the parts themselves and the audit log say.

mod support;

use std::time::Duration;

use futures::{Stream, StreamExt as _};
use serde_json::json;
use support::{CHECKOUT, PAYOUT, ROUTE, TOKEN, eventually};
use switchyard_agent::{AgentBackend, AgentParts};
use switchyard_control_api::proto::{self, state_change::Change};
use switchyard_control_api::{ClientError, ControlClient};
use switchyard_resilience::breaker::BreakerState;
use switchyard_saga::SagaStatus;
use tonic::Code;

/// Reads `stream` until `pick` accepts a change, for up to 10 s.
async fn next_change<T>(
    stream: &mut (impl Stream<Item = Result<proto::StateChange, ClientError>> + Unpin),
    mut pick: impl FnMut(Change) -> Option<T>,
) -> T {
    let wait = async {
        while let Some(item) = stream.next().await {
            let change = item.expect("stream item").change.expect("change set");
            if let Some(found) = pick(change) {
                return found;
            }
        }
        panic!("the state stream ended");
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .expect("the change arrived in time")
}

fn transition_of(name: &'static str) -> impl FnMut(Change) -> Option<proto::BreakerTransition> {
    move |change| match change {
        Change::Breaker(t) if t.name == name => Some(t),
        _ => None,
    }
}

async fn breaker(client: &ControlClient, name: &str) -> proto::Breaker {
    client
        .inventory()
        .await
        .expect("inventory")
        .breakers
        .into_iter()
        .find(|b| b.name == name)
        .expect("breaker listed")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trip_reset_and_the_state_stream() {
    let agent = support::start().await;
    let client = &agent.client;
    let mut watch = Box::pin(client.watch().await.expect("watch"));
    let first = next_change(&mut watch, |c| match c {
        Change::Snapshot(inventory) => Some(inventory),
        _ => None,
    })
    .await;
    assert_eq!(first.identity.expect("identity").agent_id, "test-agent");

    let tripped = client
        .trip_breaker("payments", "failing over", None)
        .await
        .expect("trip");
    assert_eq!(tripped.state, "forced_open");
    let manual = tripped.manual.expect("override");
    assert_eq!(
        (manual.by.as_str(), manual.reason.as_str()),
        ("console", "failing over")
    );

    let seen = breaker(client, "payments").await;
    assert_eq!(seen.state, "forced_open");
    assert_eq!(seen.automatic_state, "closed");
    assert_eq!(seen.service, "payments");
    assert_eq!(
        agent
            .parts
            .registry
            .snapshot("payments")
            .expect("breaker")
            .state,
        BreakerState::ForcedOpen
    );

    let t = next_change(&mut watch, transition_of("payments")).await;
    assert_eq!(
        (t.from.as_str(), t.to.as_str(), t.reason.as_str()),
        ("closed", "forced_open", "manual")
    );
    assert_eq!(
        (t.by.as_str(), t.note.as_str()),
        ("console", "failing over")
    );

    let reset = client
        .reset_breaker("payments", "recovered")
        .await
        .expect("reset");
    assert_eq!(reset.state, "closed");
    assert!(reset.manual.is_none());
    let t = next_change(&mut watch, transition_of("payments")).await;
    assert_eq!((t.from.as_str(), t.to.as_str()), ("forced_open", "closed"));
    assert_eq!(breaker(client, "payments").await.state, "closed");

    // Disable and release go the same way.
    let disabled = client
        .disable_breaker("inventory", "noisy", None)
        .await
        .expect("disable");
    assert_eq!(disabled.state, "disabled");
    let released = client
        .release_breaker("inventory", "quiet again")
        .await
        .expect("release");
    assert_eq!(released.state, "closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trip_with_a_ttl_expires_by_itself() {
    let agent = support::start().await;
    let client = &agent.client;
    let mut watch = Box::pin(client.watch().await.expect("watch"));
    let tripped = client
        .trip_breaker("payments", "drill", Some(Duration::from_secs(1)))
        .await
        .expect("trip");
    assert!(
        tripped
            .manual
            .expect("override")
            .expires_at_unix_ms
            .is_some()
    );
    let expired = next_change(&mut watch, |c| match c {
        Change::Breaker(t) if t.name == "payments" && t.reason == "expired" => Some(t),
        _ => None,
    })
    .await;
    assert_eq!(
        (expired.from.as_str(), expired.to.as_str()),
        ("forced_open", "closed")
    );
    assert_eq!(breaker(client, "payments").await.state, "closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_names_are_not_found_and_named() {
    let agent = support::start().await;
    let client = &agent.client;
    let err = client
        .trip_breaker("billing", "typo", None)
        .await
        .expect_err("unknown breaker");
    assert_eq!(err.code(), Some(Code::NotFound));
    assert!(err.to_string().contains("breaker \"billing\""), "{err}");

    let err = client
        .get_saga("no-such-saga")
        .await
        .expect_err("unknown saga");
    assert_eq!(err.code(), Some(Code::NotFound));
    assert!(err.to_string().contains("no-such-saga"), "{err}");

    let err = client
        .set_route_weight("nowhere", 50, "typo")
        .await
        .expect_err("unknown route");
    assert_eq!(err.code(), Some(Code::NotFound));
    assert!(err.to_string().contains("route \"nowhere\""), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_token_changes_nothing() {
    let agent = support::start().await;
    let intruder = agent.client_with("not-the-token").await;
    let err = intruder
        .trip_breaker("payments", "mischief", None)
        .await
        .expect_err("refused");
    assert_eq!(err.code(), Some(Code::Unauthenticated));
    let err = intruder
        .set_route_weight(ROUTE, 100, "mischief")
        .await
        .expect_err("refused");
    assert_eq!(err.code(), Some(Code::Unauthenticated));

    assert_eq!(
        agent
            .parts
            .registry
            .snapshot("payments")
            .expect("breaker")
            .state,
        BreakerState::Closed
    );
    let gateway = agent.parts.gateway.as_ref().expect("gateway").gateway();
    assert_eq!(gateway.route(ROUTE).expect("route").weight, Some(10));
    let entries = agent.client.audit(0).await.expect("audit");
    assert!(
        entries
            .iter()
            .filter(|e| e.caller == "unknown" && e.outcome == "unauthenticated")
            .count()
            >= 2,
        "{entries:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sagas_list_get_retry_and_resolve() {
    let agent = support::start().await;
    let client = &agent.client;
    let orchestrator = &agent.orchestrator;
    let mut watch = Box::pin(client.watch().await.expect("watch"));

    let compensated = orchestrator
        .run(CHECKOUT, json!({ "order": 1 }), Duration::from_secs(10))
        .await
        .expect("checkout ends");
    assert_eq!(compensated.status, SagaStatus::Compensated);
    let to_retry = orchestrator
        .run(PAYOUT, json!({ "amount": 5 }), Duration::from_secs(10))
        .await
        .expect("payout holds");
    assert_eq!(to_retry.status, SagaStatus::Failed);
    let to_resolve = orchestrator
        .run(PAYOUT, json!({ "amount": 7 }), Duration::from_secs(10))
        .await
        .expect("payout holds");

    let inventory = client.inventory().await.expect("inventory");
    let names: Vec<&str> = inventory
        .saga_definitions
        .iter()
        .map(|d| d.name.as_str())
        .collect();
    assert_eq!(names, [CHECKOUT, PAYOUT]);
    let count = |name: &str, status: &str| {
        inventory
            .saga_counts
            .iter()
            .find(|c| c.name == name && c.status == status)
            .map_or(0, |c| c.count)
    };
    assert_eq!(
        (count(CHECKOUT, "compensated"), count(PAYOUT, "failed")),
        (1, 2)
    );

    let failed = client
        .list_sagas(proto::ListSagasRequest {
            status: "failed".into(),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(failed.len(), 2);
    assert!(
        failed
            .iter()
            .all(|s| s.name == PAYOUT && s.failed_step == "transfer")
    );

    let detail = client.get_saga(&compensated.id).await.expect("get");
    let summary = detail.saga.expect("summary");
    assert_eq!(
        (summary.status.as_str(), summary.failed_step.as_str()),
        ("compensated", "charge")
    );
    let steps: Vec<(&str, &str, &str)> = detail
        .steps
        .iter()
        .map(|s| (s.name.as_str(), s.forward.as_str(), s.compensation.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            ("reserve", "succeeded", "succeeded"),
            ("charge", "failed", "pending")
        ]
    );
    assert!(detail.log.iter().any(|e| e.kind == "compensated"));
    assert_eq!(
        client
            .preview_compensation(&to_retry.id)
            .await
            .expect("preview"),
        ["debit"]
    );

    // Retry once the participant recovers: the saga completes.
    agent
        .payout_fails
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let retried = client
        .retry_saga(&to_retry.id, "bank is back", None)
        .await
        .expect("retry");
    assert!(
        retried
            .log
            .iter()
            .any(|e| e.kind == "retry_requested" && e.actor == "console")
    );
    let done = orchestrator
        .wait(&to_retry.id, Duration::from_secs(10))
        .await
        .expect("retried saga ends");
    assert_eq!(done.status, SagaStatus::Completed);
    next_change(&mut watch, |c| match c {
        Change::Saga(s) if s.id == to_retry.id && s.status == "completed" => Some(()),
        _ => None,
    })
    .await;

    let resolved = client
        .resolve_saga(
            &to_resolve.id,
            "paid by hand",
            "refunded manually, ticket 42",
        )
        .await
        .expect("resolve");
    assert_eq!(resolved.saga.expect("summary").status, "resolved");
    next_change(&mut watch, |c| match c {
        Change::Saga(s) if s.id == to_resolve.id && s.status == "resolved" => Some(()),
        _ => None,
    })
    .await;

    // Resolving again is refused: it is no longer failed.
    let err = client
        .resolve_saga(&to_resolve.id, "again", "again")
        .await
        .expect_err("not failed any more");
    assert_eq!(err.code(), Some(Code::FailedPrecondition));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_weights_reach_the_gateway() {
    let agent = support::start().await;
    let client = &agent.client;
    let mut watch = Box::pin(client.watch().await.expect("watch"));
    let route = client
        .set_route_weight(ROUTE, 60, "ramp up")
        .await
        .expect("set weight");
    assert_eq!(route.new_percent, 60);
    assert_eq!(
        (route.primary_target.as_str(), route.new_target.as_str()),
        ("monolith", "catalog-v2")
    );

    let listed = client.inventory().await.expect("inventory").routes;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].new_percent, 60);
    let gateway = agent.parts.gateway.as_ref().expect("gateway").gateway();
    assert_eq!(gateway.route(ROUTE).expect("route").weight, Some(60));

    let change = next_change(&mut watch, |c| match c {
        Change::Route(r) => Some(r),
        _ => None,
    })
    .await;
    assert_eq!(change.route.expect("route").new_percent, 60);
    assert_eq!(
        (change.by.as_str(), change.note.as_str()),
        ("console", "ramp up")
    );

    let shadowed = client
        .set_shadow(ROUTE, 25, "compare")
        .await
        .expect("shadow");
    assert_eq!(shadowed.shadow_percent, 25);
    assert_eq!(gateway.route(ROUTE).expect("route").shadow, Some(25));

    // The gateway's own journal names the caller of both changes.
    let journal = gateway.journal();
    let by_api: Vec<(&str, &str)> = journal
        .iter()
        .rev()
        .take(2)
        .map(|e| (e.who.as_str(), e.diff.as_str()))
        .collect();
    assert_eq!(by_api.len(), 2, "journal: {journal:?}");
    assert_eq!(by_api[0].0, "console", "journal: {journal:?}");
    assert!(by_api[0].1.contains("shadow"), "journal: {journal:?}");
    assert_eq!(by_api[1].0, "console", "journal: {journal:?}");
    assert!(by_api[1].1.contains("weight"), "journal: {journal:?}");

    // A change the API did not make (here: straight on the gateway) is reported too.
    gateway.set_weight(ROUTE, 5).expect("set on the gateway");
    let change = next_change(&mut watch, |c| match c {
        Change::Route(r) if r.route.as_ref().is_some_and(|r| r.new_percent == 5) => Some(r),
        _ => None,
    })
    .await;
    assert!(change.by.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_are_audited_in_memory_and_on_file() {
    let agent = support::start().await;
    let client = &agent.client;
    client
        .trip_breaker("payments", "drill", None)
        .await
        .expect("trip");
    let _ = client.trip_breaker("billing", "typo", None).await;
    client
        .set_route_weight(ROUTE, 30, "ramp")
        .await
        .expect("weight");

    let entries = client.audit(0).await.expect("audit");
    let row = |command: &str, target: &str| {
        entries
            .iter()
            .find(|e| e.command == command && e.target == target)
            .unwrap_or_else(|| panic!("no {command} {target} in {entries:?}"))
    };
    let trip = row("TripBreaker", "payments");
    assert_eq!(
        (
            trip.caller.as_str(),
            trip.reason.as_str(),
            trip.outcome.as_str()
        ),
        ("console", "drill", "ok")
    );
    let typo = row("TripBreaker", "billing");
    assert_eq!(typo.outcome, "not_found");
    assert!(typo.detail.contains("billing"));
    assert_eq!(row("SetRouteWeight", ROUTE).outcome, "ok");

    let path = agent.audit_path();
    let lines = eventually("audit lines on file", || {
        let path = path.clone();
        async move {
            let text = std::fs::read_to_string(&path).ok()?;
            (text.lines().count() >= 3).then_some(text)
        }
    })
    .await;
    assert!(lines.contains("\"TripBreaker\""));
    assert!(
        !lines.contains(TOKEN),
        "the token never reaches the audit file"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_and_identity() {
    let agent = support::start().await;
    let identity = agent.client.identity().await.expect("identity");
    assert_eq!(identity.agent_id, "test-agent");
    assert_eq!(identity.version, env!("CARGO_PKG_VERSION"));
    assert!(identity.started_at_unix_ms > 0);
    let inventory = agent.client.inventory().await.expect("inventory");
    let kinds: Vec<(&str, &str)> = inventory
        .services
        .iter()
        .map(|s| (s.name.as_str(), s.kind.as_str()))
        .collect();
    assert!(kinds.contains(&("payments", "managed")), "{kinds:?}");
    assert!(kinds.contains(&("monolith", "upstream")), "{kinds:?}");
    // The gateway's instance breakers sit in the same registry.
    assert!(
        inventory
            .breakers
            .iter()
            .any(|b| b.name.starts_with("upstream.catalog-v2.") && b.service == "catalog-v2"),
        "{:?}",
        inventory.breakers
    );
    assert!(!inventory.faults.expect("fault settings").enabled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_journal_lists_and_reverts_gateway_changes() {
    let agent = support::start().await;
    let client = &agent.client;
    let gateway = agent.parts.gateway.as_ref().expect("gateway").gateway();
    let mut watch = Box::pin(client.watch().await.expect("watch"));

    client
        .set_route_weight(ROUTE, 60, "ramp up")
        .await
        .expect("set weight");
    let journal = client.journal(0, 0).await.expect("journal");
    let change = journal.last().expect("an entry").clone();
    assert_eq!(
        (
            change.who.as_str(),
            change.source.as_str(),
            change.diff.as_str()
        ),
        ("console", "api", "route catalog weight 10 → 60\n")
    );
    assert!(change.at_unix_ms > 0);
    // The stream announces it, whoever made it.
    let announced = next_change(&mut watch, |c| match c {
        Change::Config(c) => c.entry,
        _ => None,
    })
    .await;
    assert_eq!(announced, change);

    let revert = client
        .revert_journal(change.seq, "60 was too much")
        .await
        .expect("revert");
    assert_eq!(
        (revert.seq, revert.reverts_seq, revert.who.as_str()),
        (change.seq + 1, change.seq, "console")
    );
    assert_eq!(revert.diff, "route catalog weight 60 → 10\n");
    assert_eq!(gateway.route(ROUTE).expect("route").weight, Some(10));
    let listed = client.inventory().await.expect("inventory").routes;
    assert_eq!(listed[0].new_percent, 10);
    let announced = next_change(&mut watch, |c| match c {
        Change::Config(c) => c.entry.filter(|e| e.reverts_seq > 0),
        _ => None,
    })
    .await;
    assert_eq!(announced, revert);

    let err = client
        .revert_journal(999, "typo")
        .await
        .expect_err("unknown entry");
    assert_eq!(err.code(), Some(Code::NotFound));
    assert!(err.to_string().contains("#999"), "{err}");
    let err = client
        .revert_journal(1, "before the beginning")
        .await
        .expect_err("the first configuration");
    assert_eq!(err.code(), Some(Code::FailedPrecondition));
    let audited: Vec<(String, String)> = agent
        .audit
        .recent(0)
        .into_iter()
        .filter(|e| e.command == "RevertJournal")
        .map(|e| (e.reason.clone(), e.outcome.clone()))
        .collect();
    assert_eq!(
        audited,
        [
            ("60 was too much".to_owned(), "ok".to_owned()),
            ("typo".to_owned(), "not_found".to_owned()),
            (
                "before the beginning".to_owned(),
                "failed_precondition".to_owned()
            ),
        ]
    );
}

#[tokio::test]
async fn without_a_gateway_there_is_no_journal() {
    use switchyard_control_api::{BackendError, Command, JournalControl};
    let parts = AgentParts {
        id: "bare".to_owned(),
        services: Vec::new(),
        registry: switchyard_resilience::breaker::Registry::new(),
        orchestrator: None,
        gateway: None,
        sidecar: None,
        faults: std::sync::Arc::new(switchyard_agent::faults::NoFaults),
    };
    let backend = AgentBackend::new(&parts);
    assert!(matches!(
        backend.journal().await,
        Err(BackendError::NotAllowed(_))
    ));
    assert!(matches!(
        backend
            .revert_journal(1, Command::new("console", "why"))
            .await,
        Err(BackendError::NotAllowed(_))
    ));
}
