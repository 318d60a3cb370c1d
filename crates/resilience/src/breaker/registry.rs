//! Named breakers, for the agent's control API: list them, watch their transitions,
//! command them by name.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};

use futures::Stream;
use tokio::sync::broadcast;

use super::Breaker;
use super::config::BreakerConfig;
use super::handle::BreakerHandle;
use super::state::{Command, Snapshot, Transition};
use crate::clock::{Clock, default_clock};
use crate::error::{Error, Lagged, Result};
use crate::telemetry::Telemetry;

/// A set of named breakers sharing one transition stream, telemetry and clock.
/// Cheap to clone: clones are the same registry.
#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

struct Inner {
    breakers: RwLock<BTreeMap<Arc<str>, Breaker>>,
    events: broadcast::Sender<Transition>,
    telemetry: Telemetry,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("breakers", &self.names())
            .finish()
    }
}

/// Builds a [`Registry`].
#[derive(Debug)]
pub struct RegistryBuilder {
    telemetry: Option<Telemetry>,
    clock: Option<Arc<dyn Clock>>,
    event_capacity: usize,
}

impl RegistryBuilder {
    /// Where the breakers' metrics go (default: [`Telemetry::global`]).
    pub fn telemetry(mut self, telemetry: Telemetry) -> Self {
        self.telemetry = Some(telemetry);
        self
    }

    /// The breakers' clock (default: tokio's).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// How many transitions the stream buffers for a slow watcher (default 1024).
    pub fn event_capacity(mut self, capacity: usize) -> Self {
        self.event_capacity = capacity.max(1);
        self
    }

    /// Builds the registry.
    pub fn build(self) -> Registry {
        Registry {
            inner: Arc::new(Inner {
                breakers: RwLock::default(),
                events: broadcast::channel(self.event_capacity).0,
                telemetry: self.telemetry.unwrap_or_else(Telemetry::global),
                clock: self.clock.unwrap_or_else(default_clock),
            }),
        }
    }
}

impl Default for Registry {
    fn default() -> Self {
        Self::builder().build()
    }
}

impl Registry {
    /// A registry with the global telemetry and tokio's clock.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts building a registry.
    pub fn builder() -> RegistryBuilder {
        RegistryBuilder {
            telemetry: None,
            clock: None,
            event_capacity: 1024,
        }
    }

    /// The breaker named `name`, built with `config` if there is none yet (an existing
    /// breaker keeps its own configuration).
    pub fn breaker(&self, name: &str, config: BreakerConfig) -> Result<Breaker> {
        if let Ok(existing) = self.get(name) {
            return Ok(existing);
        }
        let mut breakers = self
            .inner
            .breakers
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(existing) = breakers.get(name) {
            return Ok(existing.clone());
        }
        let breaker = Breaker::builder(name)
            .config(config)
            .clock_arc(self.inner.clock.clone())
            .telemetry(self.inner.telemetry.clone())
            .transitions(self.inner.events.clone())
            .build()?;
        breakers.insert(breaker.shared().name.clone(), breaker.clone());
        Ok(breaker)
    }

    /// The breaker named `name`.
    pub fn get(&self, name: &str) -> Result<Breaker> {
        self.inner
            .breakers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
            .ok_or_else(|| Error::UnknownBreaker {
                name: name.to_owned(),
            })
    }

    /// A control handle for the breaker named `name`.
    pub fn handle(&self, name: &str) -> Result<BreakerHandle> {
        self.get(name).map(|b| b.handle())
    }

    /// Removes the breaker named `name` from the registry (its clones keep working).
    pub fn remove(&self, name: &str) -> Result<Breaker> {
        self.inner
            .breakers
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name)
            .ok_or_else(|| Error::UnknownBreaker {
                name: name.to_owned(),
            })
    }

    /// The breakers' names, sorted.
    pub fn names(&self) -> Vec<Arc<str>> {
        let breakers = self
            .inner
            .breakers
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        breakers.keys().cloned().collect()
    }

    /// A snapshot of every breaker, sorted by name.
    pub fn list(&self) -> Vec<Snapshot> {
        let breakers: Vec<Breaker> = {
            let map = self
                .inner
                .breakers
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            map.values().cloned().collect()
        };
        breakers.iter().map(Breaker::snapshot).collect()
    }

    /// A snapshot of the breaker named `name`.
    pub fn snapshot(&self, name: &str) -> Result<Snapshot> {
        self.get(name).map(|b| b.snapshot())
    }

    /// Forces the named breaker open (see [`BreakerHandle::trip`]).
    pub fn trip(&self, name: &str, command: Command) -> Result<Snapshot> {
        self.handle(name).map(|h| h.trip(command))
    }

    /// Disables the named breaker (see [`BreakerHandle::disable`]).
    pub fn disable(&self, name: &str, command: Command) -> Result<Snapshot> {
        self.handle(name).map(|h| h.disable(command))
    }

    /// Puts the named breaker in observe-only mode (see [`BreakerHandle::observe`]).
    pub fn observe(&self, name: &str, command: Command) -> Result<Snapshot> {
        self.handle(name).map(|h| h.observe(command))
    }

    /// Resets the named breaker (see [`BreakerHandle::reset`]).
    pub fn reset(&self, name: &str, by: &str, reason: &str) -> Result<Snapshot> {
        self.handle(name).map(|h| h.reset(by, reason))
    }

    /// Releases the named breaker's override (see [`BreakerHandle::release`]).
    pub fn release(&self, name: &str, by: &str, reason: &str) -> Result<Snapshot> {
        self.handle(name).map(|h| h.release(by, reason))
    }

    /// Every breaker's transitions from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Transition> {
        self.inner.events.subscribe()
    }

    /// Every breaker's transitions from now on, as a stream. A watcher that falls more
    /// than the buffer behind gets a [`Lagged`] item (and should re-read [`list`](Self::list)).
    pub fn watch(&self) -> impl Stream<Item = Result<Transition, Lagged>> + Send + 'static {
        futures::stream::unfold(self.subscribe(), |mut rx| async move {
            match rx.recv().await {
                Ok(t) => Some((Ok(t), rx)),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    Some((Err(Lagged { missed }), rx))
                }
                Err(broadcast::error::RecvError::Closed) => None,
            }
        })
    }
}
