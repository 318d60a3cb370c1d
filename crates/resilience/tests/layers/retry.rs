use std::time::Duration;

use switchyard_resilience::BoxError;
use switchyard_resilience::classify::TransportErrors;
use switchyard_resilience::retry::{Backoff, RetryBudget, RetryLayer, RetryPolicy};
use tower_test::mock;

fn refused() -> BoxError {
    Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused))
}

#[tokio::test(start_paused = true)]
async fn retries_transport_errors_with_backoff_then_succeeds() {
    let policy = RetryPolicy::builder("mock")
        .max_attempts(4)
        .backoff(Backoff::new(
            Duration::from_millis(100),
            Duration::from_secs(1),
        ))
        .classify(TransportErrors)
        .build()
        .unwrap();
    let (mut service, mut handle) =
        mock::spawn_layer::<String, &'static str, _>(RetryLayer::new(policy.clone()));
    assert!(service.poll_ready().is_ready());
    let started = tokio::time::Instant::now();
    let response = tokio::spawn(service.call("GET /stock".to_string()));
    for _ in 0..2 {
        let (request, send) = handle.next_request().await.unwrap();
        assert_eq!(request, "GET /stock", "each attempt gets the same request");
        send.send_error(refused());
    }
    let (_, send) = handle.next_request().await.unwrap();
    send.send_response("42 in stock");
    assert_eq!(response.await.unwrap().unwrap(), "42 in stock");
    // Full jitter: at most 100 ms + 200 ms of backoff.
    assert!(
        started.elapsed() <= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(policy.counts(), ([1, 0, 0, 0], 2));
}

#[tokio::test(start_paused = true)]
async fn application_errors_are_not_retried_and_attempts_are_bounded() {
    let policy = RetryPolicy::builder("bounded")
        .max_attempts(3)
        .classify(TransportErrors)
        .build()
        .unwrap();
    let (mut service, mut handle) = mock::spawn_layer::<(), (), _>(RetryLayer::new(policy.clone()));

    assert!(service.poll_ready().is_ready());
    let response = tokio::spawn(service.call(()));
    let (_, send) = handle.next_request().await.unwrap();
    send.send_error("400 bad request");
    assert_eq!(
        response.await.unwrap().unwrap_err().to_string(),
        "400 bad request"
    );

    assert!(service.poll_ready().is_ready());
    let response = tokio::spawn(service.call(()));
    for _ in 0..3 {
        let (_, send) = handle.next_request().await.unwrap();
        send.send_error(refused());
    }
    assert!(response.await.unwrap().is_err());
    assert!(
        matches!(handle.poll_request(), std::task::Poll::Pending),
        "no fourth attempt"
    );
    // One call failed as not retryable, one exhausted its attempts, after 2 retries.
    assert_eq!(policy.counts(), ([0, 1, 1, 0], 2));
}

#[tokio::test(start_paused = true)]
async fn the_budget_stops_retries_during_an_outage() {
    // One retry per ten calls, nothing for free.
    let budget = RetryBudget {
        ttl: Duration::from_secs(10),
        min_per_second: 0,
        ratio: 0.1,
    };
    let policy = RetryPolicy::builder("budgeted")
        .max_attempts(5)
        .backoff(Backoff::new(Duration::ZERO, Duration::ZERO))
        .budget(budget)
        .build()
        .unwrap();
    let mut attempts = 0;
    for _ in 0..100 {
        let _ = policy
            .call(|| {
                attempts += 1;
                async { Err::<(), _>("down") }
            })
            .await;
    }
    // Without a budget: 500 attempts. With it: 100 first attempts and about 10 retries.
    assert!((100..=111).contains(&attempts), "{attempts} attempts");
    let (calls, retries) = policy.counts();
    assert_eq!(retries, attempts - 100);
    assert!(calls[3] >= 89, "budget exhausted {} times", calls[3]);
}
