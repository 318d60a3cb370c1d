//! One member of a group: pulls batches from the durable consumer, hands out
//! deliveries, and fails those that are not answered by their ack deadline.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::consumer::pull::Batch;
use async_nats::jetstream::{self, AckKind};
use async_trait::async_trait;
use futures::StreamExt as _;
use tokio::sync::{Notify, watch};
use tokio::time::{Instant, MissedTickBehavior};

use super::wire::decode_message;
use super::{Group, Shared, dead_letter};
use crate::bus::{
    Answer, BusError, Delivery, DeliverySource, SubscribeOptions, replayed_for_other_group,
};

/// Pause before pulling again after a failed pull request.
const RETRY_PULL: Duration = Duration::from_millis(250);

pub(super) struct Member {
    shared: Arc<Shared>,
    group: Arc<Group>,
    consumer: PullConsumer,
    options: Arc<SubscribeOptions>,
    batch: Option<Batch>,
    /// Messages that arrived while the group was paused.
    held: VecDeque<jetstream::Message>,
    paused: watch::Receiver<bool>,
    reconnects: watch::Receiver<u64>,
    /// Progress acks for held messages, so the server does not redeliver them.
    keepalive: tokio::time::Interval,
}

/// What woke the member up.
#[expect(
    clippy::large_enum_variant,
    reason = "a short-lived value; boxing would allocate for every message"
)]
enum Step {
    Message(jetstream::Message),
    BatchDone,
    BatchFailed(String),
    PauseChanged,
    Reconnected,
    Keepalive,
    Closed,
}

impl Member {
    pub(super) fn new(
        shared: Arc<Shared>,
        group: Arc<Group>,
        consumer: PullConsumer,
        options: SubscribeOptions,
    ) -> Self {
        let mut reconnects = shared.reconnects.clone();
        reconnects.mark_unchanged();
        let mut keepalive =
            tokio::time::interval((options.ack_wait / 2).max(Duration::from_millis(50)));
        keepalive.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Member {
            paused: group.paused.subscribe(),
            shared,
            group,
            consumer,
            options: Arc::new(options),
            batch: None,
            held: VecDeque::new(),
            reconnects,
            keepalive,
        }
    }

    async fn pull(&mut self) {
        let request = self
            .consumer
            .batch()
            .max_messages(self.shared.options.fetch_batch.max(1))
            .expires(self.shared.options.fetch_expires)
            .messages()
            .await;
        match request {
            Ok(batch) => self.batch = Some(batch),
            Err(err) => {
                tracing::warn!(topic = %self.group.topic, group = %self.group.group, %err, "pull request failed");
                tokio::time::sleep(RETRY_PULL).await;
            }
        }
    }

    async fn step(&mut self) -> Step {
        let Member {
            batch,
            paused,
            reconnects,
            keepalive,
            held,
            ..
        } = self;
        let from_batch = async {
            match batch {
                Some(batch) => match batch.next().await {
                    Some(Ok(message)) => Step::Message(message),
                    Some(Err(err)) => Step::BatchFailed(err.to_string()),
                    None => Step::BatchDone,
                },
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            step = from_batch => step,
            changed = paused.changed() => if changed.is_ok() { Step::PauseChanged } else { Step::Closed },
            changed = reconnects.changed() => if changed.is_ok() { Step::Reconnected } else { Step::Closed },
            _ = keepalive.tick(), if !held.is_empty() => Step::Keepalive,
        }
    }

    /// Turns a pulled message into a delivery, or settles it without the application.
    async fn deliver(&self, message: jetstream::Message) -> Option<Delivery> {
        let (sequence, delivered) = match message.info() {
            Ok(info) => (info.stream_sequence, info.delivered),
            Err(err) => {
                tracing::warn!(%err, "not a JetStream delivery; ignored");
                return None;
            }
        };
        let attempt = u32::try_from(delivered).unwrap_or(u32::MAX);
        let decoded = decode_message(
            &self.group.topic,
            message.headers.as_ref(),
            message.payload.clone(),
            &dead_letter::INTERNAL_HEADERS,
        );
        if replayed_for_other_group(&decoded, &self.group.group) {
            if let Err(err) = message.ack().await {
                tracing::warn!(%err, "cannot ack a replay meant for another group");
            }
            return None;
        }
        let pending = Arc::new(Pending {
            shared: self.shared.clone(),
            group: self.group.clone(),
            options: self.options.clone(),
            id: decoded.id.clone(),
            message,
            sequence,
            attempt,
            timer: Mutex::new(Timer {
                answered: false,
                deadline: Instant::now() + self.options.ack_wait,
            }),
            wake: Notify::new(),
        });
        if attempt > self.options.max_deliver {
            // The member that had the last delivery died before answering it.
            let last = self.group.failures().remove(&sequence);
            let reason = format!(
                "max deliveries ({}) reached: {}",
                self.options.max_deliver,
                last.as_deref().unwrap_or("ack timeout")
            );
            if let Err(err) = pending
                .dead_letter_and_term(&reason, self.options.max_deliver)
                .await
            {
                tracing::warn!(%err, "cannot move an exhausted message to the dead letters");
            }
            return None;
        }
        if attempt > 1 {
            self.group.redeliveries.fetch_add(1, Ordering::Relaxed);
        }
        tokio::spawn(ack_deadline(pending.clone()));
        Some(Delivery::new(decoded, attempt, JsAnswer(pending)))
    }
}

#[async_trait]
impl DeliverySource for Member {
    async fn next(&mut self) -> Option<Result<Delivery, BusError>> {
        loop {
            let paused = *self.paused.borrow_and_update();
            if !paused {
                if let Some(message) = self.held.pop_front() {
                    if let Some(delivery) = self.deliver(message).await {
                        return Some(Ok(delivery));
                    }
                    continue;
                }
                if self.batch.is_none() {
                    self.pull().await;
                    continue;
                }
            }
            match self.step().await {
                Step::Message(message) => {
                    if *self.paused.borrow() {
                        self.held.push_back(message);
                    } else if let Some(delivery) = self.deliver(message).await {
                        return Some(Ok(delivery));
                    }
                }
                Step::BatchDone => self.batch = None,
                Step::BatchFailed(err) => {
                    tracing::debug!(topic = %self.group.topic, group = %self.group.group, %err, "pull ended");
                    self.batch = None;
                    tokio::time::sleep(RETRY_PULL).await;
                }
                Step::PauseChanged => {}
                Step::Reconnected => self.batch = None,
                Step::Keepalive => {
                    for message in &self.held {
                        if let Err(err) = message.ack_with(AckKind::Progress).await {
                            tracing::warn!(%err, "cannot keep a held message");
                        }
                    }
                }
                Step::Closed => return None,
            }
        }
    }
}

/// A delivery handed out and not yet settled.
struct Pending {
    shared: Arc<Shared>,
    group: Arc<Group>,
    options: Arc<SubscribeOptions>,
    /// The message id, for errors.
    id: String,
    message: jetstream::Message,
    sequence: u64,
    attempt: u32,
    timer: Mutex<Timer>,
    /// Wakes the deadline task when the delivery is answered or its deadline moves.
    wake: Notify,
}

struct Timer {
    answered: bool,
    deadline: Instant,
}

impl Pending {
    fn timer(&self) -> MutexGuard<'_, Timer> {
        self.timer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Marks the delivery answered; false if it already was (or timed out).
    fn finish(&self) -> bool {
        let first = !std::mem::replace(&mut self.timer().answered, true);
        self.wake.notify_one();
        first
    }

