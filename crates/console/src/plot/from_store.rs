//! Chart inputs read from the store: a breaker's history from the `breaker.state`,
//! `breaker.failure_rate` and `breaker.calls{breaker.outcome=rejected}` metrics; a
//! span name's latencies; a route's requests per second by target (`route.requests`);
//! saga outcomes per interval (the saga model). Commands sent to the subject (with
//! their closed-loop verdicts) become annotations.

use std::collections::BTreeMap;

use switchyard_conventions::breaker::{self as names, BreakerState, CallOutcome};
use switchyard_store::records::{CommandQuery, Records};
use switchyard_store::{AttrFilter, MetricQuery, Reader, StoreError, model::MetricSeries};

use super::{
    Annotation, BreakerTimeline, LatencyHistogram, OutcomeCounts, RouteThroughput, SagaOutcomes,
    Sample, StateChange, ThroughputSeries, TimeRange,
};
use crate::model::saga::{self, SagaOrder, SagaSearch};
use crate::model::{ModelError, saga::Outcome};

/// Why a chart's data cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ChartDataError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("services {services} each have a breaker {name:?}: choose one with --service")]
    Ambiguous { name: String, services: String },
}

/// Time buckets per chart: a few pixels each at the default width.
const BUCKETS: u32 = 500;

/// The breaker's history from the `breaker.state`, `breaker.failure_rate`
/// and `breaker.calls{breaker.outcome=rejected}` metrics.
pub async fn breaker_timeline(
    reader: &Reader,
    records: Option<&Records>,
    name: &str,
    service: Option<String>,
    range: TimeRange,
) -> Result<BreakerTimeline, ChartDataError> {
    let query = |metric: &str, outcome: Option<CallOutcome>| {
        let mut attributes = vec![AttrFilter {
            key: names::NAME.to_owned(),
            value: name.to_owned(),
        }];
        if let Some(outcome) = outcome {
            attributes.push(AttrFilter {
                key: names::OUTCOME.to_owned(),
                value: outcome.as_str().to_owned(),
            });
        }
        MetricQuery {
            name: metric.to_owned(),
            attributes,
            service: service.clone(),
            since_unix_nano: range.start_unix_nano,
            until_unix_nano: range.end_unix_nano,
            buckets: BUCKETS,
        }
    };
    let states = reader
        .metric_series(&query(names::STATE_METRIC, None))
        .await?;
    let rates = reader
        .metric_series(&query(names::FAILURE_RATE_METRIC, None))
        .await?;
    let rejected = reader
        .metric_series(&query(names::CALLS_METRIC, Some(CallOutcome::Rejected)))
        .await?;
    let bucket_seconds =
        (range.end_unix_nano - range.start_unix_nano) as f64 / 1e9 / f64::from(BUCKETS);
    if service.is_none() {
        one_service(name, [&states, &rates, &rejected])?;
    }
    Ok(BreakerTimeline {
        breaker: name.to_owned(),
        range,
        states: state_changes(&states),
        failure_rate: merged(&rates, |p| p.mean),
        rejected_per_s: per_second(&rejected, bucket_seconds),
        annotations: match records {
            Some(records) => annotations(records, name, range).await?,
            None => Vec::new(),
        },
    })
}

/// Fails when breakers of this name live in more than one service.
fn one_service(name: &str, all: [&Vec<MetricSeries>; 3]) -> Result<(), ChartDataError> {
    let mut services: Vec<&str> = all
        .iter()
        .flat_map(|s| s.iter())
        .map(|s| s.service.as_str())
        .collect();
    services.sort_unstable();
    services.dedup();
    if services.len() > 1 {
        return Err(ChartDataError::Ambiguous {
            name: name.to_owned(),
            services: services.join(", "),
        });
    }
    Ok(())
}

