//! Active health checks: one task per cluster probes every instance each interval.

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::Full;

use crate::cluster::{Cluster, Instance};
use crate::config::HealthConfig;
use crate::pool::Pool;

/// Probes the cluster's instances until the task is aborted (on the next apply).
pub(crate) async fn run(cluster: Arc<Cluster>, config: HealthConfig, pool: Pool) {
    let mut ticker = tokio::time::interval(config.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let probes = cluster
            .instances
            .iter()
            .map(|instance| probe(instance, &config, &pool));
        futures::future::join_all(probes).await;
    }
}

async fn probe(instance: &Instance, config: &HealthConfig, pool: &Pool) {
    let ok = match Request::builder()
        .method(Method::GET)
        .uri(config.path.as_str())
        .body(Full::new(Bytes::new()))
    {
        Ok(request) => matches!(
            tokio::time::timeout(config.timeout, pool.send(instance.addr, request)).await,
            Ok(Ok(response)) if response.status().is_success()
        ),
        Err(_) => false,
    };
    instance.record_probe(ok, config);
}
