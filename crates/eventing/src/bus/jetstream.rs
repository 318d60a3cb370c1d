//! The bus on NATS JetStream (server 2.9 or later).
//!
//! - One stream holds the events (`{prefix}.events.>`, topic `t` on subject
//!   `{prefix}.events.t`), with *interest* retention: a message is kept until every group
//!   of its topic has acknowledged it, and a topic without groups keeps nothing (like the
//!   in-process bus). A second stream holds the dead letters (`{prefix}.dlq.{topic}`).
//! - Publishing sets `Nats-Msg-Id` to the message id: the server de-duplicates within
//!   [`JetStreamOptions::duplicate_window`].
//! - A group is a durable pull consumer (delivering what is published after it was
//!   created); each member pulls from it in batches.
//! - Redelivery delays are applied by this library, not the server: a nak becomes a nak
//!   with the delay of the group's backoff schedule, and an unanswered delivery is nakked
//!   with that delay when its `ack_wait` passes. (A 2.9 server's `backoff` replaces
//!   `ack_wait` and distorts explicit nak delays, so it is not used.) The server's own
//!   ack wait is `ack_wait` + [`JetStreamOptions::ack_grace`]; it redelivers only when the
//!   member's process is gone.
//! - Dead letters: when the last delivery fails (nak, ack timeout) or a member terms a
//!   message, the library publishes it to the dead-letter stream, then terminates it. The
//!   consumer allows one delivery more than `max_deliver`: a message that arrives for the
//!   extra time (its member died before answering) goes straight to the dead letters.
//! - Pause is per bus instance (the 2.9 server cannot pause consumers): members of this
//!   bus stop pulling, and messages that were already on their way are held, kept alive
//!   with progress acks, until resume. Other processes consuming the group are not paused.
//! - `consumer_stats`: lag and in-flight come from the server (in flight includes the
//!   messages a member has pulled but not yet handed out); redeliveries and dead letters
//!   are counted by this process.

mod dead_letter;
mod member;
mod wire;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use async_nats::header::NATS_MESSAGE_ID;
use async_nats::jetstream::context::ConsumerInfoErrorKind;
use async_nats::jetstream::{self, consumer, stream};
use async_trait::async_trait;
use futures::future::BoxFuture;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use super::metrics::{self, GroupMetrics, MetricsSource};
use super::{
    BusError, ConsumerStats, DeadLetter, EventBus, MESSAGE_ID_HEADER, Message, PublishAck,
    SubscribeOptions, Subscription, stamp_trace_context, validate_message, validate_options,
    validate_topic,
};
use member::Member;
use wire::{consumer_name, header_value, sanitize, to_nats_headers};

/// How a [`JetStreamBus`] names and configures its streams and consumers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JetStreamOptions {
    /// Subject prefix: events on `{prefix}.events.>`, dead letters on `{prefix}.dlq.>`.
    /// The streams are named after it: `{PREFIX}_EVENTS` and `{PREFIX}_DLQ`.
    pub prefix: String,
    /// Window of the server's de-duplication by message id.
    pub duplicate_window: Duration,
    /// Keep the streams in memory instead of files (tests, benchmarks).
    pub memory_storage: bool,
    /// Messages a member asks for per pull request.
    pub fetch_batch: usize,
    /// How long a pull request waits on the server for messages.
    pub fetch_expires: Duration,
    /// Added to `ack_wait` for the server's ack wait (see the module documentation).
    pub ack_grace: Duration,
    /// How often consumer info is read for the metrics.
    pub stats_interval: Duration,
    /// Publishes in flight at once across `publish_batch` calls.
    pub max_pending_publishes: usize,
}

impl Default for JetStreamOptions {
    fn default() -> Self {
        JetStreamOptions {
            prefix: "switchyard".into(),
            duplicate_window: Duration::from_secs(120),
            memory_storage: false,
            fetch_batch: 128,
            fetch_expires: Duration::from_secs(2),
            ack_grace: Duration::from_secs(2),
            stats_interval: Duration::from_secs(5),
            max_pending_publishes: 4096,
        }
    }
}

impl JetStreamOptions {
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    pub fn duplicate_window(mut self, window: Duration) -> Self {
        self.duplicate_window = window;
        self
    }

    pub fn memory_storage(mut self, memory: bool) -> Self {
        self.memory_storage = memory;
        self
    }

    pub fn fetch_batch(mut self, batch: usize) -> Self {
        self.fetch_batch = batch;
        self
    }

    pub fn fetch_expires(mut self, expires: Duration) -> Self {
        self.fetch_expires = expires;
        self
    }

    pub fn ack_grace(mut self, grace: Duration) -> Self {
        self.ack_grace = grace;
        self
    }

