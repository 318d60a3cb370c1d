//! Checks over the whole configuration, after serde has checked each value's type:
//! names that refer to each other, addresses, ranges. The first problem found is
//! reported, with its field's path (and, when there is a source, its line).

use std::collections::HashSet;
use std::net::SocketAddr;

use http::{HeaderName, Method};

use super::locate::{FieldPath, line_of_path};
use super::{
    AdapterFormat, AuthConfig, BreakerSettings, ClusterConfig, Config, RetryConfig, RouteConfig,
};
use crate::error::ConfigError;

/// A problem found by [`Config::check`], not yet placed in a source.
#[derive(Debug)]
pub(crate) struct Invalid {
    path: FieldPath,
    message: String,
}

impl Invalid {
    pub(crate) fn new(path: FieldPath, message: impl Into<String>) -> Self {
        Invalid {
            path,
            message: message.into(),
        }
    }

    pub(crate) fn locate(self, source: &str) -> ConfigError {
        ConfigError {
            line: line_of_path(source, &self.path),
            field: self.path.to_string(),
            message: self.message,
        }
    }

    pub(crate) fn without_source(self) -> ConfigError {
        ConfigError {
            line: 0,
            field: self.path.to_string(),
            message: self.message,
        }
    }
}

pub(crate) type Check = Result<(), Invalid>;

/// More worker threads than this is a typo, not a machine.
const MAX_WORKERS: usize = 1024;

impl Config {
    pub(crate) fn check(&self) -> Check {
        let root = FieldPath::default();
        for (i, listener) in self.listeners.iter().enumerate() {
            address(&root.key("listeners").index(i), listener)?;
        }
        if let Some(workers) = self.workers
            && !(1..=MAX_WORKERS).contains(&workers)
        {
            return Err(Invalid::new(
                root.key("workers"),
                format!("{workers} workers: must be between 1 and {MAX_WORKERS}"),
            ));
        }
        let mut clusters = HashSet::new();
        for (i, cluster) in self.clusters.iter().enumerate() {
            let path = root.key("cluster").index(i);
            check_cluster(&path, cluster)?;
            if !clusters.insert(cluster.name.as_str()) {
                return Err(Invalid::new(
                    path.key("name"),
                    format!("cluster name {:?} is used twice", cluster.name),
                ));
            }
        }
        let mut routes = HashSet::new();
        for (i, route) in self.routes.iter().enumerate() {
            let path = root.key("route").index(i);
            check_route(&path, route, &clusters)?;
            if !routes.insert(route.name.as_str()) {
                return Err(Invalid::new(
                    path.key("name"),
                    format!("route name {:?} is used twice", route.name),
                ));
            }
        }
        if let Some(sidecar) = &self.sidecar {
            super::sidecar::check(&root.key("sidecar"), sidecar, &clusters)?;
        }
        Ok(())
    }
}

pub(crate) fn address(path: &FieldPath, text: &str) -> Result<SocketAddr, Invalid> {
    text.parse().map_err(|_| {
        Invalid::new(
            path.clone(),
            format!("{text:?} is not an address (IP:port, e.g. \"127.0.0.1:8080\")"),
        )
    })
}

fn check_cluster(path: &FieldPath, cluster: &ClusterConfig) -> Check {
    if cluster.name.is_empty() {
        return Err(Invalid::new(path.key("name"), "is empty"));
    }
    if cluster.instances.is_empty() {
        return Err(Invalid::new(
            path.key("instances"),
            format!("cluster {:?} has no instances", cluster.name),
        ));
    }
    let mut seen = HashSet::new();
    for (i, instance) in cluster.instances.iter().enumerate() {
        let addr = address(&path.key("instances").index(i), instance)?;
        if !seen.insert(addr) {
            return Err(Invalid::new(
                path.key("instances").index(i),
                format!("{instance} is listed twice"),
            ));
        }
    }
    if let Some(health) = &cluster.health {
        let health_path = path.key("health");
        if !health.path.starts_with('/') {
            return Err(Invalid::new(health_path.key("path"), "must start with /"));
        }
        if health.interval.is_zero() || health.timeout.is_zero() {
            return Err(Invalid::new(
                health_path,
                "interval and timeout must be longer than zero",
            ));
        }
        if health.unhealthy_after == 0 || health.healthy_after == 0 {
            return Err(Invalid::new(
                health_path,
                "unhealthy_after and healthy_after must be at least 1",
            ));
        }
    }
    check_breaker(&path.key("breaker"), &cluster.breaker)
}

pub(crate) fn check_breaker(path: &FieldPath, breaker: &BreakerSettings) -> Check {
    crate::cluster::breaker_config(breaker)
        .validate()
        .map_err(|e| Invalid::new(path.clone(), e.to_string()))
}

pub(crate) fn check_retry(path: &FieldPath, retry: &RetryConfig) -> Check {
    if retry.attempts == 0 {
        return Err(Invalid::new(path.key("attempts"), "must be at least 1"));
    }
    if !(0.0..=1000.0).contains(&retry.budget) {
        return Err(Invalid::new(
            path.key("budget"),
            "must be between 0 and 1000 (retries per request)",
        ));
    }
    Ok(())
}

