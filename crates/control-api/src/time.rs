//! Wall-clock times on the wire: Unix epoch milliseconds.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `at` as Unix epoch milliseconds (0 for times before the epoch).
pub fn unix_ms(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Now, as Unix epoch milliseconds.
pub fn now_unix_ms() -> i64 {
    unix_ms(SystemTime::now())
}

/// The wall-clock time for Unix epoch milliseconds (negative values clamp to the epoch).
pub fn from_unix_ms(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}
