//! The demo cluster end to end, in process: sagas complete and compensate on their own,
//! a payments fault opens the gateway's payments breaker, the catalogue split sends
//! users to both sides, and the order history read model fills and catches up. Waits
//! poll for a condition with a generous limit; nothing asserts on elapsed time.

use std::future::Future;
use std::time::Duration;

use switchyard_agent::demo::{self, CATALOG_ROUTE, Demo, DemoOptions, Outage};
use switchyard_control_api::{Command, proto};
use switchyard_resilience::breaker::BreakerState;
use switchyard_saga::{InstanceFilter, Orchestrator, SagaStatus};

const PATIENCE: Duration = Duration::from_secs(40);

/// Polls `check` until it answers `Some`, or fails naming `what`.
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn count(orchestrator: &Orchestrator, status: SagaStatus) -> usize {
    let filter = InstanceFilter {
        statuses: vec![status],
        name: Some(demo::CHECKOUT.to_owned()),
        limit: 1000,
        ..InstanceFilter::default()
    };
    orchestrator.log().instances(&filter).await.unwrap().len()
}

fn payments_breaker_state(demo: &Demo) -> Option<BreakerState> {
    demo.parts
        .registry
        .list()
        .into_iter()
        .find(|snapshot| snapshot.name.starts_with("upstream.payments."))
        .map(|snapshot| snapshot.state)
}

async fn set_payments_fault(demo: &Demo, error_rate: f64) {
    let fault = proto::Fault {
        service: "payments".to_owned(),
        error_rate,
        added_latency_ms: 0,
    };
    let set = demo
        .parts
        .faults
        .set_fault(fault, Command::new("test", "game day"))
        .await
        .unwrap();
    assert_eq!(set.error_rate, error_rate);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn demo_sagas_breakers_split_and_history() {
    let dir = tempfile::tempdir().unwrap();
    let demo = demo::launch(DemoOptions {
        rate_per_second: 20.0,
        data_dir: Some(dir.path().to_owned()),
        // Only the injected fault below may open the payments breaker.
        payments_outage: None,
        ..DemoOptions::default()
    })
    .await
    .unwrap();
    assert_eq!(demo.parts.id, "demo");
    assert_eq!(demo.parts.services.len(), demo::SERVICES.len());
    assert!(demo.parts.faults.faults_enabled());
    assert_eq!(
        demo.parts.faults.faults().await.unwrap().len(),
        demo::SERVICES.len()
    );
    let orchestrator = demo.parts.orchestrator.clone().unwrap();

    // Sagas end both ways with no fault injected: declined cards, unserved addresses.
    eventually("completed and compensated sagas", || async {
        let completed = count(&orchestrator, SagaStatus::Completed).await;
        let compensated = count(&orchestrator, SagaStatus::Compensated).await;
        (completed > 0 && compensated > 0).then_some(())
    })
    .await;
    assert_eq!(payments_breaker_state(&demo), Some(BreakerState::Closed));

    // A payments outage opens the gateway's breaker in front of payments.
    let mut transitions = demo.parts.registry.subscribe();
    set_payments_fault(&demo, 1.0).await;
    eventually("the payments breaker to open", || {
        let mut opened = false;
        while let Ok(transition) = transitions.try_recv() {
            opened |= transition.breaker.starts_with("upstream.payments.")
                && transition.to == BreakerState::Open;
        }
        opened |= payments_breaker_state(&demo) == Some(BreakerState::Open);
        async move { opened.then_some(()) }
    })
    .await;
    set_payments_fault(&demo, 0.0).await;
    // Once payments answers again the breaker probes and closes.
    eventually("the payments breaker to close again", || async {
        (payments_breaker_state(&demo) == Some(BreakerState::Closed)).then_some(())
    })
    .await;

    // The catalogue split: some users on each side, the legacy answers adapted to JSON.
    let gateway = demo.parts.gateway.as_ref().unwrap().gateway().clone();
    let counters = eventually("catalogue traffic on both sides", || async {
        let route = gateway.route(CATALOG_ROUTE).unwrap();
        let counters = route.counters;
        (counters.legacy + counters.new >= 100 && counters.legacy > 0 && counters.new > 0)
            .then_some(counters)
    })
    .await;
    assert_eq!(
        counters.legacy_errors + counters.new_errors,
        0,
        "{counters:?}"
    );
    // About 20 % of users go to the new side; loose bounds, users are few.
    let new_share = counters.new as f64 / (counters.legacy + counters.new) as f64;
    assert!((0.05..0.45).contains(&new_share), "{counters:?}");
    assert_eq!(counters.differing, 0, "the adapter makes both sides agree");

    // The order history: documents for placed orders, outcomes recorded, and the
    // projection reaches the store's head.
    let read_model = demo.history.read_model().clone();
    eventually("finished orders in the history", || async {
        let docs = read_model.list(None, 1000).await.unwrap();
        let finished = |status: &str| docs.iter().any(|(_, doc)| doc["status"] == status);
        (finished("completed") && finished("cancelled")).then_some(())
    })
    .await;
    let head = demo.history.store().head_position().await.unwrap();
    read_model
        .wait_for(head, PATIENCE)
        .await
        .unwrap()
        .expect("the projection catches up with the store");
    let lag = demo.history.lag().await.unwrap();
    assert!(lag.position >= head, "{lag:?}");
    eventually("notifications from the bus", || async {
        (demo.history.notified() > 0).then_some(())
    })
    .await;

    // The query side through the gateway: an order's document by id.
    let (key, _) = read_model.list(None, 1).await.unwrap().remove(0);
    let answer = reqwest::get(format!("http://{}/orders/{key}", demo.gateway))
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let body: serde_json::Value = serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
    assert_eq!(body["order_id"], key.as_str());
}

/// With no operator at all, the scheduled card-processor outage opens the breaker.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_scheduled_payments_outage_opens_the_breaker() {
    let demo = demo::launch(DemoOptions {
        rate_per_second: 10.0,
        payments_outage: Some(Outage {
            first_after: Duration::from_secs(2),
            every: Duration::from_secs(60),
            lasting: Duration::from_secs(8),
        }),
        ..DemoOptions::default()
    })
    .await
    .unwrap();
    let mut transitions = demo.parts.registry.subscribe();
    eventually("the payments breaker to open by itself", || {
        let mut opened = false;
        while let Ok(transition) = transitions.try_recv() {
            opened |= transition.breaker.starts_with("upstream.payments.")
                && transition.to == BreakerState::Open;
        }
        async move { opened.then_some(()) }
    })
    .await;
    // Sagas caught by the outage compensate (the stock is released).
    let orchestrator = demo.parts.orchestrator.clone().unwrap();
    eventually("a saga compensated at charge-card", || async {
        let filter = InstanceFilter {
            statuses: vec![SagaStatus::Compensated],
            limit: 1000,
            ..InstanceFilter::default()
        };
        let instances = orchestrator.log().instances(&filter).await.unwrap();
        instances
            .iter()
            .any(|saga| {
                saga.failed_step.as_deref() == Some("charge-card")
                    && saga
                        .error
                        .as_deref()
                        .is_some_and(|error| !error.contains("declined"))
            })
            .then_some(())
    })
    .await;
}
