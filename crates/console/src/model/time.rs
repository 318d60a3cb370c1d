//! Time ranges of queries.

use serde::{Deserialize, Serialize};

use super::{ModelError, Result};

/// `[since, until)` in Unix nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeRange {
    pub since_unix_nano: i64,
    pub until_unix_nano: i64,
}

impl TimeRange {
    pub fn new(since_unix_nano: i64, until_unix_nano: i64) -> Result<Self> {
        if until_unix_nano <= since_unix_nano {
            return Err(ModelError::InvalidQuery(
                "the time range is empty: its end is not after its start".into(),
            ));
        }
        Ok(Self {
            since_unix_nano,
            until_unix_nano,
        })
    }

    /// Everything, for queries without a range.
    pub const ALL: TimeRange = TimeRange {
        since_unix_nano: i64::MIN,
        until_unix_nano: i64::MAX,
    };

    pub fn contains(&self, t: i64) -> bool {
        self.since_unix_nano <= t && t < self.until_unix_nano
    }
}
