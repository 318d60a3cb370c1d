//! The tracker: one consumer group per saga definition on every topic of the definition,
//! one task per topic recording deliveries, and a periodic scan for stuck instances.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use opentelemetry::KeyValue;
use opentelemetry::trace::TraceContextExt as _;
use serde_json::Value;
use switchyard_conventions::saga as conventions;
use switchyard_eventing::bus::{Delivery, EventBus, Message, SubscribeOptions, Subscription};
use switchyard_eventing::database::Database;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use super::definition::{ChoreographyDefinition, EventRole, Role};
use super::state::{ChoreographyInstance, InstanceSummary, StepState, StuckInstance};
use super::store::{ChoreographyStore, Incoming, InstanceFilter, Recorded};
use super::{ChoreographyError, ChoreographyStatus, SAGA_ID_HEADER, STUCK_METRIC};

/// Longest saga id accepted; longer ones are dead-lettered (they are primary keys).
const MAX_SAGA_ID_LEN: usize = 512;

/// How a tracker consumes and reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackerOptions {
    /// Consumer group; `None`: `switchyard-tracker-{saga name}`.
    pub group: Option<String>,
    /// See [`SubscribeOptions::ack_wait`].
    pub ack_wait: Duration,
    /// Deliveries before a message that keeps failing to record (database down) moves to
    /// the dead letters.
    pub max_deliver: u32,
    /// Deliveries per topic handed out before earlier ones are answered.
    pub max_in_flight: usize,
    /// Redelivery delay after a database error; doubles per attempt up to
    /// `max_retry_delay`.
    pub retry_delay: Duration,
    pub max_retry_delay: Duration,
    /// How often to look for stuck instances (for [`ChangeKind::Stuck`] and the gauge).
    pub stuck_scan_interval: Duration,
    /// Changes buffered per [`ChoreographyTracker::changes`] receiver before a slow one
    /// misses some (it gets `RecvError::Lagged`).
    pub changes_capacity: usize,
}

impl Default for TrackerOptions {
    fn default() -> Self {
        TrackerOptions {
            group: None,
            ack_wait: Duration::from_secs(30),
            max_deliver: 50,
            max_in_flight: 32,
            retry_delay: Duration::from_millis(500),
            max_retry_delay: Duration::from_secs(30),
            stuck_scan_interval: Duration::from_secs(5),
            changes_capacity: 1024,
        }
    }
}

impl TrackerOptions {
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.group = Some(group.into());
        self
    }

    pub fn ack_wait(mut self, ack_wait: Duration) -> Self {
        self.ack_wait = ack_wait;
        self
    }

    pub fn max_deliver(mut self, max_deliver: u32) -> Self {
        self.max_deliver = max_deliver;
        self
    }

    pub fn max_in_flight(mut self, max_in_flight: usize) -> Self {
        self.max_in_flight = max_in_flight;
        self
    }

    pub fn retry_delay(mut self, first: Duration, max: Duration) -> Self {
        self.retry_delay = first;
        self.max_retry_delay = max;
        self
    }

    pub fn stuck_scan_interval(mut self, interval: Duration) -> Self {
        self.stuck_scan_interval = interval;
        self
    }

    pub fn changes_capacity(mut self, capacity: usize) -> Self {
        self.changes_capacity = capacity;
        self
    }

    fn redelivery_delay(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(16);
        self.retry_delay
            .saturating_mul(factor)
            .min(self.max_retry_delay)
    }
}

/// A change of an instance, as it happens (for the console's stream).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChoreographyChange {
    pub saga_name: String,
    pub saga_id: String,
    /// The status after the change.
    pub status: ChoreographyStatus,
    pub at: SystemTime,
    pub kind: ChangeKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeKind {
    /// A new event was recorded (duplicates are not reported).
    Recorded {
        event_type: String,
        role: EventRole,
        step: Option<String>,
        /// `None`: the event created the instance.
        previous_status: Option<ChoreographyStatus>,
    },
    /// The scan found the instance quiet past its deadline (reported once until it
    /// progresses and gets stuck again).
    Stuck {
        quiet_for: Duration,
        last_step: Option<String>,
    },
}

/// Follows the instances of one choreographed saga on a bus, durably.
///
/// Cheap to clone; clones share the state, the change stream and the stuck count.
#[derive(Debug, Clone)]
pub struct ChoreographyTracker {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    definition: ChoreographyDefinition,
    roles: HashMap<String, Role>,
    group: String,
    bus: Arc<dyn EventBus>,
    store: ChoreographyStore,
    options: TrackerOptions,
    changes: broadcast::Sender<ChoreographyChange>,
    /// Read by the `saga.choreography.stuck` gauge's callback.
    stuck: Arc<AtomicU64>,
}

