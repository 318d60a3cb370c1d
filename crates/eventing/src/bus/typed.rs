//! Typed events: a Rust type per topic, JSON on the wire.
//!
//! A payload that does not decode as the subscriber's type can never succeed, so the
//! subscription terminates it (to the dead letters, with the decode error as reason)
//! and moves on instead of handing it to the application.

use std::any::type_name;
use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{BusError, Delivery, EventBus, Message, PublishAck, SubscribeOptions, Subscription};

/// Header naming the payload format of typed events.
pub const CONTENT_TYPE_HEADER: &str = "content-type";
const JSON: &str = "application/json";

/// An event type with its topic.
pub trait Topic: Serialize + DeserializeOwned + Send + Sync + 'static {
    const TOPIC: &'static str;
}

/// Publishes `event` as JSON to `E::TOPIC` under message id `id`.
pub async fn publish_event<E: Topic>(
    bus: &dyn EventBus,
    id: impl Into<String>,
    event: &E,
) -> Result<PublishAck, BusError> {
    bus.publish(event_message(id, event)?).await
}

/// The message [`publish_event`] publishes, e.g. for [`EventBus::publish_batch`].
pub fn event_message<E: Topic>(id: impl Into<String>, event: &E) -> Result<Message, BusError> {
    let payload = serde_json::to_vec(event).map_err(|err| BusError::Invalid {
        what: "event",
        reason: format!("{} does not encode as JSON: {err}", type_name::<E>()),
    })?;
    Ok(Message::new(E::TOPIC, id, payload).with_header(CONTENT_TYPE_HEADER, JSON))
}

/// Joins `group` on `E::TOPIC`; `configure` adjusts the default [`SubscribeOptions`].
pub async fn subscribe_events<E: Topic>(
    bus: &dyn EventBus,
    group: impl Into<String>,
    configure: impl FnOnce(SubscribeOptions) -> SubscribeOptions,
) -> Result<TypedSubscription<E>, BusError> {
    let options = configure(SubscribeOptions::new(E::TOPIC, group));
    if options.topic != E::TOPIC {
        return Err(BusError::Invalid {
            what: "subscribe options",
            reason: format!(
                "typed subscription of {} must stay on topic {:?}",
                type_name::<E>(),
                E::TOPIC
            ),
        });
    }
    Ok(TypedSubscription {
        inner: bus.subscribe(options).await?,
        _event: PhantomData,
    })
}

/// A group member that decodes each delivery as `E`.
pub struct TypedSubscription<E> {
    inner: Subscription,
    _event: PhantomData<fn() -> E>,
}

impl<E> fmt::Debug for TypedSubscription<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypedSubscription")
            .field("event", &type_name::<E>())
            .finish_non_exhaustive()
    }
}

impl<E: Topic> TypedSubscription<E> {
    /// The next delivery that decodes; `None` once the bus is closed. An error is a
    /// bus error (including failing to dead-letter an undecodable payload); the
    /// subscription can go on after it.
    pub async fn next(&mut self) -> Option<Result<TypedDelivery<E>, BusError>> {
        loop {
            let delivery = match self.inner.next().await? {
                Ok(delivery) => delivery,
                Err(err) => return Some(Err(err)),
            };
            match serde_json::from_slice::<E>(&delivery.message.payload) {
                Ok(event) => return Some(Ok(TypedDelivery { event, delivery })),
                Err(source) => {
                    let reason = BusError::Decode {
                        type_name: type_name::<E>(),
                        source,
                    }
                    .to_string();
                    tracing::warn!(
                        topic = %delivery.message.topic,
                        id = %delivery.message.id,
                        %reason,
                        "poison message moved to the dead letters"
                    );
                    if let Err(err) = delivery.term(&reason).await {
                        return Some(Err(err));
                    }
                }
            }
        }
    }
}

/// A decoded delivery; answer it exactly once, like a [`Delivery`].
#[derive(Debug)]
pub struct TypedDelivery<E> {
    pub event: E,
    pub delivery: Delivery,
}

impl<E> TypedDelivery<E> {
    pub fn message(&self) -> &Message {
        &self.delivery.message
    }

    /// 1 for the first delivery, 2 for the first redelivery, and so on.
    pub fn attempt(&self) -> u32 {
        self.delivery.attempt
    }

    /// The producer's trace context, to parent the consumer's span.
    pub fn parent_context(&self) -> opentelemetry::Context {
        self.delivery.parent_context()
    }

    pub async fn ack(self) -> Result<(), BusError> {
        self.delivery.ack().await
    }

    pub async fn nak(self, delay: Option<Duration>, reason: &str) -> Result<(), BusError> {
        self.delivery.nak(delay, reason).await
    }

    pub async fn progress(&self) -> Result<(), BusError> {
        self.delivery.progress().await
    }

    pub async fn term(self, reason: &str) -> Result<(), BusError> {
        self.delivery.term(reason).await
    }
}
