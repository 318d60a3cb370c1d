//! The gateway's configuration: TOML, read with serde (unknown keys are errors), then
//! checked as a whole before it is applied. Every refusal names the line.
//!
//! ```toml
//! listeners = ["127.0.0.1:8080"]
//!
//! [[cluster]]
//! name = "catalog"
//! instances = ["127.0.0.1:9001", "127.0.0.1:9002"]
//! balancer = "least_outstanding"      # or "round_robin" (default)
//! health = { path = "/health", interval = "1s", timeout = "500ms", unhealthy_after = 2, healthy_after = 1 }
//! breaker = { window = 20, failure_rate = 50.0, minimum_calls = 10, open_for = "10s" }
//!
//! [[route]]
//! name = "catalog"
//! host = "shop.example"               # optional; the port is ignored
//! path_prefix = "/catalog"            # default "/"
//! methods = ["GET", "HEAD"]           # default: any
//! headers = { x-version = "2" }       # each must be equal
//! cluster = "catalog"                 # or a [route.split]
//! timeout = "2s"                      # default 30s; 504 when it runs out
//! retry = { attempts = 3, budget = 0.2 }  # idempotent methods only
//! rate_limit = { rate = 100, per = "1s", burst = 20, key_header = "x-client-id", mode = "enforce" }
//! auth = { api_keys = ["secret"], jwt = { hs256_secret = "k", issuer = "me", audience = "shop" } }
//! ```
//!
//! A `[sidecar]` section adds an egress listener for one service ([`sidecar`]).

pub mod locate;
pub mod sidecar;
mod validate;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::error::ConfigError;

/// The whole configuration of a gateway.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Addresses to listen on (read by [`Gateway::start`](crate::Gateway::start); a
    /// live [`apply`](crate::Gateway::apply) keeps the listeners it has).
    #[serde(default = "default_listeners")]
    pub listeners: Vec<String>,
    /// Worker threads serving the listeners, each with its own event loop and upstream
    /// connection pool (like nginx's `worker_processes`); default: one per core. Read
    /// when the listeners start.
    #[serde(default)]
    pub workers: Option<usize>,
    /// Upstream clusters.
    #[serde(default, rename = "cluster")]
    pub clusters: Vec<ClusterConfig>,
    /// Routes, tried in order; the first that matches serves the request.
    #[serde(default, rename = "route")]
    pub routes: Vec<RouteConfig>,
    /// The egress side of one service (see [`sidecar`]).
    #[serde(default)]
    pub sidecar: Option<sidecar::SidecarConfig>,
}

fn default_listeners() -> Vec<String> {
    vec!["127.0.0.1:8080".to_owned()]
}

/// A named set of upstream instances.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// The cluster's name, unique.
    pub name: String,
    /// `host:port` of each instance (IP addresses).
    pub instances: Vec<String>,
    /// How an instance is picked.
    #[serde(default)]
    pub balancer: BalancerKind,
    /// Active health checks; without them every instance counts as healthy.
    #[serde(default)]
    pub health: Option<HealthConfig>,
    /// The circuit breaker of each instance (passive ejection).
    #[serde(default)]
    pub breaker: BreakerSettings,
}

/// Load balancing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BalancerKind {
    /// Each instance in turn.
    #[default]
    RoundRobin,
    /// The less busy of two random instances (power of two choices).
    LeastOutstanding,
}

/// Active health checks: `GET path` on every instance each `interval`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthConfig {
    /// The path to probe; a 2xx answer is healthy.
    pub path: String,
    /// Time between probes (default 1 s).
    #[serde(default = "one_second", deserialize_with = "duration")]
    pub interval: Duration,
    /// A probe that takes longer failed (default 1 s).
    #[serde(default = "one_second", deserialize_with = "duration")]
    pub timeout: Duration,
    /// Consecutive failed probes that take an instance out (default 2).
    #[serde(default = "two")]
    pub unhealthy_after: u32,
    /// Consecutive good probes that bring it back (default 1).
    #[serde(default = "one")]
    pub healthy_after: u32,
}

