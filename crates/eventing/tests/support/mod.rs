//! Shared by the event store tests: the bank domain and a database per test.
#![allow(dead_code, unreachable_pub)]

pub mod bank;

use switchyard_eventing::store::EventStore;
use switchyard_testkit::PostgresServer;

/// One test's database: a SQLite file in a temporary directory, or a private PostgreSQL.
#[derive(Debug)]
pub enum Database {
    Sqlite(tempfile::TempDir),
    Postgres(PostgresServer),
}

impl Database {
    pub fn sqlite() -> Self {
        Database::Sqlite(tempfile::tempdir().expect("a temporary directory"))
    }

    pub fn postgres() -> Self {
        Database::Postgres(PostgresServer::start())
    }

    pub fn url(&self) -> String {
        match self {
            Database::Sqlite(dir) => {
                format!("sqlite://{}/events.db?mode=rwc", dir.path().display())
            }
            Database::Postgres(server) => server.url(),
        }
    }

    /// A new handle, as another process would open it.
    pub async fn open(&self) -> EventStore {
        EventStore::connect(&self.url())
            .await
            .expect("the event store opens")
    }
}

/// Runs each listed `async fn(Database)` once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_both_databases {
    ($($scenario:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario($crate::support::Database::sqlite()).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario($crate::support::Database::postgres()).await;
                }
            )+
        }
    };
}
