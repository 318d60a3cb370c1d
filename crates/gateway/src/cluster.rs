//! Upstream clusters and their instances: each instance has a circuit breaker (passive
//! ejection), a health flag (active checks) and a count of requests in flight.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

use switchyard_resilience::breaker::{Breaker, BreakerConfig};

use crate::config::{BalancerKind, BreakerSettings, ClusterConfig, HealthConfig};

/// The breaker name of an instance, as the registry and the control API know it.
pub fn breaker_name(cluster: &str, address: &SocketAddr) -> String {
    switchyard_conventions::breaker::upstream_breaker_name(cluster, address)
}

pub(crate) fn breaker_config(settings: &BreakerSettings) -> BreakerConfig {
    BreakerConfig::default()
        .count_window(settings.window)
        .failure_rate_threshold(settings.failure_rate)
        .minimum_calls(settings.minimum_calls)
        .wait_in_open(settings.open_for)
}

/// One upstream instance.
#[derive(Debug)]
pub(crate) struct Instance {
    pub(crate) addr: SocketAddr,
    pub(crate) breaker: Breaker,
    healthy: AtomicBool,
    outstanding: AtomicUsize,
    failed_probes: AtomicU32,
    good_probes: AtomicU32,
}

impl Instance {
    pub(crate) fn new(addr: SocketAddr, breaker: Breaker) -> Self {
        Instance {
            addr,
            breaker,
            healthy: AtomicBool::new(true),
            outstanding: AtomicUsize::new(0),
            failed_probes: AtomicU32::new(0),
            good_probes: AtomicU32::new(0),
        }
    }

    pub(crate) fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    pub(crate) fn outstanding(&self) -> usize {
        self.outstanding.load(Ordering::Relaxed)
    }

    /// Counts a request in flight until the guard drops.
    pub(crate) fn start(self: &Arc<Self>) -> InFlight {
        self.outstanding.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }

    /// Records one health probe; flips the flag after enough of the same in a row.
    pub(crate) fn record_probe(&self, ok: bool, config: &HealthConfig) {
        if ok {
            self.failed_probes.store(0, Ordering::Relaxed);
            let good = self.good_probes.fetch_add(1, Ordering::Relaxed) + 1;
            if good >= config.healthy_after && !self.is_healthy() {
                tracing::info!(instance = %self.addr, "upstream healthy again");
                self.healthy.store(true, Ordering::Relaxed);
            }
        } else {
            self.good_probes.store(0, Ordering::Relaxed);
            let failed = self.failed_probes.fetch_add(1, Ordering::Relaxed) + 1;
            if failed >= config.unhealthy_after && self.is_healthy() {
                tracing::warn!(instance = %self.addr, "upstream unhealthy");
                self.healthy.store(false, Ordering::Relaxed);
            }
        }
    }
}

/// A request in flight on an instance (for least-outstanding balancing).
#[derive(Debug)]
pub(crate) struct InFlight(Arc<Instance>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.outstanding.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A cluster as the running configuration has it.
#[derive(Debug)]
pub(crate) struct Cluster {
    pub(crate) name: Arc<str>,
    pub(crate) balancer: BalancerKind,
    pub(crate) instances: Vec<Arc<Instance>>,
    pub(crate) health: Option<HealthConfig>,
    /// The round-robin cursor.
    pub(crate) next: AtomicUsize,
}

impl Cluster {
    pub(crate) fn new(config: &ClusterConfig, instances: Vec<Arc<Instance>>) -> Self {
        Cluster {
            name: config.name.as_str().into(),
            balancer: config.balancer,
            instances,
            health: config.health.clone(),
            next: AtomicUsize::new(0),
        }
    }

    /// Whether any instance's breaker turns calls away.
    pub(crate) fn any_breaker_open(&self) -> bool {
        self.instances.iter().any(|i| i.breaker.state().rejects())
    }
}
