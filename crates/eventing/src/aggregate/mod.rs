//! Event-sourced aggregates: state rebuilt from a stream's events, with snapshots every
//! N events, upcasting of old event formats, and replay to a point in time.

mod repository;
mod upcast;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use repository::{AsOf, Loaded, Repository, RepositoryError};
pub use upcast::{Upcaster, Upcasters};

/// An event of an aggregate's stream. Its JSON form is the stored payload.
pub trait DomainEvent: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The stored `event_type` (and the outbox's bus topic), usually one per variant.
    fn event_type(&self) -> &'static str;

    /// The payload format this code writes; older stored formats are upcast to it.
    fn schema_version(&self) -> u32 {
        1
    }
}

/// State rebuilt by applying a stream's events in order.
pub trait Aggregate: Default + Serialize + DeserializeOwned + Send + Sync + 'static {
    type Event: DomainEvent;

    /// The stream id prefix: the stream of aggregate `id` is `"{KIND}-{id}"`.
    const KIND: &'static str;

    /// Take a snapshot each time the version passes a multiple of this; 0 never.
    const SNAPSHOT_EVERY: i64 = 100;

    /// The format of the serialized state; bump it when the state's shape changes and
    /// older snapshots are ignored (rebuilt from events) instead of misread.
    const STATE_VERSION: u32 = 1;

    fn apply(&mut self, event: &Self::Event);

    fn stream_id(id: &str) -> String {
        format!("{}-{id}", Self::KIND)
    }
}
