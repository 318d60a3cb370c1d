//! One database, SQLite or PostgreSQL, through sqlx's `Any` driver: URL parsing, pools,
//! pragmas, migrations and the writers' lock. Shared by the event store and the saga log,
//! so both open files and servers the same way.

use std::str::FromStr as _;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::Migrator;
use sqlx::{Any, AnyPool, Executor as _, Transaction};

/// Which database it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One writer connection; `BEGIN IMMEDIATE` serialises writers across processes.
    Sqlite,
    /// Writers that must serialise take a transaction-scoped advisory lock.
    Postgres,
}

#[derive(Debug, Clone)]
pub struct DatabaseOptions {
    /// Connections for reads (SQLite) or for everything (PostgreSQL).
    pub max_connections: u32,
    /// SQLite only: `synchronous=FULL` (survives power loss) instead of `NORMAL` (survives
    /// a killed process; the WAL default).
    pub sync_full: bool,
}

impl Default for DatabaseOptions {
    fn default() -> Self {
        DatabaseOptions {
            max_connections: 4,
            sync_full: false,
        }
    }
}

/// The schema of one user of the database, per backend.
#[derive(Debug, Clone, Copy)]
pub struct Migrations {
    pub sqlite: &'static Migrator,
    pub postgres: &'static Migrator,
}

#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    #[error("unsupported database URL {0:?}: use sqlite:PATH, a file path, or postgres://")]
    UnsupportedUrl(String),
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Pools on one database: SQLite gets one writer and several readers (WAL), PostgreSQL
/// one pool for both.
#[derive(Debug, Clone)]
pub struct Database {
    backend: Backend,
    write: AnyPool,
    read: AnyPool,
}

impl Database {
    /// Opens `sqlite:PATH`, `sqlite://PATH`, a plain file path (created if missing), or
    /// `postgres://...`, and brings the schema up to date.
    pub async fn connect(
        url: &str,
        options: &DatabaseOptions,
        migrations: Migrations,
    ) -> Result<Self, DatabaseError> {
        install_default_drivers();
        let (backend, url) = classify(url)?;
        let (write, read) = match backend {
            Backend::Sqlite => {
                let synchronous = if options.sync_full { "FULL" } else { "NORMAL" };
                let pragmas =
                    format!("PRAGMA synchronous = {synchronous}; PRAGMA busy_timeout = 10000;");
                let pool = |size: u32| {
                    let pragmas = pragmas.clone();
                    AnyPoolOptions::new()
                        .max_connections(size)
                        .after_connect(move |conn, _| {
                            let pragmas = pragmas.clone();
                            Box::pin(async move {
                                conn.execute(pragmas.as_str()).await?;
                                Ok(())
                            })
                        })
                };
                let write = pool(1).connect(&url).await?;
                // WAL lets readers run beside the writer; it is a property of the file.
                write.execute("PRAGMA journal_mode = WAL").await?;
                migrations.sqlite.run(&write).await?;
                let read = pool(options.max_connections.max(1)).connect(&url).await?;
                (write, read)
            }
            Backend::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(options.max_connections.max(2))
                    .connect(&url)
                    .await?;
                // sqlx takes an advisory lock while migrating, so two processes starting
                // at once do not race.
                migrations.postgres.run(&pool).await?;
                (pool.clone(), pool)
            }
        };
        Ok(Database {
            backend,
            write,
            read,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn read_pool(&self) -> &AnyPool {
        &self.read
    }

    /// SQLite's one writer (so writes queue in-process instead of retrying on a busy
    /// file); on PostgreSQL the same pool as reads.
    pub fn write_pool(&self) -> &AnyPool {
        &self.write
    }

    /// A write transaction that excludes every other holder of `lock` until it ends:
    /// SQLite's `BEGIN IMMEDIATE` (one writer per file anyway), PostgreSQL's
    /// `pg_advisory_xact_lock(lock)`.
    pub async fn begin_exclusive(
        &self,
        lock: i64,
    ) -> Result<Transaction<'static, Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.write.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => {
                let mut tx = self.write.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(lock)
                    .execute(&mut *tx)
                    .await?;
                Ok(tx)
            }
        }
    }

    /// A write transaction; on PostgreSQL it takes no lock beyond the rows it touches.
    pub async fn begin(&self) -> Result<Transaction<'static, Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.write.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.write.begin().await,
        }
    }

    /// The `n`th (from 1) bind parameter. SQLite gets `?`: it looks a numbered
    /// parameter's name up by a linear scan once per parameter, which made binding a
    /// 4,608-parameter insert take 60% of an append.
    pub fn placeholder(&self, n: usize) -> String {
        match self.backend {
            Backend::Sqlite => "?".to_owned(),
            Backend::Postgres => format!("${n}"),
        }
    }

    /// `count` bind parameters from number `first`, comma-separated: `$3, $4, $5` (or
    /// `?, ?, ?` on SQLite).
    pub fn placeholders(&self, first: usize, count: usize) -> String {
        (first..first + count)
            .map(|n| self.placeholder(n))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Closes the connections (waits for them to be returned).
    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}

fn classify(url: &str) -> Result<(Backend, String), DatabaseError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok((Backend::Postgres, url.to_owned()));
    }
    if url.starts_with("sqlite:") {
        // Validate early, so a typo is an error here and not a confusing one later.
        sqlx::sqlite::SqliteConnectOptions::from_str(url)?;
        return Ok((Backend::Sqlite, url.to_owned()));
    }
    if url.contains("://") {
        return Err(DatabaseError::UnsupportedUrl(url.to_owned()));
    }
    Ok((Backend::Sqlite, format!("sqlite://{url}?mode=rwc")))
}
