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
