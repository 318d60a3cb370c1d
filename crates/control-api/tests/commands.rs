//! Each command changes what the next inventory and the state stream say.

mod support;

use support::{
    Harness, MemoryBackend, breaker, next_breaker_transition, next_change, route, watch,
};
use switchyard_control_api::ClientError;
use switchyard_control_api::proto::{self, state_change::Change};

#[tokio::test]
async fn identity_and_inventory_describe_the_agent() {
    let h = Harness::start(MemoryBackend::new(true)).await;
    let client = h.client().await;
    assert_eq!(
        client.identity().await.expect("identity").agent_id,
        "test-agent"
    );
    let inv = client.inventory().await.expect("inventory");
    assert_eq!(inv.services.len(), 2);
    assert_eq!(breaker(&inv, "payments").state, "closed");
    assert_eq!(inv.saga_definitions[0].steps.len(), 3);
    assert_eq!(route(&inv, "catalogue").new_percent, 10);
    assert!(inv.faults.expect("fault settings").enabled);
    assert!(
        inv.saga_counts
            .iter()
            .any(|c| c.status == "failed" && c.count == 1)
    );
}

#[tokio::test]
async fn breaker_commands_show_in_inventory_and_stream() {
    let h = Harness::start(MemoryBackend::new(true)).await;
    let client = h.client().await;
    let (mut stream, snapshot) = watch(&client).await;
    assert_eq!(breaker(&snapshot, "payments").state, "closed");

    let answer = client
        .trip_breaker("payments", "payments provider down", None)
        .await
        .expect("trip");
    assert_eq!(answer.state, "forced_open");
    let manual = answer.manual.expect("override");
    assert_eq!(
        (manual.by.as_str(), manual.reason.as_str()),
        ("alice", "payments provider down")
    );
    assert_eq!(manual.expires_at_unix_ms, None);

    let t = next_breaker_transition(&mut stream).await;
    assert_eq!(
        (
            t.name.as_str(),
            t.from.as_str(),
            t.to.as_str(),
            t.reason.as_str(),
            t.by.as_str()
        ),
        ("payments", "closed", "forced_open", "manual", "alice")
    );
    let inv = client.inventory().await.expect("inventory");
    assert_eq!(breaker(&inv, "payments").state, "forced_open");

    // Idempotent: tripping again answers the same state and changes nothing else.
    let again = client
        .trip_breaker("payments", "still down", None)
        .await
        .expect("trip");
    assert_eq!(again.state, "forced_open");

    let disabled = client
        .disable_breaker("payments", "let it through", None)
        .await
        .expect("disable");
    assert_eq!(disabled.state, "disabled");
    assert_eq!(next_breaker_transition(&mut stream).await.to, "disabled");

    let released = client
        .release_breaker("payments", "back to auto")
        .await
        .expect("release");
    assert_eq!(released.state, "closed");
    assert!(released.manual.is_none());
    let t = next_breaker_transition(&mut stream).await;
    assert_eq!((t.from.as_str(), t.to.as_str()), ("disabled", "closed"));

    client
        .trip_breaker("inventory", "drill", None)
        .await
        .expect("trip");
    let reset = client
        .reset_breaker("inventory", "drill over")
        .await
        .expect("reset");
    assert_eq!(reset.state, "closed");
    let inv = client.inventory().await.expect("inventory");
    assert_eq!(breaker(&inv, "inventory").state, "closed");
    assert!(breaker(&inv, "inventory").manual.is_none());
}

