//! `switchyard plot`: charts from the store, written as SVG or PNG.
//!
//! The breaker history is read here straight from the stored metrics; when the
//! console's breaker model exists, `breaker_timeline` becomes a call to it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use clap::{Args, Subcommand};
use switchyard_conventions::breaker::{self as names, BreakerState, CallOutcome};
use switchyard_store::{AttrFilter, MetricQuery, Reader, model::MetricSeries};

use super::{DbArg, nanos_ago, parse_duration};
use crate::plot::{self, BreakerTimeline, Format, Sample, Size, StateChange, TimeRange};

#[derive(Debug, Subcommand)]
pub enum PlotCommand {
    /// A breaker's state over time, with its failure rate and rejected calls.
    Breaker(BreakerPlotArgs),
}

#[derive(Debug, Args)]
pub struct BreakerPlotArgs {
    /// The breaker's name (its `breaker.name`).
    name: String,
    /// The image to write: FILE.svg or FILE.png.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    #[command(flatten)]
    db: DbArg,
    /// How far back to look.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "1h")]
    since: Duration,
    /// The service that owns the breaker, when several have one of this name.
    #[arg(long, value_name = "S")]
    service: Option<String>,
    /// Image size in pixels, WIDTHxHEIGHT.
    #[arg(long, value_name = "WxH", value_parser = parse_size, default_value = "1000x500")]
    size: Size,
}

pub(super) async fn run(command: PlotCommand) -> anyhow::Result<()> {
    let PlotCommand::Breaker(args) = command;
    // Refuse a name we cannot write before reading anything.
    Format::from_path(&args.out)?;
    let reader = Reader::open(args.db.path()).await?;
    let now = nanos_ago(Duration::ZERO);
    let range = TimeRange::new(nanos_ago(args.since), now);
    let timeline = breaker_timeline(&reader, &args.name, args.service, range).await?;
    plot::write_file(&timeline, args.size, &args.out)?;
    if timeline.states.is_empty() && timeline.failure_rate.is_empty() {
        eprintln!(
            "no telemetry from breaker {:?} in this range; wrote an empty chart to {}",
            args.name,
            args.out.display()
        );
    } else {
        eprintln!("wrote {}", args.out.display());
    }
    Ok(())
}

/// Time buckets per chart: a few pixels each at the default width.
const BUCKETS: u32 = 500;

/// The breaker's history from the `breaker.state`, `breaker.failure_rate`
/// and `breaker.calls{breaker.outcome=rejected}` metrics.
async fn breaker_timeline(
    reader: &Reader,
    name: &str,
    service: Option<String>,
    range: TimeRange,
) -> anyhow::Result<BreakerTimeline> {
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
        annotations: Vec::new(),
    })
}

/// Fails when breakers of this name live in more than one service.
fn one_service(name: &str, all: [&Vec<MetricSeries>; 3]) -> anyhow::Result<()> {
    let mut services: Vec<&str> = all
        .iter()
        .flat_map(|s| s.iter())
        .map(|s| s.service.as_str())
        .collect();
    services.sort_unstable();
    services.dedup();
    if services.len() > 1 {
        bail!(
            "services {} each have a breaker {name:?}: choose one with --service",
            services.join(", ")
        );
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

/// `1000x500` as a [`Size`].
fn parse_size(s: &str) -> Result<Size, String> {
    let parsed = s
        .split_once(['x', 'X'])
        .and_then(|(w, h)| Some(Size::new(w.parse().ok()?, h.parse().ok()?)));
    parsed.ok_or_else(|| format!("{s:?} is not WIDTHxHEIGHT (e.g. 1000x500)"))
}
