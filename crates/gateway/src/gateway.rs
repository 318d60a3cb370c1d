//! The gateway: the running configuration behind an atomic pointer, swapped whole by
//! [`Gateway::apply`] (requests in flight finish on the configuration they started
//! with), plus what outlives a swap: breakers, route counters and live weights.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use arc_swap::ArcSwap;
use http::HeaderName;
use switchyard_resilience::breaker::Registry;
use switchyard_resilience::rate_limit::{LimitMode, Quota, RateLimiter};
use switchyard_resilience::retry::{Backoff, RetryBudget, RetryPolicy};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::auth::Auth;
use crate::cluster::{Cluster, Instance, breaker_config, breaker_name};
use crate::config::{Config, LimitModeConfig, RateLimitConfig, RouteConfig};
use crate::error::{ConfigError, Error, Result};
use crate::forward::{self, Classifier};
use crate::governor::{Decision, Governor};
use crate::inventory::{InstanceState, RouteState, RouteTarget};
use crate::journal::{
    self, ChangeSource, GOVERNOR, JOURNAL_CAPACITY, JournalEntry, RAMP, Recorded, Snapshot,
};
use crate::route::{Limiter, Matcher, Route, Target};
use crate::split::SplitState;
use crate::stats::RouteStats;

/// The running configuration.
#[derive(Debug, Default)]
pub(crate) struct Runtime {
    pub(crate) routes: Vec<Route>,
    pub(crate) clusters: Vec<Arc<Cluster>>,
    /// Worker threads for listeners started from now on (`None`: one per core).
    pub(crate) workers: Option<usize>,
    /// The egress side, when configured.
    pub(crate) sidecar: Option<crate::sidecar::Sidecar>,
}

/// What a route keeps across configuration changes.
#[derive(Debug)]
struct RouteShared {
    stats: Arc<RouteStats>,
    split: Arc<SplitState>,
    limiter: Mutex<Option<(RateLimitConfig, RateLimiter<String>)>>,
}

pub(crate) struct Shared {
    pub(crate) runtime: ArcSwap<Runtime>,
    pub(crate) telemetry: crate::trace::Telemetry,
    pub(crate) registry: Registry,
    routes: Mutex<HashMap<String, Arc<RouteShared>>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// One change at a time (applies, live weights, reverts), so that two cannot
    /// interleave their task restarts or journal entries. Holds the journal.
    applying: Mutex<Journal>,
    /// Every new journal entry, for whoever watches (the agent's state stream).
    entries: broadcast::Sender<JournalEntry>,
    /// Bumped by every swap: a governor task of an older configuration (aborted, but
    /// perhaps already past its last await) must not journal a move.
    generation: AtomicU64,
}

#[derive(Debug, Default)]
struct Journal {
    next_seq: u64,
    entries: VecDeque<Recorded>,
    /// The configuration running now (its live weights are read when needed rather
    /// than kept here).
    current: Option<Arc<Snapshot>>,
}

/// Who made a change (the default for calls without one).
const LOCAL: &str = "local";
/// Journal entries buffered for a slow watcher before it lags.
const ENTRY_BUFFER: usize = 64;

impl Drop for Shared {
    fn drop(&mut self) {
        for task in self
            .tasks
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            task.abort();
        }
    }
}

/// An HTTP gateway's routing and state, shared by its listeners. Cheap to clone.
///
/// Needs a tokio runtime: health checks and ramps run as tasks.
#[derive(Clone)]
pub struct Gateway {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let runtime = self.shared.runtime.load();
        f.debug_struct("Gateway")
            .field("routes", &runtime.routes.len())
            .field("clusters", &runtime.clusters.len())
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// A gateway with `config` and a registry of its own.
    pub fn new(config: Config) -> Result<Gateway> {
        Gateway::with_registry(config, Registry::new())
    }

