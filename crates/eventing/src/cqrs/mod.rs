//! CQRS: commands change aggregates through the event store; projections turn the event
//! stream into read models; queries read only read models.
//!
//! A command answers the global position of the events it wrote; a query can wait until
//! its read model has reached that position (read-your-writes) or say it has not.

mod command;
mod documents;
mod lag;
mod projector;
mod read_model;

pub use command::{Command, CommandBus, CommandError, CommandOutcome};
pub use documents::Documents;
pub use lag::Lag;
pub use projector::{Comparison, Projection, ProjectionError, Projector};
pub use read_model::{NotYet, ReadModel};

use crate::store::StoreError;

/// The read model table of a projection: `rm_{name}`.
pub(crate) fn table_name(projection: &str) -> String {
    format!("rm_{projection}")
}

/// Projection names become table names, so they are held to `[a-z][a-z0-9_]{0,39}`.
pub(crate) fn validate_name(name: &str) -> Result<(), StoreError> {
    let mut chars = name.chars();
    let valid = name.len() <= 40
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(StoreError::Invalid {
            what: "projection name",
            reason: format!("{name:?} is not [a-z][a-z0-9_]* of at most 40 characters"),
        })
    }
}