/// The per-instance breaker: 5xx answers and connection errors are failures.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerSettings {
    /// Rates over the last this many calls (default 20).
    #[serde(default = "twenty")]
    pub window: u32,
    /// Opens at this failure rate in percent (default 50).
    #[serde(default = "fifty")]
    pub failure_rate: f64,
    /// Calls needed before the rate counts (default 10).
    #[serde(default = "ten")]
    pub minimum_calls: u32,
    /// How long it stays open before a probe (default 10 s).
    #[serde(default = "ten_seconds", deserialize_with = "duration")]
    pub open_for: Duration,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        BreakerSettings {
            window: twenty(),
            failure_rate: fifty(),
            minimum_calls: ten(),
            open_for: ten_seconds(),
        }
    }
}

/// A route: what it matches, where it sends, and the policies on the way.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// The route's name, unique (`route.name` on spans).
    pub name: String,
    /// The `Host` to match, without port; any when absent.
    #[serde(default)]
    pub host: Option<String>,
    /// The path must start with this (default `/`).
    #[serde(default = "slash")]
    pub path_prefix: String,
    /// Methods to match; any when empty.
    #[serde(default)]
    pub methods: Vec<String>,
    /// Headers that must be present with exactly these values.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The cluster to send to; exactly one of `cluster` and `split`.
    #[serde(default)]
    pub cluster: Option<String>,
    /// A strangler-fig split between a legacy and a new cluster.
    #[serde(default)]
    pub split: Option<SplitConfig>,
    /// The whole request, retries included, must finish within this (default 30 s).
    #[serde(default = "thirty_seconds", deserialize_with = "duration")]
    pub timeout: Duration,
    /// Retries, for idempotent methods only.
    #[serde(default)]
    pub retry: Option<RetryConfig>,
    /// A rate limit for the route, per client key when `key_header` is set.
    #[serde(default)]
    pub rate_limit: Option<RateLimitConfig>,
    /// Credentials the route requires.
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    /// Translation between the client's JSON and a legacy upstream's format.
    #[serde(default)]
    pub adapter: Option<AdapterConfig>,
}

/// Retries of idempotent requests (GET, HEAD, OPTIONS, PUT, DELETE) after a connection
/// error or a 5xx, on another instance when there is one.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// Attempts in all, the first included (default 2).
    #[serde(default = "two")]
    pub attempts: u32,
    /// Retries allowed per request made, over 10 s (default 0.2).
    #[serde(default = "budget")]
    pub budget: f32,
    /// Retries always allowed per second (default 10).
    #[serde(default = "ten")]
    pub min_per_second: u32,
}

/// A GCRA rate limit.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Requests per `per`.
    pub rate: u32,
    /// The period (default 1 s).
    #[serde(default = "one_second", deserialize_with = "duration")]
    pub per: Duration,
    /// Burst size (default `rate`).
    #[serde(default)]
    pub burst: Option<u32>,
    /// A header naming the client; its value (else the client's IP) keys the limit.
    /// Without it, one limit covers the whole route.
    #[serde(default)]
    pub key_header: Option<String>,
    /// `enforce` (429) or `observe` (count only).
    #[serde(default)]
    pub mode: LimitModeConfig,
}

/// Whether a rate limit rejects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitModeConfig {
    /// Over the limit: 429 with Retry-After.
    #[default]
    Enforce,
    /// Over the limit: counted, let through.
    Observe,
}

/// Edge authentication: any one accepted credential lets the request in.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Keys accepted in `x-api-key`.
    #[serde(default)]
    pub api_keys: Vec<String>,
    /// Bearer JWTs accepted in `Authorization`.
    #[serde(default)]
    pub jwt: Option<JwtConfig>,
}

/// JWT validation; exactly one of the two keys.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtConfig {
    /// The HS256 shared secret.
    #[serde(default)]
    pub hs256_secret: Option<String>,
    /// The RS256 public key, PEM.
    #[serde(default)]
    pub rs256_public_key: Option<String>,
    /// Required `iss`.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Required `aud`; a valid token for another audience is refused with 403.
    #[serde(default)]
    pub audience: Option<String>,
}

