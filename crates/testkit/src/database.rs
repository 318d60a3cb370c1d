//! One test's database, SQLite or PostgreSQL, for suites that must pass on both.

use crate::PostgresServer;

/// A SQLite file in a temporary directory, or a private PostgreSQL server.
#[derive(Debug)]
pub enum TestDatabase {
    Sqlite(tempfile::TempDir),
    Postgres(PostgresServer),
}

impl TestDatabase {
    pub fn sqlite() -> Self {
        TestDatabase::Sqlite(tempfile::tempdir().expect("a temporary directory"))
    }

    pub fn postgres() -> Self {
        TestDatabase::Postgres(PostgresServer::start())
    }

    /// A URL that `switchyard_eventing::database::Database::connect` opens.
    pub fn url(&self) -> String {
        match self {
            TestDatabase::Sqlite(dir) => {
                format!("sqlite://{}/test.db?mode=rwc", dir.path().display())
            }
            TestDatabase::Postgres(server) => server.url(),
        }
    }
}

/// Runs each listed `async fn(TestDatabase)` of the enclosing module once on SQLite and
/// once on PostgreSQL, as tests `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! on_both_databases {
    ($($scenario:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario($crate::TestDatabase::sqlite()).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario($crate::TestDatabase::postgres()).await;
                }
            )+
        }
    };
}
