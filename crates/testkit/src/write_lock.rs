//! Holding a store file's write lock from another connection: a real way to
//! make the store's writer fall behind.

use std::path::Path;

use sqlx::Connection as _;
use tokio::sync::oneshot;

/// The lock is held until this is dropped.
#[derive(Debug)]
pub struct WriteLock {
    _release: oneshot::Sender<()>,
}

/// Takes the write lock of the SQLite file at `db` (BEGIN IMMEDIATE).
pub async fn hold_write_lock(db: &Path) -> WriteLock {
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite:{}", db.display()))
        .await
        .expect("the file opens");
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut conn)
        .await
        .expect("the write lock is free");
    let (release, released) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = released.await;
        sqlx::query("ROLLBACK")
            .execute(&mut conn)
            .await
            .expect("rollback");
        let _ = conn.close().await;
    });
    WriteLock { _release: release }
}
