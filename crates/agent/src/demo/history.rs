//! The event-sourced order history (CQRS): the orders service appends `OrderPlaced`,
//! `OrderCompleted`, `OrderCompensated` and `OrderFailed` to an event store (SQLite);
//! an outbox relay publishes them to an in-process bus, where a notifications consumer
//! takes them; a projector folds them into the `order_history` read model, with its lag
//! gauges (`eventing.projection.lag.*`).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, UNIX_EPOCH};

use async_trait::async_trait;
use serde_json::{Value, json};
use switchyard_eventing::bus::{EventBus, MemoryBus, SubscribeOptions};
use switchyard_eventing::cqrs::{
    Documents, Lag, Projection, ProjectionError, Projector, ReadModel,
};
use switchyard_eventing::outbox::OutboxRelay;
use switchyard_eventing::store::{EventStore, ExpectedVersion, NewEvent, RecordedEvent};
use tokio::sync::watch;

/// The read model's name (table `rm_order_history`).
pub const PROJECTION: &str = "order_history";

/// The order events, which are also the bus topics.
pub(crate) const ORDER_PLACED: &str = "OrderPlaced";
pub(crate) const ORDER_COMPLETED: &str = "OrderCompleted";
pub(crate) const ORDER_COMPENSATED: &str = "OrderCompensated";
pub(crate) const ORDER_FAILED: &str = "OrderFailed";
const EVENT_TYPES: [&str; 4] = [
    ORDER_PLACED,
    ORDER_COMPLETED,
    ORDER_COMPENSATED,
    ORDER_FAILED,
];

/// How long a follower waits after an error before trying again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The order history: its event store, read model and projection. Cheap to clone.
#[derive(Debug, Clone)]
pub struct OrderHistory {
    store: EventStore,
    read_model: ReadModel,
    projector: Arc<Projector<OrderHistoryProjection>>,
    notified: Arc<AtomicU64>,
}

impl OrderHistory {
    /// Opens the store at `path`, and starts the relay, the bus consumer and the
    /// projector as background tasks.
    pub(crate) async fn start(path: &Path) -> anyhow::Result<OrderHistory> {
        let store = EventStore::open_sqlite(path).await?;
        let bus = MemoryBus::new();
        let notified = Arc::new(AtomicU64::new(0));
        // Groups first: the in-process bus keeps nothing for a topic without one.
        for topic in EVENT_TYPES {
            let subscription = bus
                .subscribe(SubscribeOptions::new(topic, "notifications"))
                .await?;
            tokio::spawn(notify(subscription, notified.clone()));
        }
        let relay = OutboxRelay::new(store.clone(), Arc::new(bus), "order-history");
        tokio::spawn(async move {
            // The sender lives as long as the task: the relay runs until the runtime stops.
            let (_stop, stopped) = watch::channel(false);
            relay.run(stopped).await;
        });
        let projector = Arc::new(Projector::new(store.clone(), OrderHistoryProjection).await?);
        tokio::spawn(project(projector.clone()));
        Ok(OrderHistory {
            read_model: ReadModel::new(store.clone(), PROJECTION)?,
            store,
            projector,
            notified,
        })
    }

    /// Appends one event of `order_id`'s stream. The event id is derived from the order
    /// and the event type, so appending it again (a retried request) stores nothing.
    pub(crate) async fn record(
        &self,
        order_id: &str,
        event_type: &str,
        payload: Value,
    ) -> anyhow::Result<()> {
        let event = NewEvent::new(event_type, payload).with_id(format!("{order_id}:{event_type}"));
        self.store
            .append(
                &format!("order-{order_id}"),
                ExpectedVersion::Any,
                vec![event],
            )
            .await?;
        Ok(())
    }

    /// The event store.
    pub fn store(&self) -> &EventStore {
        &self.store
    }

    /// The query side.
    pub fn read_model(&self) -> &ReadModel {
        &self.read_model
    }

    /// How far the projection is behind the store (also updates the lag gauges).
    pub async fn lag(&self) -> anyhow::Result<Lag> {
        Ok(self.projector.lag().await?)
    }

    /// Events the notifications consumer took from the bus.
    pub fn notified(&self) -> u64 {
        self.notified.load(Ordering::Relaxed)
    }
}

async fn notify(
    mut subscription: switchyard_eventing::bus::Subscription,
    notified: Arc<AtomicU64>,
) {
    while let Some(delivery) = subscription.next().await {
        match delivery {
            // A real shop would e-mail the customer here.
            Ok(delivery) => {
                if let Err(error) = delivery.ack().await {
                    tracing::warn!(%error, "notification ack failed");
                }
                notified.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => {
                tracing::warn!(%error, "notification consumer error");
                tokio::time::sleep(RETRY_AFTER).await;
            }
        }
    }
}

async fn project(projector: Arc<Projector<OrderHistoryProjection>>) {
    let (_stop, stopped) = watch::channel(false);
    loop {
        match projector.run(stopped.clone()).await {
            Ok(()) => return,
            Err(error) => {
                // The event stays unapplied; try again rather than skip it.
                tracing::warn!(%error, "order history projection failed; retrying");
                tokio::time::sleep(RETRY_AFTER).await;
            }
        }
    }
}

/// One document per order: what was ordered and where it stands.
#[derive(Debug)]
pub(crate) struct OrderHistoryProjection;

#[async_trait]
impl Projection for OrderHistoryProjection {
    fn name(&self) -> &str {
        PROJECTION
    }

    fn handles(&self, event_type: &str) -> bool {
        EVENT_TYPES.contains(&event_type)
    }

    async fn apply(
        &self,
        docs: &mut Documents<'_>,
        event: &RecordedEvent,
    ) -> Result<(), ProjectionError> {
        let Some(order_id) = event.payload.get("order_id").and_then(Value::as_str) else {
            return Err(ProjectionError::Event {
                projection: PROJECTION.to_owned(),
                position: event.position,
                reason: "the event has no order_id".to_owned(),
            });
        };
        let at = event
            .recorded_at
            .duration_since(UNIX_EPOCH)
            .map(|since| since.as_millis() as u64)
            .unwrap_or(0);
        let payload = &event.payload;
        docs.update(order_id, |doc| {
            if !doc.is_object() {
                *doc = json!({ "order_id": order_id });
            }
            match event.event_type.as_str() {
                ORDER_PLACED => {
                    doc["status"] = json!("placed");
                    doc["placed_at_ms"] = json!(at);
                    for field in ["customer", "items", "amount_cents", "currency", "saga_id"] {
                        doc[field] = payload.get(field).cloned().unwrap_or(Value::Null);
                    }
                }
                ORDER_COMPLETED => {
                    doc["status"] = json!("completed");
                    doc["finished_at_ms"] = json!(at);
                }
                ORDER_COMPENSATED | ORDER_FAILED => {
                    doc["status"] = json!(if event.event_type == ORDER_FAILED {
                        "needs_attention"
                    } else {
                        "cancelled"
                    });
                    doc["finished_at_ms"] = json!(at);
                    doc["failed_step"] = payload.get("failed_step").cloned().unwrap_or(Value::Null);
                    doc["reason"] = payload.get("error").cloned().unwrap_or(Value::Null);
                }
                _ => {}
            }
        })
        .await?;
        Ok(())
    }
}