impl ChoreographyTracker {
    /// Validates the definition; `db` must have been opened with [`crate::MIGRATIONS`].
    /// Consumes nothing until [`ChoreographyTracker::start`].
    pub fn new(
        definition: ChoreographyDefinition,
        bus: Arc<dyn EventBus>,
        db: Database,
        options: TrackerOptions,
    ) -> Result<Self, ChoreographyError> {
        let roles = definition.roles()?;
        let group = options
            .group
            .clone()
            .unwrap_or_else(|| format!("switchyard-tracker-{}", definition.name));
        let (changes, _) = broadcast::channel(options.changes_capacity.max(1));
        let stuck = Arc::new(AtomicU64::new(0));
        register_stuck_gauge(&definition.name, &stuck);
        Ok(ChoreographyTracker {
            inner: Arc::new(Inner {
                definition,
                roles,
                group,
                bus,
                store: ChoreographyStore::new(db),
                options,
                changes,
                stuck,
            }),
        })
    }

    pub fn definition(&self) -> &ChoreographyDefinition {
        &self.inner.definition
    }

    /// The consumer group it reads every topic with.
    pub fn group(&self) -> &str {
        &self.inner.group
    }

    pub fn store(&self) -> &ChoreographyStore {
        &self.inner.store
    }

    /// Changes from now on (recorded events, instances found stuck).
    pub fn changes(&self) -> broadcast::Receiver<ChoreographyChange> {
        self.inner.changes.subscribe()
    }

    /// Joins the group on every topic of the definition (so everything published from
    /// now on is tracked; a group that existed before resumes where it stopped) and
    /// spawns the consuming tasks. Stop them with [`TrackerHandle::stop`].
    pub async fn start(&self) -> Result<TrackerHandle, ChoreographyError> {
        let options = &self.inner.options;
        let mut subscriptions = Vec::new();
        for topic in self.inner.definition.event_types() {
            let subscribe = SubscribeOptions::new(topic, self.inner.group.clone())
                .ack_wait(options.ack_wait)
                .max_deliver(options.max_deliver)
                .max_in_flight(options.max_in_flight)
                .backoff(vec![options.retry_delay]);
            // On an error the subscriptions made so far are dropped: nothing half-started.
            subscriptions.push(self.inner.bus.subscribe(subscribe).await?);
        }
        let (stop, stopped) = watch::channel(false);
        let mut tasks: Vec<JoinHandle<()>> = subscriptions
            .into_iter()
            .map(|subscription| {
                tokio::spawn(consume(self.inner.clone(), subscription, stopped.clone()))
            })
            .collect();
        tasks.push(tokio::spawn(scan_stuck(self.inner.clone(), stopped)));
        Ok(TrackerHandle { stop, tasks })
    }

    /// [`ChoreographyTracker::start`], then runs until `stop` completes and stops
    /// gracefully (the deliveries being recorded are finished and answered).
    pub async fn run(&self, stop: impl Future<Output = ()>) -> Result<(), ChoreographyError> {
        let handle = self.start().await?;
        stop.await;
        handle.stop().await
    }

    /// One instance of this saga with every step of the definition (pending steps have
    /// no events).
    pub async fn instance(
        &self,
        saga_id: &str,
    ) -> Result<Option<ChoreographyInstance>, ChoreographyError> {
        let Some(mut instance) = self
            .inner
            .store
            .instance(&self.inner.definition.name, saga_id)
            .await?
        else {
            return Ok(None);
        };
        for (index, step) in self.inner.definition.steps.iter().enumerate() {
            if !instance.steps.iter().any(|s| s.index == index) {
                instance.steps.push(StepState::pending(&step.name, index));
            }
        }
        instance.steps.sort_by_key(|s| s.index);
        Ok(Some(instance))
    }

    /// Instances matching `filter`; without a name in the filter, those of this saga.
    pub async fn instances(
        &self,
        filter: &InstanceFilter,
    ) -> Result<Vec<InstanceSummary>, ChoreographyError> {
        if filter.name.is_some() {
            return self.inner.store.instances(filter).await;
        }
        let filter = filter.clone().name(self.inner.definition.name.clone());
        self.inner.store.instances(&filter).await
    }

    /// Unfinished instances of this saga quiet past the deadline at `now`.
    pub async fn stuck(&self, now: SystemTime) -> Result<Vec<StuckInstance>, ChoreographyError> {
        self.inner
            .store
            .stuck(now, Some(&self.inner.definition.name))
            .await
    }
}