    pub fn stats_interval(mut self, interval: Duration) -> Self {
        self.stats_interval = interval;
        self
    }

    pub fn max_pending_publishes(mut self, max: usize) -> Self {
        self.max_pending_publishes = max;
        self
    }

    fn stream_name(&self, suffix: &str) -> String {
        format!("{}_{suffix}", sanitize(&self.prefix).to_uppercase())
    }
}

/// The JetStream [`EventBus`]; cheap to clone (clones share the connection).
#[derive(Debug, Clone)]
pub struct JetStreamBus {
    shared: Arc<Shared>,
}

impl JetStreamBus {
    /// Connects to the NATS server at `url` and creates the two streams if they do not
    /// exist (an existing stream keeps its configuration).
    pub async fn connect(url: &str, options: JetStreamOptions) -> Result<Self, BusError> {
        validate_topic(&options.prefix).map_err(|_| BusError::Invalid {
            what: "stream prefix",
            reason: format!(
                "{:?} must be dot-separated tokens without whitespace or wildcards",
                options.prefix
            ),
        })?;
        let (reconnected, reconnects) = watch::channel(0u64);
        let client = async_nats::ConnectOptions::new()
            .name("switchyard-eventing")
            .event_callback(move |event| {
                // Pull requests do not survive a reconnect: members re-pull at once.
                if matches!(event, async_nats::Event::Connected) {
                    reconnected.send_modify(|n| *n += 1);
                }
                async {}
            })
            .connect(url)
            .await
            .map_err(|err| BusError::Connect(format!("{url}: {err}")))?;
        let js = jetstream::ContextBuilder::new()
            .timeout(Duration::from_secs(10))
            // Above `max_pending_publishes`, so `publish_batch` never waits here.
            .max_ack_inflight(options.max_pending_publishes.max(1) * 2 + 1024)
            .build(client.clone());
        let storage = if options.memory_storage {
            stream::StorageType::Memory
        } else {
            stream::StorageType::File
        };
        let events = create_stream(
            &js,
            stream::Config {
                name: options.stream_name("EVENTS"),
                subjects: vec![format!("{}.events.>", options.prefix)],
                retention: stream::RetentionPolicy::Interest,
                storage,
                duplicate_window: options.duplicate_window,
                ..Default::default()
            },
        )
        .await?;
        let dead_letters = create_stream(
            &js,
            stream::Config {
                name: options.stream_name("DLQ"),
                subjects: vec![format!("{}.dlq.>", options.prefix)],
                retention: stream::RetentionPolicy::Limits,
                storage,
                duplicate_window: options.duplicate_window,
                ..Default::default()
            },
        )
        .await?;
        let shared = Arc::new(Shared {
            publish_permits: Arc::new(Semaphore::new(options.max_pending_publishes.max(1))),
            client,
            js,
            events,
            dead_letters,
            options,
            groups: Mutex::new(BTreeMap::new()),
            reconnects,
        });
        metrics::register(metrics::weak_source(&shared));
        tokio::spawn(poll_consumer_info(Arc::downgrade(&shared)));
        Ok(JetStreamBus { shared })
    }

    /// The underlying NATS client (for request/reply or health checks).
    pub fn client(&self) -> &async_nats::Client {
        &self.shared.client
    }
}

async fn create_stream(
    js: &jetstream::Context,
    config: stream::Config,
) -> Result<stream::Stream, BusError> {
    let name = config.name.clone();
    js.get_or_create_stream(config)
        .await
        .map_err(|err| BusError::Broker(format!("cannot create stream {name}: {err}")))
}

#[async_trait]
impl EventBus for JetStreamBus {
    async fn publish(&self, message: Message) -> Result<PublishAck, BusError> {
        let topic = message.topic.clone();
        let pending = self.shared.send(message, None).await?;
        pending
            .await
            .map_err(|reason| BusError::Publish { topic, reason })
    }

    /// Pipelined: keeps up to [`JetStreamOptions::max_pending_publishes`] publishes (shared
    /// by all callers) in flight and collects the acks in order.
    async fn publish_batch(&self, messages: Vec<Message>) -> Result<Vec<PublishAck>, BusError> {
        let mut acks = Vec::with_capacity(messages.len());
        let mut in_flight = std::collections::VecDeque::new();
        for message in messages {
            let topic = message.topic.clone();
            // Never wait for a permit while holding acks we could collect instead:
            // callers blocking each other's permits would deadlock.
            let permit = loop {
                match self.shared.publish_permits.clone().try_acquire_owned() {
                    Ok(permit) => break permit,
                    Err(_) => match in_flight.pop_front() {
                        Some(pending) => acks.push(await_ack(pending).await?),
                        None => {
                            break self
                                .shared
                                .publish_permits
                                .clone()
                                .acquire_owned()
                                .await
                                .map_err(|_| BusError::Closed)?;
                        }
                    },
                }
            };
            let pending = self.shared.send(message, Some(permit)).await?;
            in_flight.push_back((topic, pending));
        }
        for pending in in_flight {
            acks.push(await_ack(pending).await?);
        }
        Ok(acks)
    }

