//! Manual control of one breaker.

use std::sync::Arc;

use tokio::sync::broadcast;

use super::Shared;
use super::state::{BreakerState, Command, Snapshot, Transition};

/// Operator control of a breaker: cloneable, and every command answers with the
/// resulting snapshot. Commands are idempotent: tripping a tripped breaker only
/// replaces who, why and the expiry.
#[derive(Clone)]
pub struct BreakerHandle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for BreakerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BreakerHandle")
            .field("name", &self.shared.name)
            .finish()
    }
}

impl BreakerHandle {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        BreakerHandle { shared }
    }

    /// The breaker's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Forces the breaker open: every call is rejected until released, reset or expired.
    pub fn trip(&self, command: Command) -> Snapshot {
        self.set(BreakerState::ForcedOpen, command)
    }

    /// Disables the breaker: every call goes through and nothing is recorded.
    pub fn disable(&self, command: Command) -> Snapshot {
        self.set(BreakerState::Disabled, command)
    }

    /// Observe-only: the breaker computes everything but never rejects, and counts the
    /// calls it would have rejected.
    pub fn observe(&self, command: Command) -> Snapshot {
        self.set(BreakerState::ObserveOnly, command)
    }

    /// Closes the breaker, clears its window and drops any override.
    pub fn reset(&self, by: impl Into<String>, reason: impl Into<String>) -> Snapshot {
        let (by, reason) = (by.into(), reason.into());
        self.shared
            .with_controller(|c, sh, now| c.reset(sh, now, by, reason));
        self.snapshot()
    }

    /// Drops the override: the automatic state machine takes over where it stands.
    pub fn release(&self, by: impl Into<String>, reason: impl Into<String>) -> Snapshot {
        let (by, reason) = (by.into(), reason.into());
        self.shared
            .with_controller(|c, sh, now| c.release(sh, now, by, reason));
        self.snapshot()
    }

    /// The breaker's state now.
    pub fn snapshot(&self) -> Snapshot {
        self.shared.snapshot()
    }

    /// Transitions from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Transition> {
        self.shared.events.subscribe()
    }

    fn set(&self, state: BreakerState, command: Command) -> Snapshot {
        self.shared
            .with_controller(|c, sh, now| c.set_manual(sh, now, state, command));
        self.snapshot()
    }
}
