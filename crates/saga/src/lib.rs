//! Keeps data consistent across services that each own their database.
//!
//! - Orchestration: a [`SagaDefinition`] (in Rust, or TOML with HTTP steps) run by the
//!   orchestrator, every transition committed to a durable log (SQLite or PostgreSQL)
//!   before the next effect, compensation in reverse (or parallel) on failure, recovery of
//!   every unfinished saga after a crash, and operator commands.
//! - Choreography: a tracker that follows sagas run by events on the bus.
#![forbid(unsafe_code)]

pub mod choreography;
pub mod definition;
pub mod http_step;
pub mod log;
pub mod orchestrator;
pub mod state;
pub mod step;
mod telemetry;
pub mod template;
pub mod toml_definition;

pub use choreography::{ChoreographyDefinition, ChoreographyTracker};
pub use definition::{
    CompensationOrder, DefinitionError, OnStepFailure, RetryPolicy, SagaBuilder, SagaDefinition,
    StepDefinition,
};
pub use http_step::HttpStep;
pub use log::{InstanceFilter, LogEntry, SagaInstance, SagaLog, SagaStatus};
pub use orchestrator::{Orchestrator, OrchestratorError, OrchestratorOptions, SagaEvent};
pub use step::{StepAction, StepContext, StepError, action_fn};
pub use toml_definition::{TomlDefinitionError, load_definition_file, load_definitions};

use switchyard_eventing::database::Migrations;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The saga crate's schema (the orchestrator's log and the choreography tracker's state),
/// for [`switchyard_eventing::database::Database::connect`].
pub const MIGRATIONS: Migrations = Migrations {
    sqlite: &SQLITE_MIGRATIONS,
    postgres: &POSTGRES_MIGRATIONS,
};
