//! Shared by the event store tests: the bank domain, and opening a test's database.
#![allow(dead_code, unreachable_pub)]

pub mod bank;

use switchyard_eventing::store::EventStore;
use switchyard_testkit::TestDatabase;

/// A new handle on the test's database, as another process would open it.
pub async fn open(db: &TestDatabase) -> EventStore {
    EventStore::connect(&db.url())
        .await
        .expect("the event store opens")
}