    /// A gateway whose instance breakers live in `registry` (shared with the agent's
    /// control API), named `upstream.{cluster}.{address}`.
    ///
    /// Spans and the `route.requests` counter go to the global tracer and meter
    /// providers as they are now: install the exporters before building the gateway.
    pub fn with_registry(config: Config, registry: Registry) -> Result<Gateway> {
        let gateway = Gateway {
            shared: Arc::new(Shared {
                runtime: ArcSwap::from_pointee(Runtime::default()),
                telemetry: crate::trace::Telemetry::from_globals(),
                registry,
                routes: Mutex::default(),
                tasks: Mutex::default(),
                applying: Mutex::default(),
                entries: broadcast::channel(ENTRY_BUFFER).0,
                generation: AtomicU64::new(0),
            }),
        };
        gateway.apply(config)?;
        Ok(gateway)
    }

    /// Checks `config` and, if it is good, makes it the running one at once; a bad one
    /// is refused and the running one stays. Requests in flight finish on the old one.
    /// Journaled as made by `local` through the API.
    pub fn apply(&self, config: Config) -> Result<()> {
        self.apply_as(config, LOCAL, ChangeSource::Api)
    }

    /// Like [`apply`](Self::apply), from TOML: a refusal names the line.
    pub fn apply_toml(&self, source: &str) -> Result<()> {
        self.apply_toml_as(source, LOCAL, ChangeSource::Api)
    }

    /// [`apply`](Self::apply), journaled as made by `who` from `source`.
    pub fn apply_as(&self, config: Config, who: &str, source: ChangeSource) -> Result<()> {
        config.validate()?;
        self.install(config, None, who, source)
    }

    /// [`apply_toml`](Self::apply_toml), journaled as made by `who` from `source`
    /// (the diff is on the TOML text).
    pub fn apply_toml_as(&self, text: &str, who: &str, source: ChangeSource) -> Result<()> {
        let config = Config::from_toml(text)?;
        self.install(config, Some(text.into()), who, source)
    }

    fn install(
        &self,
        config: Config,
        toml: Option<Arc<str>>,
        who: &str,
        source: ChangeSource,
    ) -> Result<()> {
        let mut journal = self.lock_journal();
        let before = self.snapshot(&journal);
        self.swap(&config)?;
        let after = Snapshot {
            config,
            toml,
            live: self.live(),
        };
        self.record(&mut journal, who, source, before, after);
        Ok(())
    }

    fn lock_journal(&self) -> std::sync::MutexGuard<'_, Journal> {
        self.shared
            .applying
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes `config` the running one. The caller holds the journal lock.
    fn swap(&self, config: &Config) -> Result<(), ConfigError> {
        let previous = self.shared.runtime.load_full();
        let runtime = Arc::new(self.build(config, &previous)?);
        self.shared.runtime.store(runtime.clone());
        self.shared.generation.fetch_add(1, Ordering::SeqCst);
        self.forget_removed_breakers(&previous, &runtime);
        self.restart_tasks(config, &runtime);
        Ok(())
    }

    /// Live (weight, shadow) of every split route.
    fn live(&self) -> BTreeMap<String, (u8, u8)> {
        self.shared
            .runtime
            .load()
            .routes
            .iter()
            .filter_map(|route| match &route.target {
                Target::Split { state, .. } => {
                    Some((route.name.to_string(), (state.weight(), state.shadow())))
                }
                Target::Cluster(_) => None,
            })
            .collect()
    }

    /// The running state, to put back on revert.
    fn snapshot(&self, journal: &Journal) -> Option<Snapshot> {
        journal.current.as_ref().map(|current| Snapshot {
            config: current.config.clone(),
            toml: current.toml.clone(),
            live: self.live(),
        })
    }

