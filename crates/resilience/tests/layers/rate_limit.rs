use std::time::Duration;

use switchyard_resilience::error::RateLimited;
use switchyard_resilience::rate_limit::{LimitMode, Quota, RateLimitLayer, RateLimiter};
use tower::{Service, ServiceBuilder, ServiceExt};

use crate::downcast;

#[tokio::test(start_paused = true)]
async fn limits_per_key_and_refills_with_time() {
    let limiter = RateLimiter::builder("per-tenant", Quota::per_second(2))
        .build::<String>()
        .unwrap();
    let layer = RateLimitLayer::keyed(limiter.clone(), |(tenant, _): &(String, u32)| {
        tenant.clone()
    });
    let mut service = ServiceBuilder::new()
        .layer(layer)
        .service_fn(|(_, n): (String, u32)| async move { Ok::<_, std::io::Error>(n) });

    let mut call = async |tenant: &str, n: u32| {
        service
            .ready()
            .await
            .unwrap()
            .call((tenant.to_string(), n))
            .await
    };
    assert_eq!(call("acme", 1).await.unwrap(), 1);
    assert_eq!(call("acme", 2).await.unwrap(), 2);
    let err = call("acme", 3).await.unwrap_err();
    let limited = downcast::<RateLimited>(&err);
    assert_eq!(
        (limited.limiter.as_ref(), limited.retry_after),
        ("per-tenant", Duration::from_millis(500))
    );
    assert_eq!(
        call("globex", 4).await.unwrap(),
        4,
        "another tenant has its own quota"
    );
    tokio::time::advance(Duration::from_millis(500)).await;
    assert_eq!(call("acme", 5).await.unwrap(), 5);

    limiter.set_mode(LimitMode::ObserveOnly);
    for n in 6..10 {
        assert_eq!(
            call("acme", n).await.unwrap(),
            n,
            "observe-only never rejects"
        );
    }
    assert_eq!(limiter.counts(), (4, 1, 4));
}

#[tokio::test(start_paused = true)]
async fn a_global_limit_covers_every_request() {
    let limiter = RateLimiter::new("all", Quota::new(1, Duration::from_secs(10))).unwrap();
    let mut service = ServiceBuilder::new()
        .layer(RateLimitLayer::new(limiter))
        .service_fn(|()| async { Ok::<_, std::io::Error>("ok") });
    assert!(service.ready().await.unwrap().call(()).await.is_ok());
    assert!(service.ready().await.unwrap().call(()).await.is_err());
}
