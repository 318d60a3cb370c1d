//! Asynchronous, loosely coupled communication between services and an event-sourced
//! write model with CQRS read models.
//!
//! - [`bus`]: publish/subscribe with consumer groups, at-least-once delivery, dead
//!   letters; in-process ([`bus::MemoryBus`]) or NATS JetStream ([`bus::JetStreamBus`]).
//! - [`store`]: an append-only event store with optimistic concurrency and idempotent
//!   appends, on SQLite (default) or PostgreSQL.
//! - [`aggregate`]: aggregates rebuilt from their events, snapshots, upcasting, replay to
//!   a point in time.
//! - [`outbox`]: publishes stored events to the bus, at least once, from the store.
//! - [`cqrs`]: command handling, projections into read models, read-your-writes.
#![forbid(unsafe_code)]

pub mod aggregate;
pub mod bus;
pub mod cqrs;
pub mod database;
pub mod outbox;
pub mod store;
