//! Sidecar (egress) mode: the same proxy on the outgoing side of one service. The
//! service sends its calls to the sidecar's listener (as an HTTP proxy, absolute-form
//! `GET http://payments.internal/charge`, or with a `Host` header); each call is
//! matched to a destination by host and port, and sent to a cluster (balanced, a
//! breaker per instance) or passed through to the host it named (a breaker per
//! `host:port`), with the destination's timeout and retries and a client span.

mod direct;
mod handle;

use std::sync::Arc;
use std::time::Duration;

use switchyard_resilience::breaker::{Breaker, BreakerConfig, Registry};
use switchyard_resilience::retry::{Backoff, RetryBudget, RetryPolicy};

use crate::cluster::{Cluster, breaker_config};
use crate::config::RetryConfig;
use crate::config::sidecar::{SidecarConfig, UnknownPolicy};
use crate::error::ConfigError;
use crate::forward::{self, Classifier};

pub(crate) use handle::handle;

/// The sidecar section of the running configuration.
#[derive(Debug)]
pub(crate) struct Sidecar {
    /// For destinations passed through (shared by the workers: few calls go there).
    client: direct::HttpClient,
    service: Arc<str>,
    unknown: UnknownPolicy,
    /// How unlisted destinations are called (when they are).
    defaults: Destination,
    destinations: Vec<Destination>,
}

/// One destination, compiled.
#[derive(Debug)]
pub(crate) struct Destination {
    host: String,
    /// `None`: any port.
    port: Option<u16>,
    target: Target,
    timeout: Duration,
}

#[derive(Debug)]
enum Target {
    Cluster {
        cluster: Arc<Cluster>,
        retry: Option<RetryPolicy<Classifier>>,
    },
    /// To the host and port the service named.
    Direct {
        breaker: BreakerConfig,
        retry: Option<RetryPolicy<direct::Classifier>>,
    },
}

impl Sidecar {
    pub(crate) fn client(&self) -> &direct::HttpClient {
        &self.client
    }

    /// Compiles `config`; `clusters` are the running configuration's.
    pub(crate) fn build(
        config: &SidecarConfig,
        clusters: &[Arc<Cluster>],
    ) -> Result<Sidecar, ConfigError> {
        let invalid = |field: String, message: String| ConfigError {
            line: 0,
            field,
            message,
        };
        let direct = |breaker: BreakerConfig, retry: Option<&RetryConfig>, name: &str| {
            Ok::<_, ConfigError>(Target::Direct {
                breaker,
                retry: retry
                    .map(|r| policy(name, r, direct::retryable as direct::Classifier))
                    .transpose()
                    .map_err(|e| invalid(format!("sidecar {name} retry"), e))?,
            })
        };
        let defaults = Destination {
            host: String::new(),
            port: None,
            target: direct(
                breaker_config(&config.breaker),
                config.retry.as_ref(),
                "unlisted",
            )?,
            timeout: config.timeout,
        };
        let mut destinations = Vec::new();
        for d in &config.destinations {
            let (host, port) = d.host_and_port();
            let retry = d.retry.as_ref().or(config.retry.as_ref());
            let target = match &d.cluster {
                Some(name) => Target::Cluster {
                    cluster: clusters
                        .iter()
                        .find(|c| &*c.name == name)
                        .cloned()
                        .ok_or_else(|| {
                            invalid(d.host.clone(), format!("no cluster named {name:?}"))
                        })?,
                    retry: retry
                        .map(|r| policy(&d.host, r, forward::retryable as Classifier))
                        .transpose()
                        .map_err(|e| invalid(format!("sidecar {} retry", d.host), e))?,
                },
                None => direct(
                    breaker_config(d.breaker.as_ref().unwrap_or(&config.breaker)),
                    retry,
                    &d.host,
                )?,
            };
            destinations.push(Destination {
                host,
                port,
                target,
                timeout: d.timeout.unwrap_or(config.timeout),
            });
        }
        Ok(Sidecar {
            client: direct::client(),
            service: config.service.as_str().into(),
            unknown: config.unknown,
            defaults,
            destinations,
        })
    }

    /// The destination for `host:port`: one naming that port first, then one for any
    /// port; `None` when unlisted and refused.
    fn find(&self, host: &str, port: u16) -> Option<(&Destination, bool)> {
        let listed = self
            .destinations
            .iter()
            .find(|d| d.host == host && d.port == Some(port))
            .or_else(|| {
                self.destinations
                    .iter()
                    .find(|d| d.host == host && d.port.is_none())
            });
        match (listed, self.unknown) {
            (Some(d), _) => Some((d, true)),
            (None, UnknownPolicy::PassThrough) => Some((&self.defaults, false)),
            (None, UnknownPolicy::Refuse) => None,
        }
    }
}

/// The breaker of `host:port` passed through, created with `config` the first time,
/// and replaced when its configuration changed since.
fn direct_breaker(
    registry: &Registry,
    host: &str,
    port: u16,
    config: &BreakerConfig,
) -> Option<Breaker> {
    let name = switchyard_conventions::breaker::egress_breaker_name(host, port);
    let existing = registry.breaker(&name, config.clone()).ok()?;
    if existing.config() == config {
        return Some(existing);
    }
    let _ = registry.remove(&name);
    registry.breaker(&name, config.clone()).ok()
}

fn policy<C>(name: &str, retry: &RetryConfig, classify: C) -> Result<RetryPolicy<C>, String> {
    RetryPolicy::builder(format!("sidecar.{name}"))
        .max_attempts(retry.attempts)
        .backoff(Backoff::new(
            Duration::from_millis(5),
            Duration::from_millis(100),
        ))
        .budget(RetryBudget {
            ttl: Duration::from_secs(10),
            min_per_second: retry.min_per_second,
            ratio: retry.budget,
        })
        .classify(classify)
        .build()
        .map_err(|e| e.to_string())
}
