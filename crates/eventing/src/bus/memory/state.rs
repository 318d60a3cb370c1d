//! The in-process bus's data: topics, groups, their queues and in-flight deliveries.
//! Every function here runs under the bus's mutex and never waits.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::Notify;
use tokio::time::Instant;

use super::Shared;
use super::delivery::{MemoryAnswer, ack_deadline, redeliver_after};
use crate::bus::{BusError, DeadLetter, Delivery, Message, SubscribeOptions};

#[derive(Default)]
pub(super) struct State {
    pub(super) topics: HashMap<String, TopicState>,
    pub(super) dead_letters: BTreeMap<u64, DeadLetter>,
    pub(super) next_dead_letter: u64,
    /// Identifies each delivery, so stale answers and timers can be told apart.
    pub(super) next_token: u64,
    pub(super) closed: bool,
}

impl State {
    pub(super) fn topic(&mut self, topic: &str) -> &mut TopicState {
        self.topics.entry(topic.to_owned()).or_default()
    }

    pub(super) fn group(&mut self, topic: &str, group: &str) -> Result<&mut GroupState, BusError> {
        self.topics
            .get_mut(topic)
            .and_then(|t| t.groups.get_mut(group))
            .ok_or_else(|| BusError::UnknownGroup {
                topic: topic.to_owned(),
                group: group.to_owned(),
            })
    }

    /// Hands the next ready message of a group to a member, if the group may deliver.
    pub(super) fn take(&mut self, key: &GroupKey, shared: &Arc<Shared>) -> Option<Delivery> {
        self.next_token += 1;
        let token = self.next_token;
        let topic = self.topics.get_mut(&key.topic)?;
        let group = topic.groups.get_mut(&key.group)?;
        if group.paused || group.in_flight.len() >= group.options.max_in_flight {
            return None;
        }
        // Redeliveries first, as JetStream does.
        let mut entry = match group.redeliver.pop_front() {
            Some(entry) => entry,
            None => {
                let entry = group.ready.pop_front()?;
                topic.room.notify_waiters();
                entry
            }
        };
        entry.deliveries += 1;
        entry.token = token;
        if entry.deliveries > 1 {
            group.redeliveries += 1;
        }
        let deadline = Instant::now() + group.options.ack_wait;
        let delivery = Delivery::new(
            Message::clone(&entry.message),
            entry.deliveries,
            MemoryAnswer {
                shared: shared.clone(),
                key: key.clone(),
                sequence: entry.sequence,
                token,
            },
        );
        let sequence = entry.sequence;
        group
            .in_flight
            .insert(sequence, InFlight { entry, deadline });
        tokio::spawn(ack_deadline(
            Arc::downgrade(shared),
            key.clone(),
            sequence,
            token,
            deadline,
        ));
        Some(delivery)
    }

    /// A delivery failed (nak or ack timeout): redeliver later, or dead-letter it.
    pub(super) fn fail(
        &mut self,
        shared: &Arc<Shared>,
        key: &GroupKey,
        entry: Entry,
        delay: Option<Duration>,
        reason: &str,
    ) {
        let Some(group) = self
            .topics
            .get_mut(&key.topic)
            .and_then(|t| t.groups.get_mut(&key.group))
        else {
            return;
        };
        group.wake.notify_waiters();
        let max_deliver = group.options.max_deliver;
        if entry.deliveries >= max_deliver {
            let reason = format!("max deliveries ({max_deliver}) reached: {reason}");
            self.dead_letter(key, entry, reason);
            return;
        }
        let delay = delay.unwrap_or_else(|| group.options.redelivery_delay(entry.deliveries));
        if delay.is_zero() {
            group.redeliver.push_back(entry);
            return;
        }
        let (sequence, token) = (entry.sequence, entry.token);
        group.waiting.insert(sequence, entry);
        tokio::spawn(redeliver_after(
            Arc::downgrade(shared),
            key.clone(),
            sequence,
            token,
            delay,
        ));
    }

