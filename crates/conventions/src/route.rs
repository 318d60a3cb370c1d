//! Gateway routes: attributes on proxied-request spans and the request counter.

/// Attribute: the route's name.
pub const NAME: &str = "route.name";
/// Attribute: the upstream the request went to (e.g. `legacy` or `new`).
pub const TARGET: &str = "route.target";
/// Attribute: the target's weight in percent when the request was routed.
pub const WEIGHT: &str = "route.weight";
/// Counter: requests per route and target.
pub const REQUESTS_METRIC: &str = "route.requests";
