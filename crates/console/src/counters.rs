//! Reading stored metric series the way the console's checks need them: how much a
//! cumulative counter grew after a moment, and a gauge's newest values.

use std::time::Duration;

use switchyard_store::{AttrFilter, MetricQuery, Reader, StoreError};

use crate::clock::now_unix_ms;

/// How far back a counter's value before the moment is looked for.
const LOOK_BACK: Duration = Duration::from_secs(3600);

/// An attribute filter.
pub fn attr(key: &str, value: &str) -> AttrFilter {
    AttrFilter {
        key: key.to_owned(),
        value: value.to_owned(),
    }
}

/// How much the cumulative counter `name` (over every series matching `attributes`)
/// grew after `at` (Unix ms): per series, the newest value minus the last one before
/// `at` (0 when it started after). `None`: no point after `at` yet.
pub async fn growth_since(
    reader: &Reader,
    name: &str,
    attributes: Vec<AttrFilter>,
    at: i64,
) -> Result<Option<f64>, StoreError> {
    let series = reader
        .metric_series(&MetricQuery {
            name: name.to_owned(),
            attributes,
            service: None,
            since_unix_nano: (at - LOOK_BACK.as_millis() as i64) * 1_000_000,
            until_unix_nano: (now_unix_ms() + 60_000) * 1_000_000,
            buckets: 720,
        })
        .await?;
    let at_nanos = at * 1_000_000;
    let mut total: Option<f64> = None;
    for s in &series {
        let before = s
            .points
            .iter()
            .rev()
            .find(|p| p.time_unix_nano < at_nanos)
            .map_or(0.0, |p| p.last);
        let after = s
            .points
            .iter()
            .rev()
            .find(|p| p.time_unix_nano >= at_nanos)
            .map(|p| p.last);
        if let Some(after) = after {
            // A counter that went down was restarted: count from zero.
            let grown = if after >= before {
                after - before
            } else {
                after
            };
            *total.get_or_insert(0.0) += grown;
        }
    }
    Ok(total)
}

/// The newest value of each series of gauge `name` since `since` (Unix ms), with the
/// series' attributes.
pub async fn latest_gauges(
    reader: &Reader,
    name: &str,
    since: i64,
) -> Result<Vec<(switchyard_store::attributes::Attributes, f64, i64)>, StoreError> {
    let series = reader
        .metric_series(&MetricQuery {
            name: name.to_owned(),
            attributes: Vec::new(),
            service: None,
            since_unix_nano: since * 1_000_000,
            until_unix_nano: (now_unix_ms() + 60_000) * 1_000_000,
            buckets: 60,
        })
        .await?;
    Ok(series
        .into_iter()
        .filter_map(|s| {
            let point = s.points.last()?;
            Some((s.attributes, point.last, point.time_unix_nano / 1_000_000))
        })
        .collect())
}
