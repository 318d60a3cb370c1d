//! The in-process bus's delivery side: group members, answers and the timers of ack
//! deadlines and redelivery delays.

use std::sync::{Arc, Weak};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::Shared;
use super::state::GroupKey;
use crate::bus::{Answer, BusError, Delivery, DeliverySource};

/// Fails a delivery that is not answered by its deadline (which `progress` moves).
pub(super) async fn ack_deadline(
    shared: Weak<Shared>,
    key: GroupKey,
    sequence: u64,
    token: u64,
    mut deadline: Instant,
) {
    loop {
        tokio::time::sleep_until(deadline).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let mut state = shared.lock();
        let Ok(group) = state.group(&key.topic, &key.group) else {
            return;
        };
        match group.in_flight.get(&sequence) {
            Some(f) if f.entry.token == token && f.deadline > Instant::now() => {
                deadline = f.deadline;
            }
            Some(f) if f.entry.token == token => {
                let Some(entry) = group.take_in_flight(sequence, token) else {
                    return;
                };
                state.fail(&shared, &key, entry, None, "ack timeout");
                return;
            }
            _ => return,
        }
    }
}

/// Puts a failed delivery back in the queue once its redelivery delay is over.
pub(super) async fn redeliver_after(
    shared: Weak<Shared>,
    key: GroupKey,
    sequence: u64,
    token: u64,
    delay: Duration,
) {
    tokio::time::sleep(delay).await;
    let Some(shared) = shared.upgrade() else {
        return;
    };
    let mut state = shared.lock();
    if let Ok(group) = state.group(&key.topic, &key.group)
        && let Some(entry) = group.take_waiting(sequence, token)
    {
        group.redeliver.push_back(entry);
        group.wake.notify_waiters();
    }
}

/// One member of a group.
pub(super) struct Member {
    pub(super) shared: Arc<Shared>,
    pub(super) key: GroupKey,
    pub(super) wake: Arc<Notify>,
}

#[async_trait]
impl DeliverySource for Member {
    async fn next(&mut self) -> Option<Result<Delivery, BusError>> {
        loop {
            let notified = self.wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut state = self.shared.lock();
                if state.closed {
                    return None;
                }
                if let Some(delivery) = state.take(&self.key, &self.shared) {
                    return Some(Ok(delivery));
                }
            }
            notified.await;
        }
    }
}

pub(super) struct MemoryAnswer {
    pub(super) shared: Arc<Shared>,
    pub(super) key: GroupKey,
    pub(super) sequence: u64,
    pub(super) token: u64,
}

#[async_trait]
impl Answer for MemoryAnswer {
    async fn ack(&self) -> Result<(), BusError> {
        let mut state = self.shared.lock();
        if let Ok(group) = state.group(&self.key.topic, &self.key.group) {
            let answered = group.take_in_flight(self.sequence, self.token).is_some()
                || group.take_waiting(self.sequence, self.token).is_some();
            if answered {
                group.wake.notify_waiters();
            }
        }
        Ok(())
    }

    async fn nak(&self, delay: Option<Duration>, reason: &str) -> Result<(), BusError> {
        let mut state = self.shared.lock();
        let entry = state
            .group(&self.key.topic, &self.key.group)
            .ok()
            .and_then(|group| group.take_in_flight(self.sequence, self.token));
        if let Some(entry) = entry {
            state.fail(&self.shared, &self.key, entry, delay, reason);
        }
        Ok(())
    }

    async fn progress(&self) -> Result<(), BusError> {
        let mut state = self.shared.lock();
        if let Ok(group) = state.group(&self.key.topic, &self.key.group) {
            let ack_wait = group.options.ack_wait;
            if let Some(f) = group.in_flight.get_mut(&self.sequence)
                && f.entry.token == self.token
            {
                f.deadline = Instant::now() + ack_wait;
            }
        }
        Ok(())
    }

    async fn term(&self, reason: &str) -> Result<(), BusError> {
        let mut state = self.shared.lock();
        let entry = state
            .group(&self.key.topic, &self.key.group)
            .ok()
            .and_then(|group| {
                group
                    .take_in_flight(self.sequence, self.token)
                    .or_else(|| group.take_waiting(self.sequence, self.token))
            });
        if let Some(entry) = entry {
            state.dead_letter(&self.key, entry, format!("terminated: {reason}"));
        }
        Ok(())
    }
}
