//! `[sidecar]`: the egress side of one service. Its outgoing calls (sent to the sidecar
//! as a proxy, `HTTP_PROXY=http://127.0.0.1:15001`, or straight to it with a `Host`
//! header) get breakers, retries, timeouts and spans, by destination.
//!
//! ```toml
//! [sidecar]
//! listen = "127.0.0.1:15001"
//! service = "checkout"                 # the service whose calls these are (spans)
//! unknown = "pass_through"             # or "refuse": 403 for unlisted destinations
//! timeout = "30s"                      # defaults for destinations passed through
//! retry = { attempts = 2 }
//! breaker = { window = 20, failure_rate = 50.0, minimum_calls = 10, open_for = "10s" }
//!
//! [[sidecar.destination]]
//! host = "payments.internal"           # any port; "payments.internal:8080" for one
//! cluster = "payments"                 # a [[cluster]]; without it, passed through
//! timeout = "2s"
//! retry = { attempts = 3, budget = 0.2 }
//! ```

use std::time::Duration;

use serde::Deserialize;

use super::locate::FieldPath;
use super::validate::{self, Check, Invalid};
use super::{BreakerSettings, RetryConfig, duration, thirty_seconds};

/// The egress listener and its destinations.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SidecarConfig {
    /// `ip:port` the service sends its outgoing calls to (read at start, like
    /// `listeners`).
    pub listen: String,
    /// The service that owns this sidecar (`sidecar.service` on its spans).
    pub service: String,
    /// What happens to a call to a host no destination lists.
    #[serde(default)]
    pub unknown: UnknownPolicy,
    /// Timeout of destinations passed through, unless they set their own (default 30 s).
    #[serde(default = "thirty_seconds", deserialize_with = "duration")]
    pub timeout: Duration,
    /// Retries of destinations passed through, unless they set their own.
    #[serde(default)]
    pub retry: Option<RetryConfig>,
    /// Breaker of each `host:port` passed through, unless its destination sets one.
    #[serde(default)]
    pub breaker: BreakerSettings,
    /// The destinations, matched by host (and port when given).
    #[serde(default, rename = "destination")]
    pub destinations: Vec<DestinationConfig>,
}

/// What to do with a call to an unlisted host.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownPolicy {
    /// Send it where it was going, with the defaults (each `host:port` its own breaker).
    #[default]
    PassThrough,
    /// Answer `403` without calling anyone.
    Refuse,
}

/// Where calls to one host go, and how.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DestinationConfig {
    /// `host` (any port) or `host:port`, as the service calls it.
    pub host: String,
    /// Send to this cluster's instances (balanced, a breaker each); without it the call
    /// goes to the host it named.
    #[serde(default)]
    pub cluster: Option<String>,
    /// The whole call, retries included (default: the sidecar's).
    #[serde(default, deserialize_with = "optional_duration")]
    pub timeout: Option<Duration>,
    /// Retries of idempotent calls (default: the sidecar's).
    #[serde(default)]
    pub retry: Option<RetryConfig>,
    /// The breaker of a destination passed through (default: the sidecar's); a
    /// cluster's instances have their cluster's.
    #[serde(default)]
    pub breaker: Option<BreakerSettings>,
}

impl DestinationConfig {
    /// The host, lowercased, and the port if the destination names one.
    pub fn host_and_port(&self) -> (String, Option<u16>) {
        split_host_port(&self.host)
    }
}

/// `host[:port]`, the host lowercased (the port is `None` when absent or not a number).
pub(crate) fn split_host_port(text: &str) -> (String, Option<u16>) {
    match text.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            (host.to_ascii_lowercase(), port.parse().ok())
        }
        _ => (text.to_ascii_lowercase(), None),
    }
}

fn optional_duration<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Duration>, D::Error> {
    duration(deserializer).map(Some)
}

/// Checks the section; `clusters` are the names the configuration defines.
pub(crate) fn check(
    path: &FieldPath,
    sidecar: &SidecarConfig,
    clusters: &std::collections::HashSet<&str>,
) -> Check {
    validate::address(&path.key("listen"), &sidecar.listen)?;
    if sidecar.service.trim().is_empty() {
        return Err(Invalid::new(path.key("service"), "is empty"));
    }
    if sidecar.timeout.is_zero() {
        return Err(Invalid::new(
            path.key("timeout"),
            "must be longer than zero",
        ));
    }
    if let Some(retry) = &sidecar.retry {
        validate::check_retry(&path.key("retry"), retry)?;
    }
    validate::check_breaker(&path.key("breaker"), &sidecar.breaker)?;
    let mut seen = std::collections::HashSet::new();
    for (i, destination) in sidecar.destinations.iter().enumerate() {
        let path = path.key("destination").index(i);
        let host = &destination.host;
        let (name, port) = destination.host_and_port();
        let well_formed = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
            && (port.is_some() || !host.contains(':'))
            && port != Some(0);
        if !well_formed {
            return Err(Invalid::new(
                path.key("host"),
                format!("{host:?} is not a host or host:port (no scheme, no path)"),
            ));
        }
        if !seen.insert((name, port)) {
            return Err(Invalid::new(
                path.key("host"),
                format!("{host:?} is listed twice"),
            ));
        }
        if let Some(cluster) = &destination.cluster {
            if !clusters.contains(cluster.as_str()) {
                return Err(Invalid::new(
                    path.key("cluster"),
                    format!("no cluster named {cluster:?}"),
                ));
            }
            if destination.breaker.is_some() {
                return Err(Invalid::new(
                    path.key("breaker"),
                    "a cluster's instances have their cluster's breaker; set it there",
                ));
            }
        }
        if destination.timeout.is_some_and(|t| t.is_zero()) {
            return Err(Invalid::new(
                path.key("timeout"),
                "must be longer than zero",
            ));
        }
        if let Some(retry) = &destination.retry {
            validate::check_retry(&path.key("retry"), retry)?;
        }
        if let Some(breaker) = &destination.breaker {
            validate::check_breaker(&path.key("breaker"), breaker)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_split_from_their_port() {
        assert_eq!(
            split_host_port("Payments.internal"),
            ("payments.internal".into(), None)
        );
        assert_eq!(split_host_port("db:5432"), ("db".into(), Some(5432)));
        assert_eq!(split_host_port("db:x"), ("db:x".into(), None));
    }
}