#[tokio::test]
async fn saga_commands_show_in_inventory_and_stream() {
    let h = Harness::start(MemoryBackend::new(true)).await;
    let client = h.client().await;
    let (mut stream, _) = watch(&client).await;

    let failed = client
        .list_sagas(proto::ListSagasRequest {
            status: "failed".into(),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(
        failed.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        ["s-1"]
    );
    assert_eq!(failed[0].failed_step, "charge");

    assert_eq!(
        client.preview_compensation("s-1").await.expect("preview"),
        ["reserve"]
    );

    let input = serde_json::json!({ "card": "4242" });
    let retried = client
        .retry_saga("s-1", "card fixed", Some(&input))
        .await
        .expect("retry");
    assert_eq!(retried.saga.expect("summary").status, "running");
    let entry = retried.log.last().expect("log entry");
    assert_eq!(
        (entry.kind.as_str(), entry.actor.as_str()),
        ("retry_requested", "alice")
    );
    assert!(entry.data_json.contains("4242"));
    match next_change(&mut stream).await {
        Change::Saga(s) => assert_eq!((s.id.as_str(), s.status.as_str()), ("s-1", "running")),
        other => panic!("expected a saga change, got {other:?}"),
    }

    let compensated = client
        .compensate_saga("s-1", "give up")
        .await
        .expect("compensate");
    assert_eq!(compensated.saga.expect("summary").status, "compensated");
    match next_change(&mut stream).await {
        Change::Saga(s) => assert_eq!(s.status, "compensated"),
        other => panic!("expected a saga change, got {other:?}"),
    }
    let inv = client.inventory().await.expect("inventory");
    assert!(
        inv.saga_counts
            .iter()
            .any(|c| c.status == "compensated" && c.count == 1)
    );
    assert!(!inv.saga_counts.iter().any(|c| c.status == "failed"));

    // Resolving a saga that is not failed is refused, naming why.
    let err = client
        .resolve_saga("s-2", "tidy", "ok")
        .await
        .expect_err("not failed");
    assert!(
        matches!(err, ClientError::FailedPrecondition(ref m) if m.contains("completed")),
        "{err}"
    );

    let detail = client.get_saga("s-1").await.expect("get");
    assert_eq!(detail.steps.len(), 3);
    assert_eq!(detail.log.len(), 2);
}

#[tokio::test]
async fn route_commands_show_in_inventory_and_stream() {
    let h = Harness::start(MemoryBackend::new(true)).await;
    let client = h.client().await;
    let (mut stream, _) = watch(&client).await;

    let r = client
        .set_route_weight("catalogue", 50, "half way")
        .await
        .expect("weight");
    assert_eq!(r.new_percent, 50);
    match next_change(&mut stream).await {
        Change::Route(c) => {
            assert_eq!(c.route.expect("route").new_percent, 50);
            assert_eq!((c.by.as_str(), c.note.as_str()), ("alice", "half way"));
        }
        other => panic!("expected a route change, got {other:?}"),
    }
    let r = client
        .set_shadow("catalogue", 100, "compare all")
        .await
        .expect("shadow");
    assert_eq!(r.shadow_percent, 100);
    let inv = client.inventory().await.expect("inventory");
    assert_eq!(route(&inv, "catalogue").new_percent, 50);
    assert_eq!(route(&inv, "catalogue").shadow_percent, 100);

    let err = client
        .set_route_weight("catalogue", 101, "too much")
        .await
        .expect_err("101 %");
    assert!(matches!(err, ClientError::InvalidArgument(_)), "{err}");
}

#[tokio::test]
async fn faults_show_in_inventory_and_stream() {
    let h = Harness::start(MemoryBackend::new(true)).await;
    let client = h.client().await;
    let (mut stream, _) = watch(&client).await;
    let fault = proto::Fault {
        service: "payments".into(),
        error_rate: 0.9,
        added_latency_ms: 20,
    };
    client
        .set_fault(fault.clone(), "drill")
        .await
        .expect("set fault");
    match next_change(&mut stream).await {
        Change::Fault(c) => assert_eq!(c.fault, Some(fault.clone())),
        other => panic!("expected a fault change, got {other:?}"),
    }
    // The demo breaker reacts to the fault by itself.
    let t = next_breaker_transition(&mut stream).await;
    assert_eq!(
        (t.name.as_str(), t.to.as_str(), t.reason.as_str()),
        ("payments", "open", "threshold")
    );
    let inv = client.inventory().await.expect("inventory");
    assert_eq!(inv.faults.expect("faults").faults, [fault]);

    let err = client
        .set_fault(
            proto::Fault {
                service: "payments".into(),
                error_rate: 1.5,
                added_latency_ms: 0,
            },
            "bad",
        )
        .await
        .expect_err("rate above 1");
    assert!(matches!(err, ClientError::InvalidArgument(_)), "{err}");
}

#[tokio::test]
async fn set_fault_is_refused_when_faults_are_disabled() {
    let h = Harness::start(MemoryBackend::new(false)).await;
    let client = h.client().await;
    let fault = proto::Fault {
        service: "payments".into(),
        error_rate: 0.5,
        added_latency_ms: 0,
    };
    let err = client
        .set_fault(fault, "drill")
        .await
        .expect_err("disabled");
    assert!(
        matches!(err, ClientError::FailedPrecondition(ref m) if m.contains("disabled")),
        "{err}"
    );
    assert_eq!(h.backend.commands(), 0, "the backend must not be asked");
    let inv = client.inventory().await.expect("inventory");
    let settings = inv.faults.expect("faults");
    assert!(!settings.enabled);
    assert!(settings.faults.is_empty());
}

#[tokio::test]
async fn unknown_names_are_not_found_and_named() {
    let h = Harness::start(MemoryBackend::new(true)).await;
    let client = h.client().await;
    let cases = [
        client
            .trip_breaker("ghost-breaker", "why", None)
            .await
            .map(|_| ()),
        client.get_saga("ghost-saga").await.map(|_| ()),
        client
            .retry_saga("ghost-saga", "why", None)
            .await
            .map(|_| ()),
        client.preview_compensation("ghost-saga").await.map(|_| ()),
        client
            .set_route_weight("ghost-route", 5, "why")
            .await
            .map(|_| ()),
        client.set_shadow("ghost-route", 5, "why").await.map(|_| ()),
    ];
    for (result, name) in cases.into_iter().zip([
        "ghost-breaker",
        "ghost-saga",
        "ghost-saga",
        "ghost-saga",
        "ghost-route",
        "ghost-route",
    ]) {
        match result {
            Err(ClientError::NotFound(message)) => {
                assert!(message.contains(name), "{message:?} must name {name}")
            }
            other => panic!("expected NotFound for {name}, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn commands_need_a_reason_and_a_sane_ttl() {
    let h = Harness::start(MemoryBackend::new(true)).await;
    let client = h.client().await;
    let err = client
        .trip_breaker("payments", "  ", None)
        .await
        .expect_err("no reason");
    assert!(
        matches!(err, ClientError::InvalidArgument(ref m) if m.contains("reason")),
        "{err}"
    );
    let mut raw = client.raw();
    let status = raw
        .trip_breaker(proto::BreakerCommand {
            name: "payments".into(),
            reason: "why".into(),
            ttl_seconds: Some(0),
        })
        .await
        .expect_err("zero ttl");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert_eq!(h.backend.commands(), 0);
}
