//! The in-process bus: per topic and group a bounded queue, tokio timers for ack
//! deadlines and redelivery delays, dead letters in memory.
//!
//! - Nothing is stored for a topic without groups: a publish there only takes the next
//!   sequence number (and its id is remembered for de-duplication). A group receives what
//!   is published after it was created.
//! - A publish waits while any group's queue of undelivered messages is full
//!   ([`MemoryBusOptions::queue_capacity`]); nothing is dropped. Redeliveries wait in a
//!   queue of their own, outside that bound (a timer cannot wait), and go first.
//! - An answer to a delivery that was already redelivered (after its ack deadline) is
//!   ignored; a late `ack` or `term` still counts while the message waits out its
//!   redelivery delay.
//! - Everything lives in one mutex that is never held across an `.await`.

mod delivery;
mod state;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use delivery::Member;
use state::{Entry, GroupKey, GroupState, State};

use super::metrics::{self, GroupMetrics, MetricsSource};
use super::{
    BusError, ConsumerStats, DeadLetter, EventBus, Message, PublishAck, REPLAY_GROUP_HEADER,
    REPLAY_OF_HEADER, SubscribeOptions, Subscription, stamp_trace_context, validate_message,
    validate_options,
};

/// Sizing of a [`MemoryBus`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryBusOptions {
    /// Undelivered messages per group before a publish waits.
    pub queue_capacity: usize,
    /// How long a message id is remembered for de-duplication.
    pub dedup_window: Duration,
}

impl Default for MemoryBusOptions {
    fn default() -> Self {
        MemoryBusOptions {
            queue_capacity: 1024,
            dedup_window: Duration::from_secs(120),
        }
    }
}

impl MemoryBusOptions {
    pub fn queue_capacity(mut self, queue_capacity: usize) -> Self {
        self.queue_capacity = queue_capacity;
        self
    }

    pub fn dedup_window(mut self, dedup_window: Duration) -> Self {
        self.dedup_window = dedup_window;
        self
    }
}

/// The in-process [`EventBus`]; cheap to clone (clones share the bus).
#[derive(Debug, Clone)]
pub struct MemoryBus {
    shared: Arc<Shared>,
}

impl Default for MemoryBus {
    fn default() -> Self {
        MemoryBus::new()
    }
}

impl MemoryBus {
    pub fn new() -> Self {
        MemoryBus::with_options(MemoryBusOptions::default())
    }

    /// A bus with these options; a zero queue capacity counts as 1.
    pub fn with_options(options: MemoryBusOptions) -> Self {
        let shared = Arc::new(Shared {
            options: MemoryBusOptions {
                queue_capacity: options.queue_capacity.max(1),
                ..options
            },
            state: Mutex::new(State::default()),
        });
        metrics::register(metrics::weak_source(&shared));
        MemoryBus { shared }
    }

    /// Closes the bus: publishes fail with [`BusError::Closed`], subscriptions end.
    pub fn close(&self) {
        let mut state = self.shared.lock();
        state.closed = true;
        for topic in state.topics.values() {
            topic.room.notify_waiters();
            for group in topic.groups.values() {
                group.wake.notify_waiters();
            }
        }
    }

    /// Publishes under `dedup_key` to all groups, or only to `only_group`.
    async fn publish_keyed(
        &self,
        mut message: Message,
        dedup_key: String,
        only_group: Option<&str>,
    ) -> Result<PublishAck, BusError> {
        validate_message(&message)?;
        stamp_trace_context(&mut message);
        let message = Arc::new(message);
        let capacity = self.shared.options.queue_capacity;
        let window = self.shared.options.dedup_window;
        loop {
            // Register for "room" before looking, so a delivery in between is not missed.
            let room = self.shared.lock().topic(&message.topic).room.clone();
            let notified = room.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut state = self.shared.lock();
                if state.closed {
                    return Err(BusError::Closed);
                }
                let topic = state.topic(&message.topic);
                topic.forget_expired(Instant::now(), window);
                if let Some(&sequence) = topic.seen.get(&dedup_key) {
                    return Ok(PublishAck {
                        sequence,
                        duplicate: true,
                    });
                }
                let targets = |name: &String| only_group.is_none_or(|only| only == name);
                let full = topic
                    .groups
                    .iter()
                    .any(|(name, group)| targets(name) && group.ready.len() >= capacity);
                if !full {
                    topic.last_sequence += 1;
                    let sequence = topic.last_sequence;
                    topic.seen.insert(dedup_key.clone(), sequence);
                    topic.seen_order.push_back((Instant::now(), dedup_key));
                    for (_, group) in topic.groups.iter_mut().filter(|(name, _)| targets(name)) {
                        group.ready.push_back(Entry::new(sequence, message.clone()));
                        group.wake.notify_waiters();
                    }
                    return Ok(PublishAck {
                        sequence,
                        duplicate: false,
                    });
                }
            }
            notified.await;
        }
    }
}