    fn record(
        &self,
        journal: &mut Journal,
        who: &str,
        source: ChangeSource,
        before: Option<Snapshot>,
        after: Snapshot,
    ) -> JournalEntry {
        journal.next_seq += 1;
        let entry = JournalEntry {
            seq: journal.next_seq,
            at: std::time::SystemTime::now(),
            who: who.to_owned(),
            source,
            diff: journal::diff(before.as_ref(), &after),
        };
        tracing::info!(seq = entry.seq, who, source = %entry.source, "configuration changed");
        if journal.entries.len() == JOURNAL_CAPACITY {
            journal.entries.pop_front();
        }
        journal.entries.push_back(Recorded {
            entry: entry.clone(),
            before: before.map(Arc::new),
        });
        journal.current = Some(Arc::new(after));
        // Nobody watching is fine.
        let _ = self.shared.entries.send(entry.clone());
        entry
    }

    /// Every journal entry from now on, as it is recorded. A receiver that falls
    /// more than a few dozen entries behind gets `RecvError::Lagged`; [`journal`]
    /// has them all.
    ///
    /// [`journal`]: Self::journal
    pub fn watch_journal(&self) -> broadcast::Receiver<JournalEntry> {
        self.shared.entries.subscribe()
    }

    /// Every change kept (the last [`JOURNAL_CAPACITY`]), oldest first.
    pub fn journal(&self) -> Vec<JournalEntry> {
        self.lock_journal()
            .entries
            .iter()
            .map(|r| r.entry.clone())
            .collect()
    }

    /// Puts back the configuration and live weights as they were just before entry
    /// `seq`, journaled as a new entry by `who`, which is returned.
    pub fn revert(&self, seq: u64, who: &str) -> Result<JournalEntry> {
        let mut journal = self.lock_journal();
        let target = journal
            .entries
            .iter()
            .find(|r| r.entry.seq == seq)
            .ok_or(Error::UnknownJournalEntry { seq })?
            .before
            .clone()
            .ok_or(Error::NothingBefore { seq })?;
        let before = self.snapshot(&journal);
        self.swap(&target.config)?;
        let runtime = self.shared.runtime.load();
        for route in &runtime.routes {
            if let (Target::Split { state, .. }, Some(&(weight, shadow))) =
                (&route.target, target.live.get(&*route.name))
            {
                state.set_weight(weight);
                state.set_shadow(shadow);
                state.set_rolled_back(false);
            }
        }
        let after = Snapshot {
            config: target.config.clone(),
            toml: target.toml.clone(),
            live: self.live(),
        };
        Ok(self.record(&mut journal, who, ChangeSource::Revert(seq), before, after))
    }

