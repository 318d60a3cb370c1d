use std::task::Poll;

use switchyard_resilience::BoxError;
use switchyard_resilience::breaker::{Breaker, BreakerConfig, BreakerState, CircuitBreakerLayer};
use switchyard_resilience::error::BreakerOpen;
use tower_test::mock;

use crate::downcast;

/// A status code is the response; 5xx is a failure.
fn server_error(result: &Result<u16, BoxError>) -> bool {
    !matches!(result, Ok(status) if *status < 500)
}

#[tokio::test]
async fn opens_on_classified_failures_and_sheds_without_calling_inner() {
    let config = BreakerConfig::default().count_window(4).minimum_calls(4);
    let breaker = Breaker::new("mocked", config).unwrap();
    let layer = CircuitBreakerLayer::new(breaker.clone())
        .classify(server_error as fn(&Result<u16, BoxError>) -> bool);
    let (mut service, mut handle) = mock::spawn_layer::<&'static str, u16, _>(layer);

    for status in [200, 503, 404, 500] {
        assert!(service.poll_ready().is_ready());
        let response = service.call("GET /");
        let (request, send) = handle.next_request().await.unwrap();
        assert_eq!(request, "GET /");
        send.send_response(status);
        assert_eq!(response.await.unwrap(), status);
    }
    assert_eq!(breaker.state(), BreakerState::Open, "2 of 4 were 5xx");

    assert!(service.poll_ready().is_ready());
    let err = service.call("GET /").await.unwrap_err();
    let open = downcast::<BreakerOpen>(&err);
    assert_eq!(
        (open.breaker.as_ref(), open.state),
        ("mocked", BreakerState::Open)
    );
    assert!(
        matches!(handle.poll_request(), Poll::Pending),
        "the inner service never saw it"
    );
}

#[tokio::test]
async fn inner_errors_pass_through_boxed_and_count() {
    let breaker = Breaker::new("errors", BreakerConfig::default()).unwrap();
    let (mut service, mut handle) =
        mock::spawn_layer::<(), (), _>(CircuitBreakerLayer::new(breaker.clone()));
    assert!(service.poll_ready().is_ready());
    let response = service.call(());
    let (_, send) = handle.next_request().await.unwrap();
    send.send_error("upstream exploded");
    assert_eq!(response.await.unwrap_err().to_string(), "upstream exploded");
    assert_eq!(breaker.snapshot().totals.failure, 1);
}
