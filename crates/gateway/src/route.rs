//! Routes as the running configuration holds them: the matcher, the target (one
//! cluster or a split), and the compiled policies.

use std::sync::Arc;
use std::time::Duration;

use http::request::Parts;
use http::{HeaderName, Method};
use switchyard_resilience::rate_limit::RateLimiter;
use switchyard_resilience::retry::RetryPolicy;

use crate::auth::Auth;
use crate::cluster::Cluster;
use crate::config::{AdapterConfig, RouteConfig};
use crate::forward::Classifier;
use crate::split::SplitState;
use crate::stats::RouteStats;

/// What a route matches; every part given must hold.
#[derive(Debug)]
pub(crate) struct Matcher {
    host: Option<String>,
    prefix: String,
    methods: Vec<Method>,
    headers: Vec<(HeaderName, String)>,
}

impl Matcher {
    /// From a checked route config (invalid parts were refused by validation).
    pub(crate) fn new(config: &RouteConfig) -> Self {
        Matcher {
            host: config.host.as_ref().map(|h| h.to_ascii_lowercase()),
            prefix: config.path_prefix.clone(),
            methods: config
                .methods
                .iter()
                .filter_map(|m| Method::from_bytes(m.as_bytes()).ok())
                .collect(),
            headers: config
                .headers
                .iter()
                .filter_map(|(k, v)| Some((HeaderName::from_bytes(k.as_bytes()).ok()?, v.clone())))
                .collect(),
        }
    }

    /// `None` when the request matches, else the first part that does not.
    pub(crate) fn mismatch(&self, parts: &Parts) -> Option<String> {
        if let Some(host) = &self.host
            && request_host(parts).is_none_or(|h| !h.eq_ignore_ascii_case(host))
        {
            return Some(format!("host is not {host}"));
        }
        if !path_has_prefix(parts.uri.path(), &self.prefix) {
            return Some(format!("path is not under {}", self.prefix));
        }
        if !self.methods.is_empty() && !self.methods.contains(&parts.method) {
            return Some(format!("method is not one of {:?}", self.methods));
        }
        for (name, value) in &self.headers {
            if parts
                .headers
                .get(name)
                .is_none_or(|v| v.as_bytes() != value.as_bytes())
            {
                return Some(format!("header {name} is not {value:?}"));
            }
        }
        None
    }
}

/// The request's host without its port, from `Host` or the URI.
pub(crate) fn request_host(parts: &Parts) -> Option<&str> {
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))?;
    Some(match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    })
}

/// A prefix matches whole path segments: `/api` matches `/api` and `/api/x`, not `/apix`.
fn path_has_prefix(path: &str, prefix: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => prefix.ends_with('/') || rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// Where a route sends its requests.
#[derive(Debug)]
pub(crate) enum Target {
    Cluster(Arc<Cluster>),
    Split {
        legacy: Arc<Cluster>,
        new: Arc<Cluster>,
        sticky_header: HeaderName,
        state: Arc<SplitState>,
    },
}

/// A route's rate limit and how its key is found.
#[derive(Debug)]
pub(crate) struct Limiter {
    pub(crate) limiter: RateLimiter<String>,
    pub(crate) key_header: Option<HeaderName>,
}

/// A route of the running configuration.
#[derive(Debug)]
pub(crate) struct Route {
    pub(crate) name: Arc<str>,
    pub(crate) matcher: Matcher,
    pub(crate) target: Target,
    pub(crate) timeout: Duration,
    pub(crate) retry: Option<RetryPolicy<Classifier>>,
    pub(crate) limiter: Option<Limiter>,
    pub(crate) auth: Option<Auth>,
    pub(crate) adapter: Option<AdapterConfig>,
    pub(crate) stats: Arc<RouteStats>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_whole_segments() {
        assert!(path_has_prefix("/api", "/api"));
        assert!(path_has_prefix("/api/x", "/api"));
        assert!(!path_has_prefix("/apix", "/api"));
        assert!(path_has_prefix("/anything", "/"));
        assert!(path_has_prefix("/api/x", "/api/"));
    }
}