    async fn subscribe(&self, options: SubscribeOptions) -> Result<Subscription, BusError> {
        validate_options(&options)?;
        let shared = &self.shared;
        let name = consumer_name(&options.topic, &options.group);
        let config = consumer::pull::Config {
            durable_name: Some(name.clone()),
            description: Some(format!(
                "switchyard group {:?} of topic {:?}",
                options.group, options.topic
            )),
            deliver_policy: consumer::DeliverPolicy::New,
            ack_policy: consumer::AckPolicy::Explicit,
            ack_wait: options.ack_wait + shared.options.ack_grace,
            // One more than ours: see the module documentation.
            max_deliver: i64::from(options.max_deliver) + 1,
            filter_subject: shared.events_subject(&options.topic),
            max_ack_pending: i64::try_from(options.max_in_flight).unwrap_or(i64::MAX),
            ..Default::default()
        };
        let consumer =
            shared
                .events
                .create_consumer(config)
                .await
                .map_err(|err| BusError::Subscribe {
                    topic: options.topic.clone(),
                    group: options.group.clone(),
                    reason: err.to_string(),
                })?;
        let group = shared.group(&options.topic, &options.group);
        Ok(Subscription::new(Member::new(
            shared.clone(),
            group,
            consumer,
            options,
        )))
    }

    async fn consumer_stats(&self, topic: &str, group: &str) -> Result<ConsumerStats, BusError> {
        let info = self.shared.consumer_info(topic, group).await?;
        let local = self.shared.existing_group(topic, group);
        let counter = |read: fn(&Group) -> &AtomicU64| {
            local
                .as_ref()
                .map_or(0, |g| read(g).load(Ordering::Relaxed))
        };
        Ok(ConsumerStats {
            topic: topic.to_owned(),
            group: group.to_owned(),
            lag: info.num_pending + info.num_ack_pending as u64,
            in_flight: info.num_ack_pending as u64,
            redeliveries: counter(|g| &g.redeliveries),
            dead_lettered: counter(|g| &g.dead_lettered),
            paused: local.as_ref().is_some_and(|g| *g.paused.borrow()),
        })
    }

    async fn pause(&self, topic: &str, group: &str) -> Result<(), BusError> {
        self.shared.consumer_info(topic, group).await?;
        self.shared.group(topic, group).paused.send_replace(true);
        Ok(())
    }

    async fn resume(&self, topic: &str, group: &str) -> Result<(), BusError> {
        self.shared.consumer_info(topic, group).await?;
        self.shared.group(topic, group).paused.send_replace(false);
        Ok(())
    }

    async fn dead_letters(&self, topic: Option<&str>) -> Result<Vec<DeadLetter>, BusError> {
        dead_letter::list(&self.shared, topic).await
    }

    async fn replay_dead_letter(&self, id: u64) -> Result<PublishAck, BusError> {
        dead_letter::replay(&self.shared, id).await
    }
}

/// What the bus, its members and their deliveries share.
struct Shared {
    client: async_nats::Client,
    js: jetstream::Context,
    events: stream::Stream,
    dead_letters: stream::Stream,
    options: JetStreamOptions,
    /// Groups this process subscribed to or paused, by (topic, group).
    groups: Mutex<BTreeMap<(String, String), Arc<Group>>>,
    /// Bumped on every (re)connect.
    reconnects: watch::Receiver<u64>,
    publish_permits: Arc<Semaphore>,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JetStreamBus")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// A publish sent to the server, waiting for the stream's ack.
type PendingAck = BoxFuture<'static, Result<PublishAck, String>>;

async fn await_ack((topic, pending): (String, PendingAck)) -> Result<PublishAck, BusError> {
    pending
        .await
        .map_err(|reason| BusError::Publish { topic, reason })
}

impl Shared {
    fn events_subject(&self, topic: &str) -> String {
        format!("{}.events.{topic}", self.options.prefix)
    }

    fn dlq_subject(&self, topic: &str) -> String {
        format!("{}.dlq.{topic}", self.options.prefix)
    }

    fn lock_groups(&self) -> MutexGuard<'_, BTreeMap<(String, String), Arc<Group>>> {
        self.groups.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn group(&self, topic: &str, group: &str) -> Arc<Group> {
        self.lock_groups()
            .entry((topic.to_owned(), group.to_owned()))
            .or_insert_with(|| Arc::new(Group::new(topic, group)))
            .clone()
    }