/// The running tasks of a started tracker. Dropping it also stops them, without waiting.
#[derive(Debug)]
pub struct TrackerHandle {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl TrackerHandle {
    /// Stops taking deliveries, lets the ones being recorded finish (they are answered),
    /// leaves the groups (unanswered deliveries go back to the bus) and waits.
    pub async fn stop(self) -> Result<(), ChoreographyError> {
        self.stop.send_replace(true);
        let mut failure = None;
        for task in self.tasks {
            if let Err(err) = task.await {
                failure.get_or_insert(ChoreographyError::Task(err.to_string()));
            }
        }
        failure.map_or(Ok(()), Err)
    }
}

/// One topic's member: records each delivery, then answers it.
async fn consume(
    inner: Arc<Inner>,
    mut subscription: Subscription,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let next = tokio::select! {
            biased;
            _ = stop.wait_for(|stopped| *stopped) => return,
            // Cancel-safe: a delivery is never lost by the stop branch winning.
            next = subscription.next() => next,
        };
        match next {
            None => {
                tracing::info!(saga = %inner.definition.name, "the bus closed; tracker task ends");
                return;
            }
            Some(Err(err)) => {
                tracing::warn!(saga = %inner.definition.name, %err, "receiving from the bus failed; retrying");
                tokio::select! {
                    _ = stop.wait_for(|stopped| *stopped) => return,
                    () = tokio::time::sleep(inner.options.retry_delay) => {}
                }
            }
            Some(Ok(delivery)) => inner.handle(delivery).await,
        }
    }
}

impl Inner {
    async fn handle(&self, delivery: Delivery) {
        let message = &delivery.message;
        let Some(role) = self.roles.get(&message.topic) else {
            // Only possible if the bus delivers a topic we did not subscribe to.
            let reason = format!(
                "topic {:?} is not an event of saga {:?}",
                message.topic, self.definition.name
            );
            return self.term(delivery, &reason).await;
        };
        let saga_id = match saga_id(message, &self.definition.saga_id_pointer) {
            Ok(id) => id,
            Err(reason) => return self.term(delivery, &reason).await,
        };
        let trace_id = trace_id(&delivery);
        let at = SystemTime::now();
        let incoming = Incoming {
            saga_id: &saga_id,
            event_type: &message.topic,
            role,
            message_id: &message.id,
            trace_id: trace_id.as_deref(),
            at,
        };
        let recorded = self.store.record(&self.definition, &incoming).await;
        let event_type = message.topic.clone();
        match recorded {
            Ok(recorded) => {
                if let Err(err) = delivery.ack().await {
                    // Recorded already: the redelivery will count as a duplicate.
                    tracing::warn!(saga = %self.definition.name, %saga_id, %err, "ack failed");
                }
                if let Recorded::New { previous, summary } = recorded {
                    // No receivers is fine: nobody is watching.
                    let summary = *summary;
                    let _ = self.changes.send(ChoreographyChange {
                        saga_name: summary.saga_name,
                        saga_id: summary.saga_id,
                        status: summary.status,
                        at,
                        kind: ChangeKind::Recorded {
                            event_type,
                            role: role.role,
                            step: role.step.as_ref().map(|(_, name)| name.clone()),
                            previous_status: previous,
                        },
                    });
                }
            }
            Err(err) => {
                let delay = self.options.redelivery_delay(delivery.attempt);
                tracing::warn!(
                    saga = %self.definition.name, %saga_id, %event_type, %err, ?delay,
                    "recording the event failed; it will be redelivered"
                );
                let reason = format!("recording the event failed: {err}");
                if let Err(err) = delivery.nak(Some(delay), &reason).await {
                    tracing::warn!(saga = %self.definition.name, %err, "nak failed");
                }
            }
        }
    }

    /// A message that can never be recorded: to the dead letters, with the reason.
    async fn term(&self, delivery: Delivery, reason: &str) {
        tracing::warn!(
            saga = %self.definition.name,
            topic = %delivery.message.topic,
            message_id = %delivery.message.id,
            reason,
            "dead-lettering a message the tracker cannot use"
        );
        if let Err(err) = delivery.term(reason).await {
            tracing::warn!(saga = %self.definition.name, %err, "term failed");
        }
    }

    async fn scan(&self, reported: &mut HashSet<String>) -> Result<(), ChoreographyError> {
        let now = SystemTime::now();
        let stuck = self.store.stuck(now, Some(&self.definition.name)).await?;
        self.stuck.store(
            u64::try_from(stuck.len()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        let mut current = HashSet::with_capacity(stuck.len());
        for instance in stuck {
            let id = instance.summary.saga_id.clone();
            if !reported.contains(&id) {
                let _ = self.changes.send(ChoreographyChange {
                    saga_name: instance.summary.saga_name,
                    saga_id: instance.summary.saga_id,
                    status: instance.summary.status,
                    at: now,
                    kind: ChangeKind::Stuck {
                        quiet_for: instance.quiet_for,
                        last_step: instance.last_step,
                    },
                });
            }
            current.insert(id);
        }
        *reported = current;
        Ok(())
    }
}

async fn scan_stuck(inner: Arc<Inner>, mut stop: watch::Receiver<bool>) {
    let mut reported = HashSet::new();
    let mut ticks = tokio::time::interval(
        inner
            .options
            .stuck_scan_interval
            .max(Duration::from_millis(10)),
    );
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = stop.wait_for(|stopped| *stopped) => return,
            _ = ticks.tick() => {}
        }
        if let Err(err) = inner.scan(&mut reported).await {
            tracing::warn!(saga = %inner.definition.name, %err, "looking for stuck instances failed");
        }
    }
}