    pub(super) fn dead_letter(&mut self, key: &GroupKey, entry: Entry, reason: String) {
        if let Some(group) = self
            .topics
            .get_mut(&key.topic)
            .and_then(|t| t.groups.get_mut(&key.group))
        {
            group.dead_lettered += 1;
            group.wake.notify_waiters();
        }
        self.next_dead_letter += 1;
        let id = self.next_dead_letter;
        tracing::debug!(topic = %key.topic, group = %key.group, id, %reason, "dead letter");
        self.dead_letters.insert(
            id,
            DeadLetter {
                id,
                group: key.group.clone(),
                message: Message::clone(&entry.message),
                reason,
                deliveries: entry.deliveries,
                failed_at: SystemTime::now(),
            },
        );
    }
}

#[derive(Default)]
pub(super) struct TopicState {
    pub(super) last_sequence: u64,
    /// De-duplication keys within the window, and when they were first seen.
    pub(super) seen: HashMap<String, u64>,
    pub(super) seen_order: VecDeque<(Instant, String)>,
    pub(super) groups: BTreeMap<String, GroupState>,
    /// Publishers waiting for room in a full group queue.
    pub(super) room: Arc<Notify>,
}

impl TopicState {
    pub(super) fn forget_expired(&mut self, now: Instant, window: Duration) {
        while let Some((since, _)) = self.seen_order.front() {
            if now.duration_since(*since) < window {
                break;
            }
            if let Some((_, key)) = self.seen_order.pop_front() {
                self.seen.remove(&key);
            }
        }
    }
}

pub(super) struct GroupState {
    pub(super) options: SubscribeOptions,
    /// New messages not delivered yet: the bounded queue.
    pub(super) ready: VecDeque<Entry>,
    /// Failed deliveries whose redelivery delay is over; handed out before new ones.
    pub(super) redeliver: VecDeque<Entry>,
    pub(super) in_flight: HashMap<u64, InFlight>,
    /// Failed deliveries waiting out their redelivery delay.
    pub(super) waiting: HashMap<u64, Entry>,
    pub(super) paused: bool,
    pub(super) redeliveries: u64,
    pub(super) dead_lettered: u64,
    /// Members waiting for a delivery.
    pub(super) wake: Arc<Notify>,
}

impl GroupState {
    pub(super) fn new(options: SubscribeOptions) -> Self {
        GroupState {
            options,
            ready: VecDeque::new(),
            redeliver: VecDeque::new(),
            in_flight: HashMap::new(),
            waiting: HashMap::new(),
            paused: false,
            redeliveries: 0,
            dead_lettered: 0,
            wake: Arc::new(Notify::new()),
        }
    }

    pub(super) fn lag(&self) -> u64 {
        (self.ready.len() + self.redeliver.len() + self.in_flight.len() + self.waiting.len()) as u64
    }

    /// Takes the in-flight entry of this delivery, if it is still the current one.
    pub(super) fn take_in_flight(&mut self, sequence: u64, token: u64) -> Option<Entry> {
        match self.in_flight.get(&sequence) {
            Some(f) if f.entry.token == token => self.in_flight.remove(&sequence).map(|f| f.entry),
            _ => None,
        }
    }

    /// Takes the entry of this delivery while it waits for redelivery (a late answer).
    pub(super) fn take_waiting(&mut self, sequence: u64, token: u64) -> Option<Entry> {
        match self.waiting.get(&sequence) {
            Some(entry) if entry.token == token => self.waiting.remove(&sequence),
            _ => None,
        }
    }
}

pub(super) struct Entry {
    pub(super) sequence: u64,
    pub(super) message: Arc<Message>,
    /// Deliveries so far.
    pub(super) deliveries: u32,
    /// The token of the latest delivery.
    pub(super) token: u64,
}

impl Entry {
    pub(super) fn new(sequence: u64, message: Arc<Message>) -> Self {
        Entry {
            sequence,
            message,
            deliveries: 0,
            token: 0,
        }
    }
}

pub(super) struct InFlight {
    pub(super) entry: Entry,
    pub(super) deadline: Instant,
}

#[derive(Debug, Clone)]
pub(super) struct GroupKey {
    pub(super) topic: String,
    pub(super) group: String,
}
