//! The event bus: publish and subscribe with consumer groups, at-least-once delivery,
//! redelivery on a backoff schedule, dead letters, de-duplication by message id and W3C
//! trace context in headers.
//!
//! One trait, [`EventBus`], two implementations: [`MemoryBus`] (in-process, bounded,
//! back-pressure instead of loss) and [`JetStreamBus`] (NATS JetStream streams and durable
//! pull consumers). Both pass the same test suite (`tests/bus.rs`).
//!
//! Semantics common to both:
//! - A *topic* is one event type. A *group* is a durable consumer of one topic; every
//!   message published after the group was created goes to exactly one of its members
//!   (subscriptions with the same topic and group), at least once.
//! - A delivery is answered with [`Delivery::ack`], [`Delivery::nak`] (redeliver after a
//!   delay), [`Delivery::progress`] (still working: restart the ack timer) or
//!   [`Delivery::term`] (never redeliver: straight to the dead letters, with the reason).
//!   No answer within `ack_wait` counts as a nak.
//! - Delivery `n` (1-based) that is not acknowledged is redelivered after
//!   `backoff[n-1]` (the last entry repeats); after `max_deliver` deliveries the message
//!   moves to the dead letters with the reason, where an operator can list and replay it.
//! - Publishing the same message id twice within the de-duplication window stores it
//!   once; the second publish answers `duplicate: true`.
//! - A replayed dead letter keeps its message id (consumers may de-duplicate on it) and
//!   goes only to the group that gave up on it: it carries [`REPLAY_GROUP_HEADER`], and
//!   members of other groups acknowledge it without handing it out.
//! - Topics are NATS-style names: non-empty dot-separated tokens without whitespace,
//!   `*` or `>` (see [`validate_topic`]); both implementations enforce the same rules.
//!
//! Metrics (both implementations): observable instruments on the global meter
//! `switchyard-eventing`, named by [`switchyard_conventions::eventing`], registered when
//! the bus is created, so install the meter provider first.

mod metrics;
mod trace_context;

pub mod jetstream;
pub mod memory;
mod typed;

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;

pub use jetstream::{JetStreamBus, JetStreamOptions};
pub use memory::{MemoryBus, MemoryBusOptions};
pub use trace_context::{extract_context, inject_context};
pub use typed::{
    CONTENT_TYPE_HEADER, Topic, TypedDelivery, TypedSubscription, event_message, publish_event,
    subscribe_events,
};

/// Header that carries the message id (the de-duplication key) on every transport.
pub const MESSAGE_ID_HEADER: &str = "Switchyard-Message-Id";

/// Header of a replayed dead letter: the dead letter's id.
pub const REPLAY_OF_HEADER: &str = "Switchyard-Replay-Of";

/// Header of a replayed dead letter: the group it is replayed to; other groups skip it.
pub const REPLAY_GROUP_HEADER: &str = "Switchyard-Replay-Group";

/// Checks a topic name: non-empty dot-separated tokens, no whitespace or control
/// characters, no wildcards (`*`, `>`).
pub fn validate_topic(topic: &str) -> Result<(), BusError> {
    let invalid = |reason: String| BusError::Invalid {
        what: "topic",
        reason,
    };
    if topic.is_empty() {
        return Err(invalid("the topic name is empty".into()));
    }
    if let Some(c) = topic
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || *c == '*' || *c == '>')
    {
        return Err(invalid(format!(
            "{topic:?} contains {c:?}; topics cannot hold whitespace, control characters, `*` or `>`"
        )));
    }
    if topic.split('.').any(str::is_empty) {
        return Err(invalid(format!(
            "{topic:?} has an empty token (leading, trailing or doubled `.`)"
        )));
    }
    Ok(())
}

/// Checks a group name: non-empty, no control characters (it travels in headers).
pub(crate) fn validate_group(group: &str) -> Result<(), BusError> {
    if group.is_empty() || group.chars().any(char::is_control) {
        return Err(BusError::Invalid {
            what: "group",
            reason: format!("{group:?} must be non-empty without control characters"),
        });
    }
    Ok(())
}

/// Checks what a subscription needs before any broker is asked.
pub(crate) fn validate_options(options: &SubscribeOptions) -> Result<(), BusError> {
    validate_topic(&options.topic)?;
    validate_group(&options.group)?;
    let invalid = |reason: &str| BusError::Invalid {
        what: "subscribe options",
        reason: reason.into(),
    };
    if options.max_deliver == 0 {
        return Err(invalid("max_deliver must be at least 1"));
    }
    if options.max_in_flight == 0 {
        return Err(invalid("max_in_flight must be at least 1"));
    }
    if options.ack_wait.is_zero() || options.ack_wait > MAX_ACK_WAIT {
        return Err(invalid("ack_wait must be positive and at most a year"));
    }
    Ok(())
}

/// Longer would overflow the broker's nanosecond fields; use `progress` for long work.
const MAX_ACK_WAIT: Duration = Duration::from_secs(365 * 24 * 3600);