    fn existing_group(&self, topic: &str, group: &str) -> Option<Arc<Group>> {
        self.lock_groups()
            .get(&(topic.to_owned(), group.to_owned()))
            .cloned()
    }

    async fn consumer_info(&self, topic: &str, group: &str) -> Result<consumer::Info, BusError> {
        validate_topic(topic)?;
        self.events
            .consumer_info(consumer_name(topic, group))
            .await
            .map_err(|err| match err.kind() {
                ConsumerInfoErrorKind::NotFound => BusError::UnknownGroup {
                    topic: topic.to_owned(),
                    group: group.to_owned(),
                },
                _ => BusError::Broker(format!("consumer info of {topic:?}/{group:?}: {err}")),
            })
    }

    /// Sends a publish of `message` (de-duplicated by its id) and returns its ack future.
    async fn send(
        &self,
        message: Message,
        permit: Option<OwnedSemaphorePermit>,
    ) -> Result<PendingAck, BusError> {
        let key = message.id.clone();
        self.send_keyed(message, &key, permit).await
    }

    /// Like [`Shared::send`] with an explicit de-duplication key.
    async fn send_keyed(
        &self,
        mut message: Message,
        dedup_key: &str,
        permit: Option<OwnedSemaphorePermit>,
    ) -> Result<PendingAck, BusError> {
        validate_message(&message)?;
        stamp_trace_context(&mut message);
        let mut headers = to_nats_headers(&message.headers)?;
        headers.insert(MESSAGE_ID_HEADER, header_value(&message.id)?);
        headers.insert(NATS_MESSAGE_ID, header_value(dedup_key)?);
        let topic = message.topic;
        let publish = jetstream::message::PublishMessage::build()
            .payload(message.payload)
            .headers(headers);
        let pending = self
            .js
            .send_publish(self.events_subject(&topic), publish)
            .await
            .map_err(|err| BusError::Publish {
                topic: topic.clone(),
                reason: err.to_string(),
            })?;
        Ok(Box::pin(async move {
            let ack = pending.await.map_err(|err| err.to_string());
            drop(permit);
            ack.map(|ack| PublishAck {
                sequence: ack.sequence,
                duplicate: ack.duplicate,
            })
        }))
    }
}

impl MetricsSource for Shared {
    fn group_metrics(&self) -> Vec<GroupMetrics> {
        self.lock_groups()
            .values()
            .map(|g| GroupMetrics {
                topic: g.topic.clone(),
                group: g.group.clone(),
                lag: g.lag.load(Ordering::Relaxed),
                redeliveries: g.redeliveries.load(Ordering::Relaxed),
                dead_lettered: g.dead_lettered.load(Ordering::Relaxed),
                paused: *g.paused.borrow(),
            })
            .collect()
    }
}

/// Refreshes each known group's lag for the metrics until the bus is dropped.
async fn poll_consumer_info(shared: Weak<Shared>) {
    loop {
        let Some(bus) = shared.upgrade() else {
            return;
        };
        let interval = bus.options.stats_interval.max(Duration::from_millis(100));
        let groups: Vec<_> = bus.lock_groups().values().cloned().collect();
        for group in groups {
            match bus.consumer_info(&group.topic, &group.group).await {
                Ok(info) => group.lag.store(
                    info.num_pending + info.num_ack_pending as u64,
                    Ordering::Relaxed,
                ),
                Err(err) => tracing::debug!(%err, "consumer info for the metrics"),
            }
        }
        drop(bus);
        tokio::time::sleep(interval).await;
    }
}

/// A group as this process knows it: pause flag, counters, failure reasons.
struct Group {
    topic: String,
    group: String,
    paused: watch::Sender<bool>,
    redeliveries: AtomicU64,
    dead_lettered: AtomicU64,
    /// Lag as last read for the metrics.
    lag: AtomicU64,
    /// Reason of the last failed delivery, by stream sequence, for the dead letter.
    last_failures: Mutex<HashMap<u64, String>>,
}

impl Group {
    fn new(topic: &str, group: &str) -> Self {
        Group {
            topic: topic.to_owned(),
            group: group.to_owned(),
            paused: watch::Sender::new(false),
            redeliveries: AtomicU64::new(0),
            dead_lettered: AtomicU64::new(0),
            lag: AtomicU64::new(0),
            last_failures: Mutex::new(HashMap::new()),
        }
    }

    fn failures(&self) -> MutexGuard<'_, HashMap<u64, String>> {
        self.last_failures.lock().unwrap_or_else(|p| p.into_inner())
    }
}