/// Each bucket's newest state, kept where it differs from the one before.
fn state_changes(series: &[MetricSeries]) -> Vec<StateChange> {
    let mut changes: Vec<StateChange> = Vec::new();
    for sample in merged(series, |p| p.last) {
        let Some(state) = BreakerState::from_code(sample.value as i64) else {
            continue;
        };
        if changes.last().is_none_or(|c| c.state != state) {
            changes.push(StateChange::new(sample.time_unix_nano, state));
        }
    }
    changes
}

/// The series' buckets by time, one value each (`value` of the bucket).
fn merged(
    series: &[MetricSeries],
    value: impl Fn(&switchyard_store::model::SeriesPoint) -> f64,
) -> Vec<Sample> {
    let mut by_time: BTreeMap<i64, f64> = BTreeMap::new();
    for s in series {
        for p in &s.points {
            by_time.insert(p.time_unix_nano, value(p));
        }
    }
    by_time
        .into_iter()
        .map(|(t, v)| Sample::new(t, v))
        .collect()
}

/// Counter series as a rate per second, summed over the series.
fn per_second(series: &[MetricSeries], bucket_seconds: f64) -> Vec<Sample> {
    let mut by_time: BTreeMap<i64, f64> = BTreeMap::new();
    for s in series {
        if s.temporality == "delta" {
            // Each bucket holds the calls counted in it.
            for p in &s.points {
                *by_time.entry(p.time_unix_nano).or_default() += p.sum / bucket_seconds;
            }
        } else {
            for pair in s.points.windows(2) {
                let seconds = (pair[1].time_unix_nano - pair[0].time_unix_nano) as f64 / 1e9;
                let calls = pair[1].last - pair[0].last;
                // A drop is a restarted process counting from zero again.
                let calls = if calls < 0.0 { pair[1].last } else { calls };
                *by_time.entry(pair[1].time_unix_nano).or_default() += calls / seconds;
            }
        }
    }
    by_time
        .into_iter()
        .map(|(t, v)| Sample::new(t, v))
        .collect()
}

/// The commands sent to `target` in `range`: "trip by alice (confirmed)".
pub async fn annotations(
    records: &Records,
    target: &str,
    range: TimeRange,
) -> Result<Vec<Annotation>, StoreError> {
    annotations_where(records, Some(target), range, |_| true).await
}

/// The commands in `range` (sent to `target`, if given) that `keep` keeps, oldest first.
async fn annotations_where(
    records: &Records,
    target: Option<&str>,
    range: TimeRange,
    keep: impl Fn(&switchyard_store::records::CommandRecord) -> bool,
) -> Result<Vec<Annotation>, StoreError> {
    let commands = records
        .commands(&CommandQuery {
            target: target.map(str::to_owned),
            since_unix_ms: Some(range.start_unix_nano / 1_000_000),
            limit: Some(200),
            ..CommandQuery::default()
        })
        .await?;
    Ok(commands
        .into_iter()
        .rev()
        .filter(|c| c.at_unix_ms.saturating_mul(1_000_000) <= range.end_unix_nano)
        .filter(|c| keep(c))
        .map(|c| {
            let mut label = format!("{} by {}", c.action, c.who);
            match (&c.error, &c.verdict) {
                (Some(_), _) => label.push_str(" (failed)"),
                (None, Some(verdict)) => label.push_str(&format!(" ({verdict})")),
                (None, None) => {}
            }
            Annotation::new(c.at_unix_ms.saturating_mul(1_000_000), label)
        })
        .collect())
}

/// Spans read for one histogram at most.
const MAX_SPANS: u32 = 200_000;
/// Sagas read for one outcome chart at most.
const MAX_SAGAS: u32 = 50_000;

/// The latencies of spans named `span_name` in `range`.
pub async fn latency_histogram(
    reader: &Reader,
    span_name: &str,
    service: Option<&str>,
    range: TimeRange,
) -> Result<LatencyHistogram, ChartDataError> {
    let durations = reader
        .span_durations(
            span_name,
            service,
            range.start_unix_nano,
            range.end_unix_nano,
            MAX_SPANS,
        )
        .await?;
    Ok(LatencyHistogram::from_durations(span_name, &durations, 40))
}