/// Checks what every publish needs: a valid topic and a usable message id.
pub(crate) fn validate_message(message: &Message) -> Result<(), BusError> {
    validate_topic(&message.topic)?;
    if message.id.is_empty() || message.id.contains(['\r', '\n']) {
        return Err(BusError::Invalid {
            what: "message id",
            reason: format!(
                "{:?} must be non-empty without line breaks (it is the de-duplication key)",
                message.id
            ),
        });
    }
    Ok(())
}

/// Adds the current trace context unless the message already carries one.
pub(crate) fn stamp_trace_context(message: &mut Message) {
    if !message.headers.contains_key(trace_context::TRACEPARENT) {
        inject_context(&opentelemetry::Context::current(), &mut message.headers);
    }
}

/// Whether a delivery is a dead letter replayed to another group.
pub(crate) fn replayed_for_other_group(message: &Message, group: &str) -> bool {
    message
        .headers
        .get(REPLAY_GROUP_HEADER)
        .is_some_and(|target| target != group)
}

/// One message on the bus: an id (the de-duplication key), a topic, a payload and headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: String,
    pub topic: String,
    pub payload: Bytes,
    /// Application headers, and `traceparent`/`tracestate` when published inside a span.
    pub headers: BTreeMap<String, String>,
}

impl Message {
    pub fn new(topic: impl Into<String>, id: impl Into<String>, payload: impl Into<Bytes>) -> Self {
        Message {
            id: id.into(),
            topic: topic.into(),
            payload: payload.into(),
            headers: BTreeMap::new(),
        }
    }

    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }
}

/// The bus's answer to a publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishAck {
    /// The message's position in its topic (JetStream: the stream sequence).
    pub sequence: u64,
    /// The message id was seen within the de-duplication window; nothing new was stored.
    pub duplicate: bool,
}

/// How a group consumes a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeOptions {
    pub topic: String,
    pub group: String,
    /// How long a delivery may stay unanswered before it counts as a nak.
    pub ack_wait: Duration,
    /// Deliveries of one message before it moves to the dead letters (at least 1).
    pub max_deliver: u32,
    /// Delay before redelivery `n+1` after delivery `n` failed; the last entry repeats.
    /// Empty: redeliver at once.
    pub backoff: Vec<Duration>,
    /// Deliveries a group may have unanswered at once; no more are handed out until some
    /// are answered.
    pub max_in_flight: usize,
}

impl SubscribeOptions {
    pub fn new(topic: impl Into<String>, group: impl Into<String>) -> Self {
        SubscribeOptions {
            topic: topic.into(),
            group: group.into(),
            ack_wait: Duration::from_secs(30),
            max_deliver: 5,
            backoff: vec![
                Duration::from_secs(1),
                Duration::from_secs(5),
                Duration::from_secs(30),
            ],
            max_in_flight: 256,
        }
    }

    pub fn ack_wait(mut self, ack_wait: Duration) -> Self {
        self.ack_wait = ack_wait;
        self
    }

    pub fn max_deliver(mut self, max_deliver: u32) -> Self {
        self.max_deliver = max_deliver;
        self
    }

    pub fn backoff(mut self, backoff: Vec<Duration>) -> Self {
        self.backoff = backoff;
        self
    }

    pub fn max_in_flight(mut self, max_in_flight: usize) -> Self {
        self.max_in_flight = max_in_flight;
        self
    }

    /// The delay before redelivering after delivery number `attempt` (1-based) failed.
    pub fn redelivery_delay(&self, attempt: u32) -> Duration {
        let index = (attempt.max(1) as usize - 1).min(self.backoff.len().saturating_sub(1));
        self.backoff.get(index).copied().unwrap_or_default()
    }
}

/// A consumer group's counters, for the console and the metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerStats {
    pub topic: String,
    pub group: String,
    /// Messages not yet acknowledged: waiting for delivery plus delivered and unanswered.
    pub lag: u64,
    /// Delivered and not yet answered.
    pub in_flight: u64,
    /// Deliveries after the first, since the group was created (or this process started,
    /// where the broker does not keep the count).
    pub redeliveries: u64,
    /// Messages this group moved to the dead letters.
    pub dead_lettered: u64,
    pub paused: bool,
}

/// A message that a group gave up on, kept for an operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Identifies the dead letter for [`EventBus::replay_dead_letter`].
    pub id: u64,
    pub group: String,
    pub message: Message,
    /// Why: `"terminated: ..."` or `"max deliveries (5) reached: ..."`.
    pub reason: String,
    pub deliveries: u32,
    pub failed_at: SystemTime,
}

/// What went wrong on the bus.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("cannot reach the message broker: {0}")]
    Connect(String),
    #[error("publish to {topic:?} failed: {reason}")]
    Publish { topic: String, reason: String },
    #[error("subscribe to {topic:?} as group {group:?} failed: {reason}")]
    Subscribe {
        topic: String,
        group: String,
        reason: String,
    },
    #[error("answering delivery of message {id:?} failed: {reason}")]
    Answer { id: String, reason: String },
    #[error("no consumer group {group:?} on topic {topic:?}")]
    UnknownGroup { topic: String, group: String },
    #[error("no dead letter {0}")]
    UnknownDeadLetter(u64),
    #[error("invalid {what}: {reason}")]
    Invalid { what: &'static str, reason: String },
    #[error("event payload is not valid JSON for {type_name}: {source}")]
    Decode {
        type_name: &'static str,
        source: serde_json::Error,
    },
    #[error("the bus is closed")]
    Closed,
    #[error("broker error: {0}")]
    Broker(String),
}