#[async_trait]
impl EventBus for MemoryBus {
    async fn publish(&self, message: Message) -> Result<PublishAck, BusError> {
        let key = message.id.clone();
        self.publish_keyed(message, key, None).await
    }

    async fn subscribe(&self, options: SubscribeOptions) -> Result<Subscription, BusError> {
        validate_options(&options)?;
        let mut state = self.shared.lock();
        if state.closed {
            return Err(BusError::Closed);
        }
        let topic = state.topic(&options.topic);
        let group = topic
            .groups
            .entry(options.group.clone())
            .or_insert_with(|| GroupState::new(options.clone()));
        // Like a JetStream consumer update: the latest subscriber's settings apply.
        group.options = options.clone();
        let wake = group.wake.clone();
        Ok(Subscription::new(Member {
            shared: self.shared.clone(),
            key: GroupKey {
                topic: options.topic,
                group: options.group,
            },
            wake,
        }))
    }

    async fn consumer_stats(&self, topic: &str, group: &str) -> Result<ConsumerStats, BusError> {
        let mut state = self.shared.lock();
        let g = state.group(topic, group)?;
        Ok(ConsumerStats {
            topic: topic.to_owned(),
            group: group.to_owned(),
            lag: g.lag(),
            in_flight: g.in_flight.len() as u64,
            redeliveries: g.redeliveries,
            dead_lettered: g.dead_lettered,
            paused: g.paused,
        })
    }

    async fn pause(&self, topic: &str, group: &str) -> Result<(), BusError> {
        self.shared.lock().group(topic, group)?.paused = true;
        Ok(())
    }

    async fn resume(&self, topic: &str, group: &str) -> Result<(), BusError> {
        let mut state = self.shared.lock();
        let g = state.group(topic, group)?;
        g.paused = false;
        g.wake.notify_waiters();
        Ok(())
    }

    async fn dead_letters(&self, topic: Option<&str>) -> Result<Vec<DeadLetter>, BusError> {
        let state = self.shared.lock();
        Ok(state
            .dead_letters
            .values()
            .filter(|letter| topic.is_none_or(|t| t == letter.message.topic))
            .cloned()
            .collect())
    }

    async fn replay_dead_letter(&self, id: u64) -> Result<PublishAck, BusError> {
        let letter = self
            .shared
            .lock()
            .dead_letters
            .get(&id)
            .cloned()
            .ok_or(BusError::UnknownDeadLetter(id))?;
        let key = format!("{}#replay-{id}", letter.message.id);
        let message = letter
            .message
            .with_header(REPLAY_OF_HEADER, id.to_string())
            .with_header(REPLAY_GROUP_HEADER, letter.group.clone());
        let ack = self
            .publish_keyed(message, key, Some(&letter.group))
            .await?;
        self.shared.lock().dead_letters.remove(&id);
        Ok(ack)
    }
}

struct Shared {
    options: MemoryBusOptions,
    state: Mutex<State>,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryBus")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent data (no await inside).
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl MetricsSource for Shared {
    fn group_metrics(&self) -> Vec<GroupMetrics> {
        let state = self.lock();
        state
            .topics
            .iter()
            .flat_map(|(topic, t)| {
                t.groups.iter().map(move |(group, g)| GroupMetrics {
                    topic: topic.clone(),
                    group: group.clone(),
                    lag: g.lag(),
                    redeliveries: g.redeliveries,
                    dead_lettered: g.dead_lettered,
                    paused: g.paused,
                })
            })
            .collect()
    }
}