/// The `saga.id` header, else the value at `pointer` in the JSON payload; `Err` is the
/// dead letter's reason.
fn saga_id(message: &Message, pointer: &str) -> Result<String, String> {
    let header = message.headers.get(SAGA_ID_HEADER).or_else(|| {
        // Transports may change a header name's case.
        message
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(SAGA_ID_HEADER))
            .map(|(_, value)| value)
    });
    let id = match header.map(|h| h.trim()).filter(|h| !h.is_empty()) {
        Some(id) => id.to_owned(),
        None => {
            let missing = format!("no saga id: no `{SAGA_ID_HEADER}` header, and");
            let payload: Value = serde_json::from_slice(&message.payload)
                .map_err(|err| format!("{missing} the payload is not JSON ({err})"))?;
            match payload.pointer(pointer) {
                Some(Value::String(id)) if !id.trim().is_empty() => id.trim().to_owned(),
                Some(Value::Number(id)) => id.to_string(),
                Some(other) => {
                    return Err(format!(
                        "{missing} the payload's {pointer:?} is {other}, not a non-empty string or a number"
                    ));
                }
                None => {
                    return Err(format!(
                        "{missing} the JSON payload has nothing at {pointer:?}"
                    ));
                }
            }
        }
    };
    if id.len() > MAX_SAGA_ID_LEN {
        return Err(format!(
            "saga id of {} bytes is longer than {MAX_SAGA_ID_LEN}",
            id.len()
        ));
    }
    Ok(id)
}

/// The producer's trace id from `traceparent`, when it carries a valid one.
fn trace_id(delivery: &Delivery) -> Option<String> {
    let context = delivery.parent_context();
    let span = context.span();
    let span_context = span.span_context();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

/// `saga.choreography.stuck{saga.name}`: instances the last scan found stuck.
fn register_stuck_gauge(saga_name: &str, stuck: &Arc<AtomicU64>) {
    let count = Arc::downgrade(stuck);
    let attributes = [KeyValue::new(conventions::NAME, saga_name.to_owned())];
    opentelemetry::global::meter("switchyard-saga")
        .u64_observable_gauge(STUCK_METRIC)
        .with_description(
            "Unfinished choreographed saga instances without progress past their deadline",
        )
        .with_callback(move |observer| {
            // A dropped tracker reports nothing.
            if let Some(count) = count.upgrade() {
                observer.observe(count.load(Ordering::Relaxed), &attributes);
            }
        })
        .build();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saga_id_from_header_or_payload() {
        let message = Message::new("OrderPlaced", "m-1", r#"{"saga_id": "order-1"}"#);
        assert_eq!(saga_id(&message, "/saga_id").as_deref(), Ok("order-1"));
        let header = message.clone().with_header("saga.id", "order-2");
        assert_eq!(saga_id(&header, "/saga_id").as_deref(), Ok("order-2"));
        let nested = Message::new("OrderPlaced", "m-1", r#"{"order": {"id": 42}}"#);
        assert_eq!(saga_id(&nested, "/order/id").as_deref(), Ok("42"));

        let missing = saga_id(&nested, "/saga_id").expect_err("no id");
        assert!(missing.contains("nothing at \"/saga_id\""), "{missing}");
        let not_json = Message::new("OrderPlaced", "m-1", "hello");
        let err = saga_id(&not_json, "/saga_id").expect_err("no id");
        assert!(err.contains("not JSON"), "{err}");
        let null = Message::new("OrderPlaced", "m-1", r#"{"saga_id": null}"#);
        let err = saga_id(&null, "/saga_id").expect_err("no id");
        assert!(err.contains("is null"), "{err}");
    }

    #[test]
    fn redelivery_delay_doubles_up_to_the_cap() {
        let options = TrackerOptions::default()
            .retry_delay(Duration::from_millis(100), Duration::from_millis(350));
        let delays: Vec<_> = (1..=4).map(|n| options.redelivery_delay(n)).collect();
        assert_eq!(
            delays,
            [100, 200, 350, 350].map(Duration::from_millis).to_vec()
        );
    }
}