    /// Moves the deadline; false if the delivery is already settled.
    fn extend(&self) -> bool {
        let mut timer = self.timer();
        if timer.answered {
            return false;
        }
        timer.deadline = Instant::now() + self.options.ack_wait;
        drop(timer);
        self.wake.notify_one();
        true
    }

    async fn send(&self, kind: AckKind) -> Result<(), BusError> {
        self.message
            .ack_with(kind)
            .await
            .map_err(|err| BusError::Answer {
                id: self.id.clone(),
                reason: err.to_string(),
            })
    }

    /// A failed delivery (nak or ack timeout): redeliver after the delay, or give up.
    async fn fail(&self, delay: Option<Duration>, reason: &str) -> Result<(), BusError> {
        let max_deliver = self.options.max_deliver;
        if self.attempt >= max_deliver {
            self.group.failures().remove(&self.sequence);
            let reason = format!("max deliveries ({max_deliver}) reached: {reason}");
            return self.dead_letter_and_term(&reason, self.attempt).await;
        }
        self.group
            .failures()
            .insert(self.sequence, reason.to_owned());
        let delay = delay.unwrap_or_else(|| self.options.redelivery_delay(self.attempt));
        self.send(AckKind::Nak((!delay.is_zero()).then_some(delay)))
            .await
    }

    /// Publishes the message to the dead letters, then tells the server never to
    /// redeliver it. If the publish fails the message stays pending and comes back.
    async fn dead_letter_and_term(&self, reason: &str, deliveries: u32) -> Result<(), BusError> {
        dead_letter::publish(
            &self.shared,
            &self.group,
            &self.message,
            self.sequence,
            reason,
            deliveries,
        )
        .await?;
        self.send(AckKind::Term).await
    }
}

/// Fails the delivery with "ack timeout" if it is not answered by its deadline.
async fn ack_deadline(pending: Arc<Pending>) {
    loop {
        let deadline = {
            let timer = pending.timer();
            if timer.answered {
                return;
            }
            timer.deadline
        };
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => {}
            () = pending.wake.notified() => continue,
        }
        {
            let mut timer = pending.timer();
            if timer.answered {
                return;
            }
            if Instant::now() < timer.deadline {
                continue;
            }
            timer.answered = true;
        }
        if let Err(err) = pending.fail(None, "ack timeout").await {
            tracing::warn!(%err, "cannot fail a delivery after its ack deadline");
        }
        return;
    }
}

struct JsAnswer(Arc<Pending>);

#[async_trait]
impl Answer for JsAnswer {
    async fn ack(&self) -> Result<(), BusError> {
        // A late ack (after the deadline) still counts while the server holds the message.
        self.0.finish();
        self.0.group.failures().remove(&self.0.sequence);
        self.0.send(AckKind::Ack).await
    }

    async fn nak(&self, delay: Option<Duration>, reason: &str) -> Result<(), BusError> {
        if !self.0.finish() {
            return Ok(());
        }
        self.0.fail(delay, reason).await
    }

    async fn progress(&self) -> Result<(), BusError> {
        if !self.0.extend() {
            return Ok(());
        }
        self.0.send(AckKind::Progress).await
    }

    async fn term(&self, reason: &str) -> Result<(), BusError> {
        self.0.finish();
        self.0.group.failures().remove(&self.0.sequence);
        let reason = format!("terminated: {reason}");
        self.0.dead_letter_and_term(&reason, self.0.attempt).await
    }
}
