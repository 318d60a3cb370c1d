use switchyard_resilience::bulkhead::{Bulkhead, BulkheadLayer};
use switchyard_resilience::error::BulkheadFull;
use tower_test::mock;

use crate::downcast;

#[tokio::test]
async fn rejects_past_its_bound_instead_of_queueing() {
    let bulkhead = Bulkhead::new("db", 2).unwrap();
    let (mut service, mut handle) =
        mock::spawn_layer::<u32, u32, _>(BulkheadLayer::new(bulkhead.clone()));

    assert!(service.poll_ready().is_ready());
    let first = service.call(1);
    assert!(service.poll_ready().is_ready());
    let second = service.call(2);
    assert_eq!(bulkhead.in_flight(), 2);

    assert!(
        service.poll_ready().is_ready(),
        "always ready: it rejects instead of waiting"
    );
    let err = service.call(3).await.unwrap_err();
    let full = downcast::<BulkheadFull>(&err);
    assert_eq!((full.bulkhead.as_ref(), full.max_concurrent), ("db", 2));

    let (n, send) = handle.next_request().await.unwrap();
    send.send_response(n * 10);
    assert_eq!(first.await.unwrap(), 10);
    assert_eq!(
        bulkhead.in_flight(),
        1,
        "the place is given back when the call ends"
    );

    assert!(service.poll_ready().is_ready());
    let fourth = service.call(4);
    for _ in 0..2 {
        let (n, send) = handle.next_request().await.unwrap();
        send.send_response(n * 10);
    }
    assert_eq!((second.await.unwrap(), fourth.await.unwrap()), (20, 40));
    assert_eq!(bulkhead.in_flight(), 0);
}

#[tokio::test]
async fn a_dropped_call_leaves_the_bulkhead() {
    let bulkhead = Bulkhead::new("drop", 1).unwrap();
    let (mut service, _handle) =
        mock::spawn_layer::<(), (), _>(BulkheadLayer::new(bulkhead.clone()));
    assert!(service.poll_ready().is_ready());
    let pending = service.call(());
    assert_eq!(bulkhead.in_flight(), 1);
    drop(pending);
    assert_eq!(bulkhead.in_flight(), 0);
}