/// A strangler-fig split.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitConfig {
    /// The cluster being replaced.
    pub legacy: String,
    /// The cluster replacing it.
    pub new: String,
    /// Percent of clients sent to `new` (default 0).
    #[serde(default)]
    pub weight: u8,
    /// Percent of requests also sent to the other side, answered from the primary.
    #[serde(default)]
    pub shadow: u8,
    /// The header naming the client, for stickiness; the client's IP without it.
    #[serde(default = "user_header")]
    pub sticky_header: String,
    /// Weights to move to over time, from when the config is applied.
    #[serde(default)]
    pub ramp: Vec<RampStep>,
    /// Gates the ramp on the new side's health.
    #[serde(default)]
    pub governor: Option<GovernorConfig>,
}

/// One step of a ramp: after `after`, weight `weight`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RampStep {
    /// Time since the ramp started.
    #[serde(deserialize_with = "duration")]
    pub after: Duration,
    /// Percent to the new side.
    pub weight: u8,
}

/// The migration governor's budget.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GovernorConfig {
    /// Highest error rate (5xx and failures, percent) of the new side to advance.
    #[serde(default = "five")]
    pub max_error_rate: f64,
    /// Highest rate of differing shadow responses (percent) to advance.
    #[serde(default = "five")]
    pub max_diff_rate: f64,
    /// Requests the new side must have served since the last step to advance.
    #[serde(default = "twenty_u64")]
    pub min_requests: u64,
    /// How often it decides (default 1 s).
    #[serde(default = "one_second", deserialize_with = "duration")]
    pub interval: Duration,
}

/// A translation between JSON and a legacy format.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdapterConfig {
    /// The upstream's format.
    pub format: AdapterFormat,
    /// The XML request's root element (default `request`).
    #[serde(default = "request_root")]
    pub root: String,
    /// JSON field name → upstream name; unmapped fields keep their names.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
}

/// A legacy upstream's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdapterFormat {
    /// XML bodies both ways.
    Xml,
    /// `application/x-www-form-urlencoded` requests; responses pass through.
    Form,
}

impl Config {
    /// Reads and checks a configuration; a refusal names the line and the reason.
    pub fn from_toml(source: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(source).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            ConfigError {
                line: locate::line_of(source, span.start),
                field: String::new(),
                message: e
                    .message()
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>()
                    .join("; "),
            }
        })?;
        config.check().map_err(|invalid| invalid.locate(source))?;
        Ok(config)
    }

    /// Reads a file and checks it.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let source = std::fs::read_to_string(path.as_ref()).map_err(|e| ConfigError {
            line: 0,
            field: String::new(),
            message: format!("cannot read {}: {e}", path.as_ref().display()),
        })?;
        Config::from_toml(&source)
    }

    /// Checks a configuration built in code (errors have line 0).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.check().map_err(|invalid| invalid.without_source())
    }
}

fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    humantime::parse_duration(&text)
        .map_err(|e| serde::de::Error::custom(format!("{text:?} is not a duration: {e}")))
}

fn one_second() -> Duration {
    Duration::from_secs(1)
}
fn ten_seconds() -> Duration {
    Duration::from_secs(10)
}
fn thirty_seconds() -> Duration {
    Duration::from_secs(30)
}
fn one() -> u32 {
    1
}
fn two() -> u32 {
    2
}
fn ten() -> u32 {
    10
}
fn twenty() -> u32 {
    20
}
fn twenty_u64() -> u64 {
    20
}
fn five() -> f64 {
    5.0
}
fn fifty() -> f64 {
    50.0
}
fn budget() -> f32 {
    0.2
}
fn slash() -> String {
    "/".to_owned()
}
fn user_header() -> String {
    "x-user-id".to_owned()
}
fn request_root() -> String {
    "request".to_owned()
}