/// Requests per second of `route`, one series per target (`legacy`, `new`, a cluster).
pub async fn route_throughput(
    reader: &Reader,
    records: Option<&Records>,
    route: &str,
    range: TimeRange,
) -> Result<RouteThroughput, ChartDataError> {
    let series = reader
        .metric_series(&MetricQuery {
            name: switchyard_conventions::route::REQUESTS_METRIC.to_owned(),
            attributes: vec![AttrFilter {
                key: switchyard_conventions::route::NAME.to_owned(),
                value: route.to_owned(),
            }],
            service: None,
            since_unix_nano: range.start_unix_nano,
            until_unix_nano: range.end_unix_nano,
            buckets: BUCKETS,
        })
        .await?;
    let bucket_seconds =
        (range.end_unix_nano - range.start_unix_nano) as f64 / 1e9 / f64::from(BUCKETS);
    // One series per target, over every status class.
    let mut by_target: BTreeMap<String, Vec<MetricSeries>> = BTreeMap::new();
    for s in series {
        let target = match s.attributes.get(switchyard_conventions::route::TARGET) {
            Some(switchyard_store::attributes::Value::String(t)) => t.clone(),
            _ => "unknown".to_owned(),
        };
        by_target.entry(target).or_default().push(s);
    }
    Ok(RouteThroughput {
        route: route.to_owned(),
        range,
        series: by_target
            .into_iter()
            .map(|(target, series)| {
                ThroughputSeries::new(target, per_second(&series, bucket_seconds))
            })
            .collect(),
        annotations: match records {
            Some(records) => annotations(records, route, range).await?,
            None => Vec::new(),
        },
    })
}

/// Saga outcomes (by start time) per interval of `interval_ns`; the retries,
/// compensations and resolutions sent to those sagas become annotations.
pub async fn saga_outcomes(
    reader: &Reader,
    records: Option<&Records>,
    saga_name: Option<&str>,
    range: TimeRange,
    interval_ns: i64,
) -> Result<SagaOutcomes, ChartDataError> {
    let interval_ns = interval_ns.max(1_000_000_000);
    let instances = saga::search(
        reader,
        &SagaSearch {
            failed_only: false,
            saga_name: saga_name.map(str::to_owned),
            range: Some(crate::model::TimeRange::new(
                range.start_unix_nano,
                range.end_unix_nano,
            )?),
            order: SagaOrder::NewestFirst,
            limit: MAX_SAGAS,
        },
    )
    .await?;
    let shown: std::collections::HashSet<String> =
        instances.iter().map(|i| i.saga_id.clone()).collect();
    let annotations = match records {
        Some(records) => {
            annotations_where(records, None, range, |c| {
                matches!(
                    c.action.as_str(),
                    "retry_saga" | "compensate_saga" | "resolve_saga"
                ) && (saga_name.is_none() || shown.contains(&c.target))
            })
            .await?
        }
        None => Vec::new(),
    };
    let mut intervals: BTreeMap<i64, OutcomeCounts> = BTreeMap::new();
    for instance in instances {
        let offset = (instance.start_unix_nano - range.start_unix_nano).max(0);
        let start = range.start_unix_nano + offset / interval_ns * interval_ns;
        let counts = intervals.entry(start).or_insert(OutcomeCounts {
            start_unix_nano: start,
            completed: 0,
            compensated: 0,
            failed: 0,
            running: 0,
        });
        match instance.outcome {
            Outcome::Completed => counts.completed += 1,
            Outcome::Compensated => counts.compensated += 1,
            Outcome::Failed => counts.failed += 1,
            Outcome::Running | Outcome::Unknown => counts.running += 1,
        }
    }
    Ok(SagaOutcomes {
        saga_name: saga_name.map(str::to_owned),
        range,
        interval_ns,
        intervals: intervals.into_values().collect(),
        annotations,
    })
}