    fn build(&self, config: &Config, previous: &Runtime) -> Result<Runtime, ConfigError> {
        let invalid = |field: String, message: String| ConfigError {
            line: 0,
            field,
            message,
        };
        let mut clusters = Vec::new();
        for cluster in &config.clusters {
            let settings = breaker_config(&cluster.breaker);
            let mut instances = Vec::new();
            for address in &cluster.instances {
                let addr: SocketAddr = address.parse().map_err(|_| {
                    invalid(
                        format!("cluster {}", cluster.name),
                        format!("bad address {address}"),
                    )
                })?;
                let reused = previous
                    .clusters
                    .iter()
                    .filter(|c| *c.name == *cluster.name)
                    .flat_map(|c| c.instances.iter())
                    .find(|i| i.addr == addr && *i.breaker.config() == settings);
                let instance = match reused {
                    Some(instance) => instance.clone(),
                    None => {
                        let name = breaker_name(&cluster.name, &addr);
                        // A breaker of another configuration is replaced, not reused.
                        let _ = self.shared.registry.remove(&name);
                        let breaker = self
                            .shared
                            .registry
                            .breaker(&name, settings.clone())
                            .map_err(|e| invalid(name.clone(), e.to_string()))?;
                        Arc::new(Instance::new(addr, breaker))
                    }
                };
                instances.push(instance);
            }
            clusters.push(Arc::new(Cluster::new(cluster, instances)));
        }
        let find = |name: &str| {
            clusters
                .iter()
                .find(|c| &*c.name == name)
                .cloned()
                .ok_or_else(|| invalid(String::new(), format!("no cluster named {name:?}")))
        };
        let mut routes = Vec::new();
        for route in &config.routes {
            let shared = self.route_shared(route);
            let target = match (&route.cluster, &route.split) {
                (Some(cluster), _) => Target::Cluster(find(cluster)?),
                (None, Some(split)) => {
                    shared.split.configure(split.weight, split.shadow);
                    Target::Split {
                        legacy: find(&split.legacy)?,
                        new: find(&split.new)?,
                        sticky_header: HeaderName::from_bytes(split.sticky_header.as_bytes())
                            .map_err(|e| invalid(route.name.clone(), e.to_string()))?,
                        state: shared.split.clone(),
                    }
                }
                (None, None) => {
                    return Err(invalid(route.name.clone(), "no target".to_owned()));
                }
            };
            let retry = match &route.retry {
                Some(retry) => Some(
                    RetryPolicy::builder(format!("route.{}", route.name))
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
                        .classify(forward::retryable as Classifier)
                        .build()
                        .map_err(|e| {
                            invalid(format!("route {} retry", route.name), e.to_string())
                        })?,
                ),
                None => None,
            };
            let limiter = match &route.rate_limit {
                Some(limit) => Some(Limiter {
                    limiter: self.limiter(route, limit, &shared)?,
                    key_header: limit
                        .key_header
                        .as_ref()
                        .and_then(|h| HeaderName::from_bytes(h.as_bytes()).ok()),
                }),
                None => None,
            };
            let auth = match &route.auth {
                Some(auth) => Some(
                    Auth::new(auth)
                        .map_err(|e| invalid(format!("route {} auth", route.name), e))?,
                ),
                None => None,
            };
            routes.push(Route {
                name: route.name.as_str().into(),
                matcher: Matcher::new(route),
                target,
                timeout: route.timeout,
                retry,
                limiter,
                auth,
                adapter: route.adapter.clone(),
                stats: shared.stats.clone(),
            });
        }
        let sidecar = config
            .sidecar
            .as_ref()
            .map(|s| crate::sidecar::Sidecar::build(s, &clusters))
            .transpose()?;
        Ok(Runtime {
            routes,
            clusters,
            workers: config.workers,
            sidecar,
        })
    }

    fn route_shared(&self, route: &RouteConfig) -> Arc<RouteShared> {
        let mut routes = self
            .shared
            .routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        routes
            .entry(route.name.clone())
            .or_insert_with(|| {
                let (weight, shadow) = route
                    .split
                    .as_ref()
                    .map_or((0, 0), |s| (s.weight, s.shadow));
                Arc::new(RouteShared {
                    stats: Arc::default(),
                    split: Arc::new(SplitState::new(weight, shadow)),
                    limiter: Mutex::new(None),
                })
            })
            .clone()
    }

    /// The route's limiter, kept while its configuration stays the same (so are its
    /// keys and counts).
    fn limiter(
        &self,
        route: &RouteConfig,
        limit: &RateLimitConfig,
        shared: &RouteShared,
    ) -> Result<RateLimiter<String>, ConfigError> {
        let mut cached = shared
            .limiter
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((config, limiter)) = cached.as_ref()
            && config == limit
        {
            return Ok(limiter.clone());
        }
        let quota = Quota::new(limit.rate, limit.per).burst(limit.burst.unwrap_or(limit.rate));
        let mode = match limit.mode {
            LimitModeConfig::Enforce => LimitMode::Enforce,
            LimitModeConfig::Observe => LimitMode::ObserveOnly,
        };
        let limiter = RateLimiter::builder(format!("route.{}", route.name), quota)
            .mode(mode)
            .build()
            .map_err(|e| ConfigError {
                line: 0,
                field: format!("route {} rate_limit", route.name),
                message: e.to_string(),
            })?;
        *cached = Some((limit.clone(), limiter.clone()));
        Ok(limiter)
    }

