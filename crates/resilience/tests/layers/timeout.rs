use std::time::Duration;

use switchyard_resilience::error::Elapsed;
use switchyard_resilience::timeout::TimeoutLayer;
use tower_test::mock;

use crate::downcast;

#[tokio::test(start_paused = true)]
async fn slow_calls_fail_with_elapsed() {
    let (mut service, mut handle) =
        mock::spawn_layer::<(), &'static str, _>(TimeoutLayer::new(Duration::from_secs(1)));

    assert!(service.poll_ready().is_ready());
    let fast = service.call(());
    let (_, send) = handle.next_request().await.unwrap();
    tokio::time::advance(Duration::from_millis(999)).await;
    send.send_response("in time");
    assert_eq!(fast.await.unwrap(), "in time");

    assert!(service.poll_ready().is_ready());
    let slow = service.call(());
    let (_, _never_answered) = handle.next_request().await.unwrap();
    let started = tokio::time::Instant::now();
    let err = slow.await.unwrap_err();
    assert_eq!(downcast::<Elapsed>(&err).after, Duration::from_secs(1));
    assert_eq!(started.elapsed(), Duration::from_secs(1));
    assert!(switchyard_resilience::classify::is_timeout(&*err));
}
