//! Choreography: participants react to each other's events on the bus and nobody
//! coordinates, so the [`ChoreographyTracker`] reconstructs each instance from the events
//! it sees.
//!
//! - A [`ChoreographyDefinition`] (Rust or TOML) says which event types (bus topics)
//!   start an instance, finish, fail or compensate each step, and complete it, and how
//!   long an instance may go without progress.
//! - Each event is correlated by `saga.id`: the message header [`SAGA_ID_HEADER`], else a
//!   JSON pointer into the payload (`/saga_id` by default). A message without one is
//!   dead-lettered with the reason.
//! - Delivery is at least once and order is not guaranteed: an event's identity is
//!   (saga, instance, event type), so redeliveries and re-publications are counted and
//!   ignored, and the status is derived from the set of events seen, not their order.
//! - State is durable (tables `choreography_instances` and `choreography_events` in the
//!   saga database, SQLite or PostgreSQL); a new tracker on the same database and
//!   consumer group continues where the last one stopped.
//! - The tracker emits no saga spans (participants do, per
//!   [`switchyard_conventions::saga`]); it records each event's trace id and keeps the
//!   gauge [`STUCK_METRIC`].

mod definition;
mod state;
mod store;
mod tracker;

pub use definition::{
    ChoreographyDefinition, ChoreographyDefinitionError, ChoreographyStep, DEFAULT_SAGA_ID_POINTER,
    EventRole,
};
pub use state::{
    ChoreographyInstance, ChoreographyStatus, EventRecord, InstanceSummary, StepState,
    StuckInstance, UnknownStatus,
};
pub use store::{ChoreographyStore, InstanceFilter};
pub use tracker::{
    ChangeKind, ChoreographyChange, ChoreographyTracker, TrackerHandle, TrackerOptions,
};

use switchyard_eventing::bus::BusError;

/// The message header that carries the saga id (`saga.id`, as the span attribute).
pub const SAGA_ID_HEADER: &str = switchyard_conventions::saga::ID;

/// Gauge: instances of a saga (attribute `saga.name`) the tracker's last scan found stuck.
pub const STUCK_METRIC: &str = "saga.choreography.stuck";

/// What went wrong while tracking.
#[derive(Debug, thiserror::Error)]
pub enum ChoreographyError {
    #[error(transparent)]
    Definition(#[from] ChoreographyDefinitionError),
    #[error("choreography database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("choreography bus error: {0}")]
    Bus(#[from] BusError),
    #[error("stored choreography state is not valid: {0}")]
    Corrupt(String),
    #[error("a tracker task failed: {0}")]
    Task(String),
}