    fn forget_removed_breakers(&self, previous: &Runtime, current: &Runtime) {
        let kept: Vec<&str> = current
            .clusters
            .iter()
            .flat_map(|c| c.instances.iter().map(|i| i.breaker.name()))
            .collect();
        for instance in previous.clusters.iter().flat_map(|c| c.instances.iter()) {
            if !kept.contains(&instance.breaker.name()) {
                let _ = self.shared.registry.remove(instance.breaker.name());
            }
        }
    }

    fn restart_tasks(&self, config: &Config, runtime: &Runtime) {
        let mut tasks = self
            .shared
            .tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for task in tasks.drain(..) {
            task.abort();
        }
        for cluster in &runtime.clusters {
            if let Some(health) = &cluster.health {
                tasks.push(tokio::spawn(crate::health::run(
                    cluster.clone(),
                    health.clone(),
                    crate::pool::Pool::default(),
                )));
            }
        }
        for (route, route_config) in runtime.routes.iter().zip(&config.routes) {
            let (Target::Split { new, state, .. }, Some(split)) =
                (&route.target, &route_config.split)
            else {
                continue;
            };
            if split.ramp.is_empty() && split.governor.is_none() {
                continue;
            }
            let interval = split
                .governor
                .as_ref()
                .map_or(Duration::from_secs(1), |g| g.interval);
            tasks.push(tokio::spawn(govern(
                Arc::downgrade(&self.shared),
                self.shared.generation.load(Ordering::SeqCst),
                route.name.clone(),
                Governor::new(split.ramp.clone(), split.governor.clone()),
                interval,
                state.clone(),
                route.stats.clone(),
                new.clone(),
            )));
        }
    }

    /// Sets the percentage of clients a split route sends to its new side.
    pub fn set_weight(&self, route: &str, percent: u8) -> Result<RouteState> {
        self.set_weight_as(route, percent, LOCAL)
    }

    /// [`set_weight`](Self::set_weight), journaled as made by `who`.
    pub fn set_weight_as(&self, route: &str, percent: u8, who: &str) -> Result<RouteState> {
        self.set_live(route, percent, who, |state| {
            state.set_weight(percent);
            state.set_rolled_back(false);
        })
    }

    /// Sets the percentage of a split route's requests shadowed to the other side.
    pub fn set_shadow(&self, route: &str, percent: u8) -> Result<RouteState> {
        self.set_shadow_as(route, percent, LOCAL)
    }

    /// [`set_shadow`](Self::set_shadow), journaled as made by `who`.
    pub fn set_shadow_as(&self, route: &str, percent: u8, who: &str) -> Result<RouteState> {
        self.set_live(route, percent, who, |state| state.set_shadow(percent))
    }

    fn set_live(
        &self,
        route: &str,
        percent: u8,
        who: &str,
        change: impl FnOnce(&SplitState),
    ) -> Result<RouteState> {
        let mut journal = self.lock_journal();
        let state = self.split_state(route, percent)?;
        self.record_live(&mut journal, who, ChangeSource::Api, || change(&state));
        drop(journal);
        self.route(route)
    }

    /// Makes a live change (weights, shadows) and journals it. The caller holds the
    /// journal lock.
    fn record_live(
        &self,
        journal: &mut Journal,
        who: &str,
        source: ChangeSource,
        change: impl FnOnce(),
    ) {
        let before = self.snapshot(journal);
        change();
        if let Some(before) = before {
            let after = Snapshot {
                live: self.live(),
                ..before.clone()
            };
            self.record(journal, who, source, Some(before), after);
        }
    }

    fn split_state(&self, name: &str, percent: u8) -> Result<Arc<SplitState>> {
        if percent > 100 {
            return Err(Error::Percent { value: percent });
        }
        let runtime = self.shared.runtime.load();
        let route = runtime
            .routes
            .iter()
            .find(|r| &*r.name == name)
            .ok_or_else(|| Error::UnknownRoute {
                name: name.to_owned(),
            })?;
        match &route.target {
            Target::Split { state, .. } => Ok(state.clone()),
            Target::Cluster(_) => Err(Error::NotSplit {
                name: name.to_owned(),
            }),
        }
    }

