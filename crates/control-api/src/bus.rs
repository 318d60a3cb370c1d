//! A ready-made [`StateSource`]: a broadcast channel of changes.

use tokio::sync::broadcast;

use crate::backend::StateSource;
use crate::proto::{self, state_change::Change};
use crate::time::now_unix_ms;

/// A broadcast of [`proto::StateChange`]s; cheap to clone, every clone publishes to
/// the same subscribers.
#[derive(Debug, Clone)]
pub struct StateBus {
    sender: broadcast::Sender<proto::StateChange>,
}

impl StateBus {
    /// A bus keeping up to `capacity` changes for slow subscribers.
    pub fn new(capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity.max(1));
        StateBus { sender }
    }

    /// Publishes `change`, stamped now.
    pub fn emit(&self, change: Change) {
        self.publish(proto::StateChange {
            at_unix_ms: now_unix_ms(),
            change: Some(change),
        });
    }
}

impl Default for StateBus {
    fn default() -> Self {
        StateBus::new(1024)
    }
}

impl StateSource for StateBus {
    fn subscribe(&self) -> broadcast::Receiver<proto::StateChange> {
        self.sender.subscribe()
    }

    fn publish(&self, change: proto::StateChange) {
        // No subscribers is not an error: nobody is watching.
        let _ = self.sender.send(change);
    }
}
