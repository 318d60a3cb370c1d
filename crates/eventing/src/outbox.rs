//! The outbox: events reach the bus from the event store, never beside it.
//!
//! A service appends events to the store (its one transaction) and an [`OutboxRelay`]
//! publishes what is stored, in order, then saves how far it got. A crash between the
//! publish and the checkpoint publishes those events again on restart, under the same
//! message ids (the event ids), so a de-duplicating bus (JetStream's `Nats-Msg-Id`
//! window) or consumer sees each once; no crash can lose one, because nothing is
//! published that is not stored and the checkpoint only moves past what was published.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::bus::{BusError, EventBus, Message};
use crate::store::{EventStore, RecordedEvent, StoreError};

/// Headers every relayed message carries, besides the event's own metadata.
pub mod headers {
    pub const STREAM_ID: &str = "Switchyard-Stream-Id";
    pub const STREAM_VERSION: &str = "Switchyard-Stream-Version";
    pub const POSITION: &str = "Switchyard-Position";
    pub const EVENT_TYPE: &str = "Switchyard-Event-Type";
    pub const SCHEMA_VERSION: &str = "Switchyard-Schema-Version";
    pub const CONTENT_TYPE: &str = "content-type";
}

/// Chooses the bus topic of a stored event; by default its event type.
pub type TopicOf = Arc<dyn Fn(&RecordedEvent) -> String + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Bus(#[from] BusError),
}

/// Publishes stored events to the bus, at least once, in store order.
pub struct OutboxRelay {
    store: EventStore,
    bus: Arc<dyn EventBus>,
    checkpoint: String,
    batch: usize,
    topic_of: TopicOf,
    retry_delay: Duration,
}

impl std::fmt::Debug for OutboxRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxRelay")
            .field("checkpoint", &self.checkpoint)
            .field("batch", &self.batch)
            .finish_non_exhaustive()
    }
}

impl OutboxRelay {
    /// A relay named `name` (its checkpoint is `outbox:{name}`; one relay per name).
    pub fn new(store: EventStore, bus: Arc<dyn EventBus>, name: &str) -> Self {
        OutboxRelay {
            store,
            bus,
            checkpoint: format!("outbox:{name}"),
            batch: 256,
            topic_of: Arc::new(|event: &RecordedEvent| event.event_type.clone()),
            retry_delay: Duration::from_millis(500),
        }
    }

    pub fn batch(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }

    pub fn topic_of(
        mut self,
        topic_of: impl Fn(&RecordedEvent) -> String + Send + Sync + 'static,
    ) -> Self {
        self.topic_of = Arc::new(topic_of);
        self
    }

    /// The position up to which events are published.
    pub async fn position(&self) -> Result<i64, StoreError> {
        self.store.checkpoint(&self.checkpoint).await
    }

    /// Publishes the next batch and moves the checkpoint past it; returns how many
    /// events it published (0: nothing new).
    pub async fn relay_once(&self) -> Result<usize, OutboxError> {
        let position = self.store.checkpoint(&self.checkpoint).await?;
        let events = self.store.read_all(position, self.batch).await?;
        let Some(last) = events.last().map(|event| event.position) else {
            return Ok(0);
        };
        let messages = events.iter().map(|event| self.message(event)).collect();
        self.bus.publish_batch(messages).await?;
        self.store.save_checkpoint(&self.checkpoint, last).await?;
        Ok(events.len())
    }

    /// Publishes until nothing is left; returns the position reached.
    pub async fn drain(&self) -> Result<i64, OutboxError> {
        while self.relay_once().await? > 0 {}
        Ok(self.position().await?)
    }

    /// Relays until `stop` turns true. Failures (broker down, database busy) are logged
    /// and retried after a delay: the checkpoint has not moved, so nothing is skipped.
    pub async fn run(&self, mut stop: watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                return;
            }
            match self.relay_once().await {
                Ok(0) => {
                    let position = self.position().await.unwrap_or(0);
                    tokio::select! {
                        _ = self.store.wait_for_events(position) => {}
                        _ = stop.changed() => {}
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(relay = %self.checkpoint, %error, "outbox relay failed; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(self.retry_delay) => {}
                        _ = stop.changed() => {}
                    }
                }
            }
        }
    }

    fn message(&self, event: &RecordedEvent) -> Message {
        let mut message = Message::new(
            (self.topic_of)(event),
            event.event_id.clone(),
            event.payload.to_string(),
        );
        // The metadata carries the writer's trace context, so consumers continue the trace
        // of the command that caused the event, not the relay's.
        message
            .headers
            .extend(event.metadata.iter().map(|(k, v)| (k.clone(), v.clone())));
        message
            .with_header(headers::STREAM_ID, event.stream_id.clone())
            .with_header(headers::STREAM_VERSION, event.version.to_string())
            .with_header(headers::POSITION, event.position.to_string())
            .with_header(headers::EVENT_TYPE, event.event_type.clone())
            .with_header(headers::SCHEMA_VERSION, event.schema_version.to_string())
            .with_header(headers::CONTENT_TYPE, "application/json")
    }
}
