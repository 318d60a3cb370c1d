//! `switchyard plot`: charts from the store, written as SVG or PNG.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use switchyard_store::Reader;
use switchyard_store::records::Records;

use super::{DbArg, nanos_ago, parse_duration};
use crate::plot::{self, Format, Size, TimeRange, from_store};

#[derive(Debug, Subcommand)]
pub enum PlotCommand {
    /// A breaker's state over time, with its failure rate and rejected calls.
    Breaker(BreakerPlotArgs),
    /// The latency histogram of the spans of one name.
    Latency(NamedPlotArgs),
    /// A route's requests per second, per target (legacy, new, a cluster).
    Route(NamedPlotArgs),
    /// Saga outcomes per interval: completed, compensated, failed, running.
    Sagas(SagasPlotArgs),
}

#[derive(Debug, Args)]
pub struct NamedPlotArgs {
    /// The span name (latency) or route name (route).
    name: String,
    #[command(flatten)]
    common: CommonPlotArgs,
    /// Only this service's spans (latency).
    #[arg(long, value_name = "S")]
    service: Option<String>,
}

#[derive(Debug, Args)]
pub struct SagasPlotArgs {
    /// Only sagas of this name.
    #[arg(long, value_name = "N")]
    name: Option<String>,
    /// The length of each bar's interval.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "5m")]
    interval: Duration,
    #[command(flatten)]
    common: CommonPlotArgs,
}

/// Where, from what, over which time, how large.
#[derive(Debug, Args)]
pub(super) struct CommonPlotArgs {
    /// The image to write: FILE.svg or FILE.png.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    #[command(flatten)]
    db: DbArg,
    /// How far back to look.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "1h")]
    since: Duration,
    /// Image size in pixels, WIDTHxHEIGHT.
    #[arg(long, value_name = "WxH", value_parser = parse_size, default_value = "1000x500")]
    size: Size,
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

/// The store and the time range a chart reads.
async fn open(common: &CommonPlotArgs) -> anyhow::Result<(Reader, TimeRange)> {
    // Refuse a name we cannot write before reading anything.
    Format::from_path(&common.out)?;
    let reader = Reader::open(common.db.path()).await?;
    Ok((
        reader,
        TimeRange::new(nanos_ago(common.since), nanos_ago(Duration::ZERO)),
    ))
}

fn written(plot: &impl plot::Plot, common: &CommonPlotArgs) -> anyhow::Result<()> {
    plot::write_file(plot, common.size, &common.out)?;
    eprintln!("wrote {}", common.out.display());
    Ok(())
}

async fn latency(args: NamedPlotArgs) -> anyhow::Result<()> {
    let (reader, range) = open(&args.common).await?;
    let chart =
        from_store::latency_histogram(&reader, &args.name, args.service.as_deref(), range).await?;
    written(&chart, &args.common)
}

async fn route(args: NamedPlotArgs) -> anyhow::Result<()> {
    let (reader, range) = open(&args.common).await?;
    // Weight changes sent to the route become annotations.
    let records = Records::open(args.common.db.path()).await.ok();
    let chart = from_store::route_throughput(&reader, records.as_ref(), &args.name, range).await;
    if let Some(records) = records {
        records.close().await;
    }
    written(&chart?, &args.common)
}

async fn sagas(args: SagasPlotArgs) -> anyhow::Result<()> {
    let (reader, range) = open(&args.common).await?;
    // Retries, compensations and resolutions sent to the sagas become annotations.
    let records = Records::open(args.common.db.path()).await.ok();
    let chart = from_store::saga_outcomes(
        &reader,
        records.as_ref(),
        args.name.as_deref(),
        range,
        args.interval.as_nanos() as i64,
    )
    .await;
    if let Some(records) = records {
        records.close().await;
    }
    written(&chart?, &args.common)
}

pub(super) async fn run(command: PlotCommand) -> anyhow::Result<()> {
    let args = match command {
        PlotCommand::Breaker(args) => args,
        PlotCommand::Latency(args) => return latency(args).await,
        PlotCommand::Route(args) => return route(args).await,
        PlotCommand::Sagas(args) => return sagas(args).await,
    };
    // Refuse a name we cannot write before reading anything.
    Format::from_path(&args.out)?;
    let reader = Reader::open(args.db.path()).await?;
    let now = nanos_ago(Duration::ZERO);
    let range = TimeRange::new(nanos_ago(args.since), now);
    // Commands sent to this breaker become annotations (with their verdicts).
    let records = Records::open(args.db.path()).await.ok();
    let timeline =
        from_store::breaker_timeline(&reader, records.as_ref(), &args.name, args.service, range)
            .await;
    if let Some(records) = records {
        records.close().await;
    }
    let timeline = timeline?;
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

/// `1000x500` as a [`Size`].
fn parse_size(s: &str) -> Result<Size, String> {
    let parsed = s
        .split_once(['x', 'X'])
        .and_then(|(w, h)| Some(Size::new(w.parse().ok()?, h.parse().ok()?)));
    parsed.ok_or_else(|| format!("{s:?} is not WIDTHxHEIGHT (e.g. 1000x500)"))
}
