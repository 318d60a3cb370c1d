//! The `switchyard` command line.

mod control;
mod plot;
mod query;
mod sagas;
mod serve;
mod telemetry;
mod transfer;
mod ui;

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
    /// Serve the console's UI and its HTTP API to a browser, receiving OTLP like `serve`.
    Ui(ui::UiArgs),
    /// Search traces, newest first. A trace matches when any span matches.
    Traces(query::TracesArgs),
    /// Show one trace as a tree of spans.
    Trace(query::TraceArgs),
    /// Show a metric's series, downsampled over a time range.
    Metrics(query::MetricsArgs),
    /// List the services that sent telemetry.
    Services(query::ServicesArgs),
    /// Search saga instances, newest first.
    Sagas(sagas::SagasArgs),
    /// Show one saga's flow, or act on sagas: retry, compensate, resolve, bulk.
    ///
    /// `saga ID` shows every step attempt and compensation; `saga retry|compensate|resolve
    /// ID` sends a command; `saga bulk ACTION --name N --failed-step S --dry-run` lists,
    /// then acts on, every failed saga a query selects.
    Saga(sagas::SagaArgs),
    /// Load OTLP JSON files (single requests or Collector file-exporter lines).
    Import(transfer::ImportArgs),
    /// Write stored telemetry out as OTLP JSON.
    #[command(subcommand)]
    Export(transfer::ExportCommand),
    /// Manage the clusters of agents the console talks to.
    #[command(subcommand)]
    Clusters(control::ClustersCommand),
    /// List a cluster's circuit breakers and their states.
    Breakers(control::ListArgs),
    /// Force a breaker open: calls through it are rejected.
    Trip(control::BreakerArgs),
    /// Force a breaker closed: calls go through whatever happens.
    Disable(control::BreakerArgs),
    /// Close a breaker with fresh counts.
    Reset(control::BreakerArgs),
    /// End a manual override: the breaker decides by itself again.
    Release(control::BreakerArgs),
    /// List a cluster's strangler-fig routes, their weights and traffic.
    Routes(control::ListArgs),
    /// Change a strangler-fig route's weights or shadow share.
    #[command(subcommand)]
    Route(control::RouteCommand),
    /// Turn a demo service's injected errors and latency up or down.
    Fault(control::FaultArgs),
    /// The commands sent to agents, newest first, with their closed-loop verdicts.
    History(control::HistoryArgs),
    /// What is stuck, each with the command that moves it on.
    ///
    /// Sagas held for an operator or without progress, breakers open with no calls to
    /// probe them, projections lagging behind their events.
    Findings(control::FindingsArgs),
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
        Command::Ui(args) => ui::run(args).await,
        Command::Traces(args) => query::traces(args).await,
        Command::Trace(args) => query::trace(args).await,
        Command::Metrics(args) => query::metrics(args).await,
        Command::Services(args) => query::services(args).await,
        Command::Sagas(args) => sagas::sagas(args).await,
        Command::Saga(args) => sagas::saga(args).await,
        Command::Import(args) => transfer::import(args).await,
        Command::Export(command) => transfer::export(command).await,
        Command::Clusters(command) => control::clusters(command).await,
        Command::Breakers(args) => control::breakers(args).await,
        Command::Trip(args) => control::breaker(control::BreakerAction::Trip, args).await,
        Command::Disable(args) => control::breaker(control::BreakerAction::Disable, args).await,
        Command::Reset(args) => control::breaker(control::BreakerAction::Reset, args).await,
        Command::Release(args) => control::breaker(control::BreakerAction::Release, args).await,
        Command::Routes(args) => control::routes(args).await,
        Command::Route(command) => control::route(command).await,
        Command::Fault(args) => control::fault(args).await,
        Command::History(args) => control::history(args).await,
        Command::Findings(args) => control::findings(args).await,
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
