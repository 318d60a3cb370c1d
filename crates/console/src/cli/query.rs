//! The commands that read the store: traces, trace, metrics, services.

use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use switchyard_store::{AttrFilter, MetricQuery, Reader, TraceQuery, parse_trace_id};

use super::{DbArg, nanos_ago, parse_duration, print_json};
use crate::render;

#[derive(Debug, Args)]
pub struct TracesArgs {
    #[command(flatten)]
    db: DbArg,
    /// Only traces with a span of this service.
    #[arg(long, value_name = "S")]
    service: Option<String>,
    /// Only traces with a span of this name.
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Only traces with a span whose status is ERROR.
    #[arg(long)]
    errors: bool,
    /// Only spans that started within this long ago (30s, 15m, 2h, 7days).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    since: Option<Duration>,
    /// Only spans that lasted at least this long (250ms, 2s).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    min_duration: Option<Duration>,
    /// Only spans with this attribute (span or resource); repeat to require several.
    #[arg(long = "attr", value_name = "K=V")]
    attributes: Vec<AttrFilter>,
    /// Traces per page.
    #[arg(long, default_value_t = 20)]
    limit: u32,
    /// Continue after a previous page (its `next_cursor`).
    #[arg(long)]
    cursor: Option<String>,
    /// Print an array of trace summaries as JSON.
    #[arg(long)]
    json: bool,
}

pub(super) async fn traces(args: TracesArgs) -> anyhow::Result<()> {
    let reader = Reader::open(args.db.path()).await?;
    let query = TraceQuery {
        service: args.service,
        span_name: args.name,
        errors_only: args.errors,
        since_unix_nano: args.since.map(nanos_ago),
        until_unix_nano: None,
        min_duration_ns: args.min_duration.map(|d| d.as_nanos() as i64),
        attributes: args.attributes,
        limit: args.limit,
        cursor: args.cursor,
    };
    let page = reader.search_traces(&query).await?;
    if args.json {
        return print_json(&page.traces);
    }
    print!("{}", render::trace_summaries(&page.traces));
    if let Some(cursor) = page.next_cursor {
        eprintln!("more: --cursor {cursor}");
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct TraceArgs {
    /// The trace id, 32 hex digits.
    id: String,
    #[command(flatten)]
    db: DbArg,
    /// Print the trace as JSON.
    #[arg(long)]
    json: bool,
}

pub(super) async fn trace(args: TraceArgs) -> anyhow::Result<()> {
    let trace_id = parse_trace_id(&args.id)?;
    let reader = Reader::open(args.db.path()).await?;
    let trace = reader
        .trace(&trace_id)
        .await?
        .with_context(|| format!("no trace {} is stored", args.id))?;
    if args.json {
        return print_json(&trace);
    }
    print!("{}", render::trace_tree(&trace));
    Ok(())
}

#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// The metric's name, e.g. breaker.state.
    name: String,
    #[command(flatten)]
    db: DbArg,
    /// Only points with this attribute; repeat to require several.
    #[arg(long = "attr", value_name = "K=V")]
    attributes: Vec<AttrFilter>,
    /// Only points from this service.
    #[arg(long, value_name = "S")]
    service: Option<String>,
    /// How far back to look.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "1h")]
    since: Duration,
    /// Time buckets to downsample into.
    #[arg(long, default_value_t = 60)]
    buckets: u32,
    /// Print the series as JSON.
    #[arg(long)]
    json: bool,
}

pub(super) async fn metrics(args: MetricsArgs) -> anyhow::Result<()> {
    let reader = Reader::open(args.db.path()).await?;
    let query = MetricQuery {
        name: args.name.clone(),
        attributes: args.attributes,
        service: args.service,
        since_unix_nano: nanos_ago(args.since),
        // A little past now: points stamped by a clock slightly ahead still show.
        until_unix_nano: nanos_ago(Duration::ZERO) + 60_000_000_000,
        buckets: args.buckets,
    };
    let series = reader.metric_series(&query).await?;
    if args.json {
        return print_json(&series);
    }
    print!("{}", render::metric_series(&args.name, &series));
    Ok(())
}

#[derive(Debug, Args)]
pub struct ServicesArgs {
    #[command(flatten)]
    db: DbArg,
    /// Print the services as JSON.
    #[arg(long)]
    json: bool,
}

pub(super) async fn services(args: ServicesArgs) -> anyhow::Result<()> {
    let reader = Reader::open(args.db.path()).await?;
    let services = reader.services().await?;
    if args.json {
        return print_json(&services);
    }
    print!("{}", render::services(&services));
    Ok(())
}