/// Publish and subscribe; see the module documentation for the delivery semantics.
#[async_trait]
pub trait EventBus: Send + Sync + fmt::Debug {
    /// Publishes one message. Returns once the bus holds it (JetStream: the stream
    /// acknowledged it). The in-process bus waits here while a group's queue is full.
    async fn publish(&self, message: Message) -> Result<PublishAck, BusError>;

    /// Publishes several messages, in order; returns once the bus holds all of them.
    /// JetStream pipelines them (many publishes in flight at once); the default publishes
    /// one after the other. On an error some of the messages may have been published.
    async fn publish_batch(&self, messages: Vec<Message>) -> Result<Vec<PublishAck>, BusError> {
        let mut acks = Vec::with_capacity(messages.len());
        for message in messages {
            acks.push(self.publish(message).await?);
        }
        Ok(acks)
    }

    /// Joins `options.group` on `options.topic`, creating the group if it is new.
    async fn subscribe(&self, options: SubscribeOptions) -> Result<Subscription, BusError>;

    /// Counters of one group.
    async fn consumer_stats(&self, topic: &str, group: &str) -> Result<ConsumerStats, BusError>;

    /// Stops handing out deliveries to the group (those in flight may still be answered)
    /// until [`EventBus::resume`]. Messages published meanwhile wait, none are lost.
    async fn pause(&self, topic: &str, group: &str) -> Result<(), BusError>;

    async fn resume(&self, topic: &str, group: &str) -> Result<(), BusError>;

    /// Dead letters of a topic (all topics when `None`), oldest first.
    async fn dead_letters(&self, topic: Option<&str>) -> Result<Vec<DeadLetter>, BusError>;

    /// Publishes a dead letter again to its topic (under a new de-duplication key,
    /// `{id}#replay-{dead letter id}`, so the window does not swallow it; the message id
    /// the consumer sees stays the original) and removes it from the dead letters. Only
    /// the group that dead-lettered it handles it again (see [`REPLAY_GROUP_HEADER`]).
    async fn replay_dead_letter(&self, id: u64) -> Result<PublishAck, BusError>;
}

/// A member of a consumer group: a stream of deliveries.
pub struct Subscription {
    inner: Box<dyn DeliverySource>,
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription").finish_non_exhaustive()
    }
}

impl Subscription {
    pub(crate) fn new(inner: impl DeliverySource + 'static) -> Self {
        Subscription {
            inner: Box::new(inner),
        }
    }

    /// The next delivery; `None` once the bus is closed. Cancel-safe: dropping the
    /// future (a `select!` or timeout) loses no message.
    pub async fn next(&mut self) -> Option<Result<Delivery, BusError>> {
        self.inner.next().await
    }
}

/// Where a [`Subscription`]'s deliveries come from.
#[async_trait]
pub(crate) trait DeliverySource: Send {
    async fn next(&mut self) -> Option<Result<Delivery, BusError>>;
}

/// How an implementation learns a delivery's answer.
#[async_trait]
pub(crate) trait Answer: Send + Sync {
    async fn ack(&self) -> Result<(), BusError>;
    async fn nak(&self, delay: Option<Duration>, reason: &str) -> Result<(), BusError>;
    async fn progress(&self) -> Result<(), BusError>;
    async fn term(&self, reason: &str) -> Result<(), BusError>;
}

/// One delivery of a message to a group member; answer it exactly once.
pub struct Delivery {
    pub message: Message,
    /// 1 for the first delivery, 2 for the first redelivery, and so on.
    pub attempt: u32,
    answer: Box<dyn Answer>,
}

impl fmt::Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("message", &self.message)
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}

impl Delivery {
    pub(crate) fn new(message: Message, attempt: u32, answer: impl Answer + 'static) -> Self {
        Delivery {
            message,
            attempt,
            answer: Box::new(answer),
        }
    }

    /// The producer's trace context from the headers, to parent the consumer's span.
    pub fn parent_context(&self) -> opentelemetry::Context {
        extract_context(&self.message.headers)
    }

    /// Done: never deliver again.
    pub async fn ack(self) -> Result<(), BusError> {
        self.answer.ack().await
    }

    /// Failed: redeliver after `delay` (`None`: the group's backoff schedule). `reason`
    /// is kept as the dead letter's reason if this was the last delivery.
    pub async fn nak(self, delay: Option<Duration>, reason: &str) -> Result<(), BusError> {
        self.answer.nak(delay, reason).await
    }

    /// Still working on it: restart the ack timer.
    pub async fn progress(&self) -> Result<(), BusError> {
        self.answer.progress().await
    }

    /// Cannot ever succeed (a poison message): move it to the dead letters now.
    pub async fn term(self, reason: &str) -> Result<(), BusError> {
        self.answer.term(reason).await
    }
}
