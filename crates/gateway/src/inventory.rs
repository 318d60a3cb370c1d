//! What the control plane sees of a gateway: routes with their weights and counters,
//! and upstream instances with their breakers and health.

use switchyard_resilience::breaker::BreakerState;

/// Where a route sends traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteTarget {
    /// One cluster.
    Cluster(String),
    /// A strangler-fig split.
    Split {
        /// The cluster being replaced.
        legacy: String,
        /// The cluster replacing it.
        new: String,
    },
}

/// Counters of a route since the gateway started (kept across config changes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RouteCounters {
    /// Requests matched to the route.
    pub requests: u64,
    /// Answered by the legacy side of a split.
    pub legacy: u64,
    /// Answered by the new side of a split.
    pub new: u64,
    /// Legacy-side answers that failed (5xx, 502, 504).
    pub legacy_errors: u64,
    /// New-side answers that failed.
    pub new_errors: u64,
    /// Requests also sent to the other side.
    pub shadowed: u64,
    /// Shadowed requests whose answers differed in status or body.
    pub differing: u64,
    /// Turned away with 401.
    pub unauthorized: u64,
    /// Turned away with 403.
    pub forbidden: u64,
    /// Turned away with 429.
    pub rate_limited: u64,
    /// Over the limit but let through by an observe-only limit (since it was configured).
    pub would_limit: u64,
}

/// One route's state.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteState {
    /// The route's name.
    pub name: String,
    /// Where it sends.
    pub target: RouteTarget,
    /// Percent to the new side, for a split.
    pub weight: Option<u8>,
    /// Percent shadowed, for a split.
    pub shadow: Option<u8>,
    /// Whether the governor rolled the split back to legacy.
    pub rolled_back: bool,
    /// Its counters.
    pub counters: RouteCounters,
}

/// One upstream instance's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceState {
    /// The cluster.
    pub cluster: String,
    /// `ip:port`.
    pub address: String,
    /// The breaker's name in the registry: `upstream.{cluster}.{address}`.
    pub breaker: String,
    /// The breaker's state.
    pub breaker_state: BreakerState,
    /// The active health checks' verdict (true without health checks).
    pub healthy: bool,
    /// Requests in flight.
    pub outstanding: usize,
}