    /// Every route, in matching order, with its target, weights and counters.
    pub fn routes(&self) -> Vec<RouteState> {
        self.shared
            .runtime
            .load()
            .routes
            .iter()
            .map(route_state)
            .collect()
    }

    /// One route's state.
    pub fn route(&self, name: &str) -> Result<RouteState> {
        self.shared
            .runtime
            .load()
            .routes
            .iter()
            .find(|r| &*r.name == name)
            .map(route_state)
            .ok_or_else(|| Error::UnknownRoute {
                name: name.to_owned(),
            })
    }

    /// Every upstream instance, with its breaker and health.
    pub fn instances(&self) -> Vec<InstanceState> {
        let runtime = self.shared.runtime.load();
        runtime
            .clusters
            .iter()
            .flat_map(|cluster| {
                cluster.instances.iter().map(|instance| InstanceState {
                    cluster: cluster.name.to_string(),
                    address: instance.addr.to_string(),
                    breaker: instance.breaker.name().to_owned(),
                    breaker_state: instance.breaker.state(),
                    healthy: instance.is_healthy(),
                    outstanding: instance.outstanding(),
                })
            })
            .collect()
    }

    /// The registry holding the instances' breakers, for manual control.
    pub fn registry(&self) -> &Registry {
        &self.shared.registry
    }
}

fn route_state(route: &Route) -> RouteState {
    let would_limit = route.limiter.as_ref().map_or(0, |l| l.limiter.counts().2);
    let counters = route.stats.snapshot(would_limit);
    match &route.target {
        Target::Cluster(cluster) => RouteState {
            name: route.name.to_string(),
            target: RouteTarget::Cluster(cluster.name.to_string()),
            weight: None,
            shadow: None,
            rolled_back: false,
            counters,
        },
        Target::Split {
            legacy, new, state, ..
        } => RouteState {
            name: route.name.to_string(),
            target: RouteTarget::Split {
                legacy: legacy.name.to_string(),
                new: new.name.to_string(),
            },
            weight: Some(state.weight()),
            shadow: Some(state.shadow()),
            rolled_back: state.rolled_back(),
            counters,
        },
    }
}

/// Runs a split's governor until the next apply aborts it. Its moves are journaled
/// (as `ramp` or `governor`), so a revert or an operator sees them like any change.
#[allow(clippy::too_many_arguments)] // one task's whole state, passed once at spawn
async fn govern(
    shared: Weak<Shared>,
    generation: u64,
    route: Arc<str>,
    mut governor: Governor,
    interval: Duration,
    state: Arc<SplitState>,
    stats: Arc<RouteStats>,
    new: Arc<Cluster>,
) {
    let started = tokio::time::Instant::now();
    let mut ticker = tokio::time::interval(interval);
    let who = if governor.gated() { GOVERNOR } else { RAMP };
    loop {
        ticker.tick().await;
        let decision = governor.tick(
            started.elapsed(),
            stats.side_counts(),
            new.any_breaker_open(),
            state.weight(),
        );
        let (who, weight, rolled_back) = match decision {
            Decision::Hold => continue,
            Decision::Advance(weight) => {
                tracing::info!(route = %route, weight, "ramp advances");
                (who, weight, false)
            }
            Decision::Rollback => {
                tracing::warn!(route = %route, "new side's breaker opened: rolling back to legacy");
                (GOVERNOR, 0, true)
            }
        };
        // The gateway is gone: nothing left to govern.
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let gateway = Gateway { shared };
        let mut journal = gateway.lock_journal();
        if gateway.shared.generation.load(Ordering::SeqCst) != generation {
            // A newer configuration took over (and restarted its own governor).
            return;
        }
        gateway.record_live(&mut journal, who, ChangeSource::Governor, || {
            state.set_weight(weight);
            if rolled_back {
                state.set_rolled_back(true);
            }
        });
    }
}
