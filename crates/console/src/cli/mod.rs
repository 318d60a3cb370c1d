//! The `switchyard` command line.

mod plot;
mod query;
mod serve;
mod transfer;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// Switchyard: an observability and control console for microservices.
#[derive(Debug, Parser)]
#[command(name = "switchyard", version, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Receive OTLP (gRPC and HTTP) into the telemetry store until Ctrl-C.
    Serve(serve::ServeArgs),
    /// Search traces, newest first. A trace matches when any span matches.
    Traces(query::TracesArgs),
    /// Show one trace as a tree of spans.
    Trace(query::TraceArgs),
    /// Show a metric's series, downsampled over a time range.
    Metrics(query::MetricsArgs),
    /// List the services that sent telemetry.
    Services(query::ServicesArgs),
    /// Load OTLP JSON files (single requests or Collector file-exporter lines).
    Import(transfer::ImportArgs),
    /// Write stored telemetry out as OTLP JSON.
    #[command(subcommand)]
    Export(transfer::ExportCommand),
    /// Draw a chart of stored telemetry to an SVG or PNG file.
    #[command(subcommand)]
    Plot(plot::PlotCommand),
}

/// The telemetry database to use.
#[derive(Debug, Clone, Args)]
pub struct DbArg {
    /// The SQLite file [default: the OS data directory's switchyard/telemetry.db]
    #[arg(long, value_name = "PATH", env = "SWITCHYARD_DB")]
    pub db: Option<PathBuf>,
}

impl DbArg {
    pub fn path(&self) -> PathBuf {
        self.db
            .clone()
            .unwrap_or_else(switchyard_store::default_db_path)
    }
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Traces(args) => query::traces(args).await,
        Command::Trace(args) => query::trace(args).await,
        Command::Metrics(args) => query::metrics(args).await,
        Command::Services(args) => query::services(args).await,
        Command::Import(args) => transfer::import(args).await,
        Command::Export(command) => transfer::export(command).await,
        Command::Plot(command) => plot::run(command).await,
    }
}

/// `15m`, `2h`, `1day`: how far back to look.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (try 30s, 15m, 2h or 7days)"))
}

/// Now minus `ago`, in Unix nanoseconds.
pub(crate) fn nanos_ago(ago: Duration) -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    now.saturating_sub(ago).as_nanos() as i64
}

/// Prints `value` as pretty JSON on stdout.
pub(crate) fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