fn check_route(path: &FieldPath, route: &RouteConfig, clusters: &HashSet<&str>) -> Check {
    if route.name.is_empty() {
        return Err(Invalid::new(path.key("name"), "is empty"));
    }
    if !route.path_prefix.starts_with('/') {
        return Err(Invalid::new(path.key("path_prefix"), "must start with /"));
    }
    for (i, method) in route.methods.iter().enumerate() {
        if Method::from_bytes(method.as_bytes()).is_err() {
            return Err(Invalid::new(
                path.key("methods").index(i),
                format!("{method:?} is not an HTTP method"),
            ));
        }
    }
    for name in route.headers.keys() {
        header_name(&path.key("headers").owned(name), name)?;
    }
    let known = |field: FieldPath, name: &str| {
        if clusters.contains(name) {
            Ok(())
        } else {
            Err(Invalid::new(field, format!("no cluster named {name:?}")))
        }
    };
    match (&route.cluster, &route.split) {
        (Some(cluster), None) => known(path.key("cluster"), cluster)?,
        (None, Some(split)) => {
            let split_path = path.key("split");
            known(split_path.key("legacy"), &split.legacy)?;
            known(split_path.key("new"), &split.new)?;
            if split.legacy == split.new {
                return Err(Invalid::new(
                    split_path.key("new"),
                    "the new cluster must differ from the legacy one",
                ));
            }
            percent(split_path.key("weight"), split.weight)?;
            percent(split_path.key("shadow"), split.shadow)?;
            header_name(&split_path.key("sticky_header"), &split.sticky_header)?;
            for (i, step) in split.ramp.iter().enumerate() {
                percent(split_path.key("ramp").index(i).key("weight"), step.weight)?;
            }
            if let Some(governor) = &split.governor
                && governor.interval.is_zero()
            {
                return Err(Invalid::new(
                    split_path.key("governor").key("interval"),
                    "must be longer than zero",
                ));
            }
        }
        _ => {
            return Err(Invalid::new(
                path.key("name"),
                format!(
                    "route {:?} needs exactly one of `cluster` and `split`",
                    route.name
                ),
            ));
        }
    }
    if route.timeout.is_zero() {
        return Err(Invalid::new(
            path.key("timeout"),
            "must be longer than zero",
        ));
    }
    if let Some(retry) = &route.retry {
        check_retry(&path.key("retry"), retry)?;
    }
    if let Some(limit) = &route.rate_limit {
        if limit.rate == 0 || limit.burst == Some(0) || limit.per.is_zero() {
            return Err(Invalid::new(
                path.key("rate_limit"),
                "rate, burst and per must be above zero",
            ));
        }
        if let Some(header) = &limit.key_header {
            header_name(&path.key("rate_limit").key("key_header"), header)?;
        }
    }
    if let Some(auth) = &route.auth {
        check_auth(&path.key("auth"), auth)?;
    }
    if let Some(adapter) = &route.adapter
        && adapter.format == AdapterFormat::Xml
    {
        xml_name(path.key("adapter").key("root"), &adapter.root)?;
        for (json, xml) in &adapter.fields {
            xml_name(path.key("adapter").key("fields").owned(json), xml)?;
        }
    }
    Ok(())
}

fn check_auth(path: &FieldPath, auth: &AuthConfig) -> Check {
    if auth.api_keys.is_empty() && auth.jwt.is_none() {
        return Err(Invalid::new(
            path.clone(),
            "needs api_keys, jwt or both (remove `auth` for an open route)",
        ));
    }
    if auth.api_keys.iter().any(String::is_empty) {
        return Err(Invalid::new(path.key("api_keys"), "an API key is empty"));
    }
    if let Some(jwt) = &auth.jwt {
        let jwt_path = path.key("jwt");
        match (&jwt.hs256_secret, &jwt.rs256_public_key) {
            (Some(secret), None) if !secret.is_empty() => {}
            (None, Some(pem)) => {
                jsonwebtoken::DecodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| {
                    Invalid::new(
                        jwt_path.key("rs256_public_key"),
                        format!("not an RSA public key in PEM: {e}"),
                    )
                })?;
            }
            _ => {
                return Err(Invalid::new(
                    jwt_path,
                    "needs exactly one of a non-empty hs256_secret and rs256_public_key",
                ));
            }
        }
    }
    Ok(())
}

fn percent(path: FieldPath, value: u8) -> Check {
    if value > 100 {
        return Err(Invalid::new(path, format!("{value} is over 100 percent")));
    }
    Ok(())
}

fn header_name(path: &FieldPath, name: &str) -> Check {
    HeaderName::from_bytes(name.as_bytes())
        .map(drop)
        .map_err(|_| Invalid::new(path.clone(), format!("{name:?} is not a header name")))
}

/// XML names, kept to the plain subset legacy systems use.
fn xml_name(path: FieldPath, name: &str) -> Check {
    let mut chars = name.chars();
    let starts_well = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if starts_well && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) {
        Ok(())
    } else {
        Err(Invalid::new(
            path,
            format!("{name:?} is not an XML element name"),
        ))
    }
}
