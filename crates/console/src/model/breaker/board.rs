//! The board: every breaker that reported in a time range, with its state at
//! the range's end and its calls over the range.

use serde::{Deserialize, Serialize};
use switchyard_store::{BreakerKey, Reader};

use super::{CallCounts, state_at};
use crate::model::{Result, TimeRange};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BreakerSummary {
    pub breaker: String,
    pub service: String,
    /// The state at the end of the range (`None`: only calls were reported).
    pub state: Option<String>,
    pub rejecting: bool,
    /// When that state was last reported.
    pub reported_unix_nano: Option<i64>,
    /// Calls over the whole range.
    pub calls: CallCounts,
}

/// The breakers that reported in `range`, by service then name.
pub async fn board(reader: &Reader, range: TimeRange) -> Result<Vec<BreakerSummary>> {
    let range = TimeRange::new(range.since_unix_nano, range.until_unix_nano)?;
    let mut out = Vec::new();
    for (service, name) in reader
        .breakers_seen(range.since_unix_nano, range.until_unix_nano)
        .await?
    {
        let key = BreakerKey {
            name: &name,
            service: Some(&service),
        };
        // Half the range either side of its middle covers all of it.
        let half = range.until_unix_nano / 2 - range.since_unix_nano / 2;
        let middle = range.since_unix_nano + half;
        let calls = state_at(reader, key, middle, half).await?.calls_around;
        let end = state_at(reader, key, range.until_unix_nano - 1, 0).await?;
        out.push(BreakerSummary {
            breaker: name.clone(),
            service: service.clone(),
            state: end.state,
            rejecting: end.rejecting,
            reported_unix_nano: end.reported_unix_nano,
            calls,
        });
    }
    Ok(out)
}
