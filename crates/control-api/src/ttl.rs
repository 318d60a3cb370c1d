//! Expiry of manual overrides, for backends that have none of their own.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::AbortHandle;

use crate::bus::StateBus;
use crate::proto::state_change::Change;

/// One pending expiry per key (e.g. a breaker's name): scheduling again replaces
/// it, so re-issuing an override with a new time to live moves its expiry. When a
/// timer fires it runs the backend's revert and publishes the change it returns.
#[derive(Debug, Clone)]
pub struct TtlTimers {
    bus: StateBus,
    pending: Arc<Mutex<HashMap<String, (u64, AbortHandle)>>>,
    generation: Arc<AtomicU64>,
}

impl TtlTimers {
    /// Timers that publish their changes on `bus`.
    pub fn new(bus: StateBus) -> Self {
        TtlTimers {
            bus,
            pending: Arc::default(),
            generation: Arc::default(),
        }
    }

    /// After `ttl`, runs `on_expiry` and publishes the change it returns, unless the
    /// key is scheduled again or cancelled first. Must be called within a Tokio
    /// runtime.
    pub fn schedule<F, Fut>(&self, key: impl Into<String>, ttl: Duration, on_expiry: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Option<Change>> + Send + 'static,
    {
        let key = key.into();
        let generation = self.generation.fetch_add(1, Ordering::Relaxed);
        let pending = Arc::clone(&self.pending);
        let bus = self.bus.clone();
        let task_key = key.clone();
        // Held across spawn and insert so that even a zero ttl finds its own entry.
        let mut map = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let task = tokio::spawn(async move {
            tokio::time::sleep(ttl).await;
            {
                let mut map = pending.lock().unwrap_or_else(|p| p.into_inner());
                match map.get(&task_key) {
                    Some((current, _)) if *current == generation => {
                        map.remove(&task_key);
                    }
                    // Replaced or cancelled while the abort raced with the wake-up.
                    _ => return,
                }
            }
            if let Some(change) = on_expiry().await {
                bus.emit(change);
            }
        });
        if let Some((_, previous)) = map.insert(key, (generation, task.abort_handle())) {
            previous.abort();
        }
    }

    /// Cancels `key`'s expiry (the override was released or reset by hand); whether
    /// one was pending.
    pub fn cancel(&self, key: &str) -> bool {
        let mut map = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        match map.remove(key) {
            Some((_, handle)) => {
                handle.abort();
                true
            }
            None => false,
        }
    }

    /// Whether `key` has an expiry pending.
    pub fn is_pending(&self, key: &str) -> bool {
        let map = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        map.contains_key(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::StateSource;
    use crate::proto::FaultChange;

    fn change(note: &str) -> Option<Change> {
        Some(Change::Fault(FaultChange {
            note: note.to_owned(),
            ..FaultChange::default()
        }))
    }

    #[tokio::test(start_paused = true)]
    async fn fires_once_and_rescheduling_replaces() {
        let bus = StateBus::new(8);
        let mut rx = bus.subscribe();
        let timers = TtlTimers::new(bus);
        timers.schedule("b", Duration::from_secs(5), || async { change("first") });
        timers.schedule("b", Duration::from_secs(10), || async { change("second") });
        tokio::time::sleep(Duration::from_secs(6)).await;
        assert!(rx.try_recv().is_err(), "the replaced timer must not fire");
        assert!(timers.is_pending("b"));
        tokio::time::sleep(Duration::from_secs(5)).await;
        let got = rx.recv().await.expect("expiry published");
        assert!(matches!(got.change, Some(Change::Fault(f)) if f.note == "second"));
        assert!(!timers.is_pending("b"));
    }

    #[tokio::test(start_paused = true)]
    async fn cancelled_timers_do_nothing() {
        let bus = StateBus::new(8);
        let mut rx = bus.subscribe();
        let timers = TtlTimers::new(bus);
        timers.schedule("b", Duration::from_secs(1), || async { change("x") });
        assert!(timers.cancel("b"));
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(rx.try_recv().is_err());
    }
}
