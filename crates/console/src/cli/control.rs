//! Clusters and commands from the command line: `clusters add|list|edit|remove|test`,
//! `breakers`, `trip|disable|reset|release`, `routes`, `route set|shadow`, `fault`,
//! `saga retry|compensate|resolve` and `history`. Each command goes to the agent that
//! has its subject and is kept in the store's audit history (`--db`).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use serde::Serialize;

use super::{DbArg, parse_duration, print_json};
use crate::bulk::{self, BulkAction, BulkRequest};
use crate::clusters::LiveState;
use crate::clusters::command::{self, Command, CommandRequest, current_user};
use crate::clusters::connect::connect;
use crate::clusters::views::{AgentInventory, BreakerView, RouteView};
use crate::clusters::{AgentEndpoint, ClusterConfig, ClustersFile, Secret, TlsSettings};
use crate::impact;
use switchyard_store::Reader;
use switchyard_store::records::{CommandQuery, Records};

/// `clusters …`
#[derive(Debug, Subcommand)]
pub enum ClustersCommand {
    /// Add a cluster: a name and its agents' endpoints and tokens.
    Add(ClusterArgs),
    /// Change a cluster's agents or view-only flag.
    Edit(ClusterArgs),
    /// List the clusters (tokens are never shown).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a cluster.
    Remove { name: String },
    /// Connect to each agent of a cluster and show who answers.
    Test { name: String },
}

#[derive(Debug, Args)]
pub struct ClusterArgs {
    /// The cluster's name.
    name: String,
    /// An agent's control endpoint (`http://host:port`); repeat for several agents.
    #[arg(long = "agent", value_name = "ENDPOINT")]
    agents: Vec<String>,
    /// The agents' token: one for all, or one per `--agent` in order.
    #[arg(
        long = "token",
        value_name = "TOKEN",
        env = "SWITCHYARD_TOKEN",
        hide_env_values = true
    )]
    tokens: Vec<String>,
    /// Refuse every write command to this cluster (for looking at production safely).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    view_only: Option<bool>,
    /// The CA certificate (PEM) of agents served over https.
    #[arg(long, value_name = "PATH")]
    ca: Option<PathBuf>,
    /// The name in the agents' certificates, when not the endpoint's host.
    #[arg(long, value_name = "NAME")]
    domain: Option<String>,
}

impl ClusterArgs {
    fn agents(&self) -> anyhow::Result<Vec<AgentEndpoint>> {
        let tokens = &self.tokens;
        if tokens.is_empty() {
            bail!("give the agents' token with --token (or SWITCHYARD_TOKEN)");
        }
        if tokens.len() != 1 && tokens.len() != self.agents.len() {
            bail!(
                "{} tokens for {} agents: give one token for all, or one per --agent",
                tokens.len(),
                self.agents.len()
            );
        }
        let tls = (self.ca.is_some() || self.domain.is_some()).then(|| TlsSettings {
            ca: self.ca.clone(),
            domain: self.domain.clone(),
        });
        Ok(self
            .agents
            .iter()
            .enumerate()
            .map(|(i, endpoint)| AgentEndpoint {
                endpoint: endpoint.clone(),
                token: Secret::new(tokens.get(i).unwrap_or(&tokens[0]).clone()),
                tls: tls.clone(),
            })
            .collect())
    }
}

fn clusters_file() -> anyhow::Result<ClustersFile> {
    Ok(ClustersFile::load(ClustersFile::default_path()?)?)
}

/// A cluster's listing, without its tokens.
#[derive(Debug, Serialize)]
struct ClusterListing {
    name: String,
    view_only: bool,
    agents: Vec<String>,
}

pub(super) async fn clusters(command: ClustersCommand) -> anyhow::Result<()> {
    let mut file = clusters_file()?;
    match command {
        ClustersCommand::Add(args) => {
            let cluster = ClusterConfig {
                name: args.name.clone(),
                view_only: args.view_only.unwrap_or(false),
                agents: args.agents()?,
            };
            file.add(cluster)?;
            println!("added cluster {} ({})", args.name, file.path().display());
        }
        ClustersCommand::Edit(args) => {
            let mut cluster = file
                .get(&args.name)
                .cloned()
                .with_context(|| format!("no cluster named {:?}", args.name))?;
            if !args.agents.is_empty() {
                cluster.agents = args.agents()?;
            }
            if let Some(view_only) = args.view_only {
                cluster.view_only = view_only;
            }
            file.update(cluster)?;
            println!("updated cluster {}", args.name);
        }
        ClustersCommand::List { json } => {
            let listing: Vec<ClusterListing> = file
                .clusters()
                .iter()
                .map(|c| ClusterListing {
                    name: c.name.clone(),
                    view_only: c.view_only,
                    agents: c.agents.iter().map(|a| a.endpoint.clone()).collect(),
                })
                .collect();
            if json {
                return print_json(&listing);
            }
            if listing.is_empty() {
                println!(
                    "no clusters (add one: switchyard clusters add NAME --agent URL --token T)"
                );
            }
            for c in listing {
                let mode = if c.view_only { "  view-only" } else { "" };
                println!("{}{mode}\t{}", c.name, c.agents.join(", "));
            }
        }
        ClustersCommand::Remove { name } => {
            file.remove(&name)?;
            println!("removed cluster {name}");
        }
        ClustersCommand::Test { name } => {
            let cluster = file
                .get(&name)
                .with_context(|| format!("no cluster named {name:?}"))?;
            let mut failed = 0;
            for agent in &cluster.agents {
                let answer = async {
                    let client = connect(agent).await?;
                    anyhow::Ok(client.identity().await?)
                }
                .await;
                match answer {
                    Ok(id) => println!("{}\tok\t{} {}", agent.endpoint, id.agent_id, id.version),
                    Err(e) => {
                        failed += 1;
                        println!("{}\tfailed\t{e}", agent.endpoint);
                    }
                }
            }
            if failed > 0 {
                bail!("{failed} of {} agents did not answer", cluster.agents.len());
            }
        }
    }
    Ok(())
}

/// Which cluster: the one named, else the only one.
#[derive(Debug, Clone, Args)]
pub(super) struct ClusterArg {
    /// The cluster [default: the only one configured]
    #[arg(long, value_name = "NAME")]
    cluster: Option<String>,
}

impl ClusterArg {
    fn pick(&self, file: &ClustersFile) -> anyhow::Result<ClusterConfig> {
        match &self.cluster {
            Some(name) => file
                .get(name)
                .cloned()
                .with_context(|| format!("no cluster named {name:?}")),
            None => match file.clusters() {
                [only] => Ok(only.clone()),
                [] => bail!("no clusters: add one with `switchyard clusters add`"),
                many => bail!(
                    "several clusters ({}): choose one with --cluster",
                    many.iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            },
        }
    }
}

/// Every agent's inventory in `cluster`; an agent that cannot be read is an error.
async fn inventories(cluster: &ClusterConfig) -> anyhow::Result<Vec<AgentInventory>> {
    let mut all = Vec::new();
    for agent in &cluster.agents {
        all.push(read_inventory(cluster, agent).await?);
    }
    Ok(all)
}

/// One agent's inventory, named by its id.
async fn read_inventory(
    cluster: &ClusterConfig,
    agent: &AgentEndpoint,
) -> anyhow::Result<AgentInventory> {
    let context = || format!("agent {}", agent.endpoint);
    let client = connect(agent).await.with_context(context)?;
    let inventory = client.inventory().await.with_context(context)?;
    let id = inventory
        .identity
        .as_ref()
        .map_or_else(|| agent.endpoint.clone(), |i| i.agent_id.clone());
    Ok(AgentInventory::from_proto(&cluster.name, &id, &inventory))
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    cluster: ClusterArg,
    #[arg(long)]
    json: bool,
}

pub(super) async fn breakers(args: ListArgs) -> anyhow::Result<()> {
    let cluster = args.cluster.pick(&clusters_file()?)?;
    let mut breakers: Vec<BreakerView> = inventories(&cluster)
        .await?
        .into_iter()
        .flat_map(|i| i.breakers)
        .collect();
    breakers.sort_by(|a, b| a.name.cmp(&b.name));
    if args.json {
        return print_json(&breakers);
    }
    println!(
        "{:<40} {:<12} {:>9} {:>7}  OVERRIDE",
        "BREAKER", "STATE", "FAILURE%", "CALLS"
    );
    for b in breakers {
        let manual = b
            .manual
            .as_ref()
            .map(|m| format!("{} by {} ({})", m.state, m.by, m.reason))
            .unwrap_or_default();
        println!(
            "{:<40} {:<12} {:>8.1}% {:>7}  {manual}",
            b.name, b.state, b.failure_rate, b.window_calls
        );
    }
    Ok(())
}

pub(super) async fn routes(args: ListArgs) -> anyhow::Result<()> {
    let cluster = args.cluster.pick(&clusters_file()?)?;
    let routes: Vec<RouteView> = inventories(&cluster)
        .await?
        .into_iter()
        .flat_map(|i| i.routes)
        .collect();
    if args.json {
        return print_json(&routes);
    }
    println!(
        "{:<24} {:>7} {:>7} {:>7} {:>10} {:>10} {:>8}",
        "ROUTE", "LEGACY%", "NEW%", "SHADOW%", "LEGACY REQ", "NEW REQ", "DIFFS"
    );
    for r in routes {
        println!(
            "{:<24} {:>7} {:>7} {:>7} {:>10} {:>10} {:>8}",
            r.name,
            100 - r.new_percent.min(100),
            r.new_percent,
            r.shadow_percent,
            r.primary_requests,
            r.new_requests,
            r.shadow_diffs
        );
    }
    Ok(())
}

/// What every write command takes.
#[derive(Debug, Clone, Args)]
pub struct CommandArgs {
    #[command(flatten)]
    cluster: ClusterArg,
    /// Why: kept in the agent's audit log and the console's history.
    #[arg(long, default_value = "from the switchyard CLI")]
    reason: String,
    /// Who is asking [default: the OS user]
    #[arg(long = "as", value_name = "NAME")]
    who: Option<String>,
    #[command(flatten)]
    db: DbArg,
    /// Print the command's record as JSON.
    #[arg(long)]
    json: bool,
    /// Show what the command would touch (routes, callers, sagas in flight, from the
    /// telemetry in --db) and send nothing.
    #[arg(long)]
    preview: bool,
}

/// Sends `command`, records it in the store, prints the outcome.
async fn send(args: &CommandArgs, command: Command) -> anyhow::Result<()> {
    let cluster = args.cluster.pick(&clusters_file()?)?;
    if args.preview {
        return preview(args, &cluster, &command).await;
    }
    let records = Records::open(args.db.path())
        .await
        .context("the audit history (--db)")?;
    let request = CommandRequest {
        cluster: cluster.name.clone(),
        command,
        reason: args.reason.clone(),
        who: args.who.clone().unwrap_or_else(current_user),
    };
    let done = command::execute(&cluster, &request, Some(&records), None).await;
    records.close().await;
    let record = done?;
    if args.json {
        return print_json(&record);
    }
    let result = record.result.unwrap_or_default();
    let state = ["state", "status", "new_percent", "error_rate"]
        .iter()
        .find_map(|key| result.get(*key).map(|v| format!("{key} {v}")))
        .unwrap_or_default();
    println!("{} {}: ok, {state}", record.action, record.target);
    Ok(())
}

/// A live view read once from every agent that answers (the CLI has no running links).
async fn live_once(clusters: &[ClusterConfig]) -> LiveState {
    let live = LiveState::default();
    for cluster in clusters {
        for agent in &cluster.agents {
            if let Ok(inventory) = read_inventory(cluster, agent).await {
                live.set_inventory(&cluster.name, &agent.endpoint, inventory);
            }
        }
    }
    live
}

#[derive(Debug, Args)]
pub struct FindingsArgs {
    /// A running or compensating saga with no progress for this long is stuck.
    #[arg(long, value_parser = parse_duration, default_value = "5m")]
    saga_quiet: Duration,
    /// An open breaker with no calls for this long cannot probe its way closed.
    #[arg(long, value_parser = parse_duration, default_value = "2m")]
    breaker_quiet: Duration,
    /// Projection lag beyond this many seconds.
    #[arg(long, default_value_t = 30.0)]
    projection_lag_seconds: f64,
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    db: DbArg,
}

/// `switchyard findings`: the stuck detectors over every configured cluster.
pub(super) async fn findings(args: FindingsArgs) -> anyhow::Result<()> {
    let file = clusters_file()?;
    let live = live_once(file.clusters()).await;
    let records = Records::open(args.db.path()).await?;
    let reader = Reader::open(args.db.path()).await.ok();
    let found = crate::findings::detect(
        &live,
        &records,
        reader.as_ref(),
        &crate::findings::Thresholds {
            saga_quiet: args.saga_quiet,
            breaker_quiet: args.breaker_quiet,
            projection_lag_seconds: args.projection_lag_seconds,
            ..crate::findings::Thresholds::default()
        },
    )
    .await;
    records.close().await;
    let found = found?;
    if args.json {
        return print_json(&found);
    }
    if found.is_empty() {
        println!(
            "nothing stuck: no held or stalled sagas, no breakers open without traffic, no lagging projections"
        );
    }
    for f in &found {
        let action = f
            .action
            .as_ref()
            .map(|a| format!("  → switchyard {}", command_line(a)))
            .unwrap_or_default();
        println!("{:?}\t{}\t{}{action}", f.kind, f.cluster, f.summary);
    }
    Ok(())
}

/// The CLI command that sends `command`.
fn command_line(command: &Command) -> String {
    match command {
        Command::RetrySaga { saga_id, .. } => format!("saga retry {saga_id}"),
        Command::CompensateSaga { saga_id } => format!("saga compensate {saga_id}"),
        Command::ResolveSaga { saga_id, .. } => format!("saga resolve {saga_id}"),
        Command::SetWeight { route, new_percent } => format!("route set {route} new={new_percent}"),
        Command::SetShadow { route, percent } => format!("route shadow {route} {percent}"),
        Command::SetFault { service, .. } => format!("fault {service}"),
        other => format!("{} {}", other.action(), other.target()),
    }
}

/// Prints the impact of `command` without sending it.
async fn preview(
    args: &CommandArgs,
    cluster: &ClusterConfig,
    command: &Command,
) -> anyhow::Result<()> {
    let reader = Reader::open(args.db.path()).await?;
    // The routes' current weights, from the agents.
    let live = live_once(std::slice::from_ref(cluster)).await;
    let impact = impact::preview(&reader, &live, &cluster.name, command).await?;
    if args.json {
        return print_json(&impact);
    }
    println!("{}", impact.summary);
    for route in &impact.routes {
        let rate = route
            .requests_per_second
            .map(|r| format!(", {r:.1} req/s"))
            .unwrap_or_default();
        println!(
            "  route {}: {:.0} % of its calls{rate}",
            route.route, route.share_percent
        );
    }
    for caller in &impact.callers {
        println!(
            "  caller {}: {} sampled calls",
            caller.service, caller.calls
        );
    }
    for saga in &impact.sagas {
        println!(
            "  saga {} (steps {}): {} in flight",
            saga.saga_name,
            saga.steps.join(", "),
            saga.in_flight.len()
        );
    }
    println!(
        "(from {} traces of the last {} s; nothing was sent)",
        impact.sampled_traces, impact.window_seconds
    );
    Ok(())
}

#[derive(Debug, Args)]
pub struct BreakerArgs {
    /// The breaker's name, as `switchyard breakers` lists it.
    breaker: String,
    /// Let the override expire by itself after this long (trip and disable).
    #[arg(long, value_parser = parse_duration)]
    ttl: Option<Duration>,
    #[command(flatten)]
    common: CommandArgs,
}

/// Which breaker command.
#[derive(Debug, Clone, Copy)]
pub(super) enum BreakerAction {
    Trip,
    Disable,
    Reset,
    Release,
}

pub(super) async fn breaker(action: BreakerAction, args: BreakerArgs) -> anyhow::Result<()> {
    let breaker = args.breaker.clone();
    let ttl_seconds = args.ttl.map(|d| d.as_secs().max(1));
    let command = match action {
        BreakerAction::Trip => Command::Trip {
            breaker,
            ttl_seconds,
        },
        BreakerAction::Disable => Command::Disable {
            breaker,
            ttl_seconds,
        },
        BreakerAction::Reset => Command::Reset { breaker },
        BreakerAction::Release => Command::Release { breaker },
    };
    send(&args.common, command).await
}

/// `route …`
#[derive(Debug, Subcommand)]
pub enum RouteCommand {
    /// Set a strangler-fig route's weights: `route set catalog legacy=70 new=30`.
    Set {
        route: String,
        /// `legacy=W` and `new=W` (relative weights; `new=30` alone means 30 %).
        #[arg(value_name = "SIDE=WEIGHT", required = true)]
        weights: Vec<String>,
        #[command(flatten)]
        common: CommandArgs,
    },
    /// Set the share of requests also sent to the other side, in percent.
    Shadow {
        route: String,
        percent: u32,
        #[command(flatten)]
        common: CommandArgs,
    },
}

/// The new side's percentage from `legacy=W new=W`.
fn new_percent(weights: &[String]) -> anyhow::Result<u32> {
    let (mut legacy, mut new) = (None, None);
    for weight in weights {
        let (side, value) = weight
            .split_once('=')
            .with_context(|| format!("{weight:?}: expected legacy=W or new=W"))?;
        let value: u32 = value
            .parse()
            .with_context(|| format!("{weight:?}: the weight is not a whole number"))?;
        match side {
            "legacy" => legacy = Some(value),
            "new" => new = Some(value),
            other => bail!("{other:?}: the sides are legacy and new"),
        }
    }
    let percent = match (legacy, new) {
        (Some(l), Some(n)) if l + n == 0 => bail!("the weights add up to 0"),
        (Some(l), Some(n)) => ((f64::from(n) * 100.0) / f64::from(l + n)).round() as u32,
        (None, Some(n)) => n,
        (Some(l), None) if l <= 100 => 100 - l,
        _ => bail!("give new=W (percent), or legacy=W and new=W"),
    };
    if percent > 100 {
        bail!("{percent} %: at most 100");
    }
    Ok(percent)
}

pub(super) async fn route(command: RouteCommand) -> anyhow::Result<()> {
    match command {
        RouteCommand::Set {
            route,
            weights,
            common,
        } => {
            let new_percent = new_percent(&weights)?;
            send(&common, Command::SetWeight { route, new_percent }).await
        }
        RouteCommand::Shadow {
            route,
            percent,
            common,
        } => send(&common, Command::SetShadow { route, percent }).await,
    }
}

#[derive(Debug, Args)]
pub struct FaultArgs {
    /// The demo service.
    service: String,
    /// Share of requests to fail, 0.0 to 1.0 (0 turns errors off).
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    /// Latency added to every request (0 turns it off).
    #[arg(long, value_parser = parse_duration, default_value = "0s")]
    latency: Duration,
    #[command(flatten)]
    common: CommandArgs,
}

pub(super) async fn fault(args: FaultArgs) -> anyhow::Result<()> {
    if !(0.0..=1.0).contains(&args.error_rate) {
        bail!("--error-rate {}: between 0.0 and 1.0", args.error_rate);
    }
    send(
        &args.common,
        Command::SetFault {
            service: args.service.clone(),
            error_rate: args.error_rate,
            added_latency_ms: args.latency.as_millis() as u64,
        },
    )
    .await
}

/// `saga retry|compensate|resolve ID`
#[derive(Debug, Subcommand)]
pub(super) enum SagaAction {
    /// Retry a failed saga from its failed step.
    Retry {
        id: String,
        /// New input for the failed step, as JSON.
        #[arg(long, value_name = "JSON")]
        input: Option<String>,
        #[command(flatten)]
        common: CommandArgs,
    },
    /// Compensate a saga now.
    Compensate {
        id: String,
        #[command(flatten)]
        common: CommandArgs,
    },
    /// Act on every failed saga a query selects; `--dry-run` lists them first.
    Bulk(BulkArgs),
    /// Mark a failed saga resolved by hand.
    Resolve {
        id: String,
        /// What was done about it.
        #[arg(long, default_value = "")]
        comment: String,
        #[command(flatten)]
        common: CommandArgs,
    },
}

#[derive(Debug, Args)]
pub(super) struct BulkArgs {
    /// What to do to each: compensate, retry or resolve.
    #[arg(value_enum)]
    action: BulkActionArg,
    /// Only sagas of this name.
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Only sagas that failed at this step.
    #[arg(long, value_name = "STEP")]
    failed_step: Option<String>,
    /// Only sagas that started this recently.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    since: Option<Duration>,
    /// At most this many.
    #[arg(long, default_value_t = 100)]
    limit: u32,
    /// List the sagas it would act on and send nothing.
    #[arg(long)]
    dry_run: bool,
    /// For resolve: what was done about them.
    #[arg(long, default_value = "")]
    comment: String,
    #[command(flatten)]
    common: CommandArgs,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum BulkActionArg {
    Compensate,
    Retry,
    Resolve,
}

async fn bulk(args: BulkArgs) -> anyhow::Result<()> {
    let cluster = args.common.cluster.pick(&clusters_file()?)?;
    let reader = Reader::open(args.common.db.path()).await?;
    let records = Records::open(args.common.db.path()).await?;
    let range = match args.since {
        Some(ago) => Some(crate::model::TimeRange::new(
            super::nanos_ago(ago),
            super::nanos_ago(Duration::ZERO) + 60_000_000_000,
        )?),
        None => None,
    };
    let request = BulkRequest {
        cluster: cluster.name.clone(),
        action: match args.action {
            BulkActionArg::Compensate => BulkAction::Compensate,
            BulkActionArg::Retry => BulkAction::Retry,
            BulkActionArg::Resolve => BulkAction::Resolve,
        },
        saga_name: args.name,
        failed_step: args.failed_step,
        range,
        limit: Some(args.limit),
        dry_run: args.dry_run,
        reason: args.common.reason.clone(),
        who: args.common.who.clone().unwrap_or_else(current_user),
        comment: args.comment,
    };
    let report = bulk::run(&reader, &cluster, Some(&records), None, &request).await;
    records.close().await;
    let report = report?;
    if args.common.json {
        print_json(&report)?;
        if report.failed > 0 {
            bail!("{} of {} commands failed", report.failed, report.matched);
        }
        return Ok(());
    }
    for item in &report.items {
        let error = item
            .error
            .as_deref()
            .map(|e| format!("  {e}"))
            .unwrap_or_default();
        println!(
            "{:<8} {} {} (failed at {}){error}",
            item.outcome,
            item.saga_name,
            item.saga_id,
            item.failed_step.as_deref().unwrap_or("-")
        );
    }
    if report.dry_run {
        println!(
            "{} sagas would be acted on; nothing was sent (drop --dry-run to send)",
            report.matched
        );
    } else {
        println!(
            "{} sagas: {} ok, {} failed",
            report.matched, report.succeeded, report.failed
        );
        if report.failed > 0 {
            bail!("{} of {} commands failed", report.failed, report.matched);
        }
    }
    Ok(())
}

pub(super) async fn saga_action(action: SagaAction) -> anyhow::Result<()> {
    match action {
        SagaAction::Bulk(args) => bulk(args).await,
        SagaAction::Retry { id, input, common } => {
            let input = input
                .map(|text| serde_json::from_str(&text))
                .transpose()
                .context("--input is not JSON")?;
            send(&common, Command::RetrySaga { saga_id: id, input }).await
        }
        SagaAction::Compensate { id, common } => {
            send(&common, Command::CompensateSaga { saga_id: id }).await
        }
        SagaAction::Resolve {
            id,
            comment,
            common,
        } => {
            send(
                &common,
                Command::ResolveSaga {
                    saga_id: id,
                    comment,
                },
            )
            .await
        }
    }
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Only this cluster's commands.
    #[arg(long, value_name = "NAME")]
    cluster: Option<String>,
    /// Only commands on this breaker, saga or route.
    #[arg(long, value_name = "NAME")]
    target: Option<String>,
    #[arg(long, default_value_t = 50)]
    limit: u32,
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    db: DbArg,
}

pub(super) async fn history(args: HistoryArgs) -> anyhow::Result<()> {
    let records = Records::open(args.db.path()).await?;
    let commands = records
        .commands(&CommandQuery {
            cluster: args.cluster,
            target: args.target,
            limit: Some(args.limit),
            ..CommandQuery::default()
        })
        .await?;
    records.close().await;
    if args.json {
        return print_json(&commands);
    }
    for c in commands {
        let when = humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + Duration::from_millis(c.at_unix_ms.max(0) as u64),
        );
        let outcome = match (&c.error, &c.verdict) {
            (Some(error), _) => format!("{:?}: {error}", c.outcome),
            (None, Some(verdict)) => format!("{:?}, verdict {verdict}", c.outcome),
            (None, None) => format!("{:?}", c.outcome),
        };
        println!(
            "{when}  {:<10} {:<16} {:<32} {:<10} {}",
            c.cluster, c.action, c.target, c.who, outcome
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::new_percent;

    fn w(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn weights_become_the_new_sides_percentage() {
        assert_eq!(new_percent(&w(&["legacy=70", "new=30"])).unwrap(), 30);
        assert_eq!(new_percent(&w(&["legacy=1", "new=3"])).unwrap(), 75);
        assert_eq!(new_percent(&w(&["new=40"])).unwrap(), 40);
        assert_eq!(new_percent(&w(&["legacy=100"])).unwrap(), 0);
        assert!(new_percent(&w(&["legacy=0", "new=0"])).is_err());
        assert!(new_percent(&w(&["old=1"])).is_err());
        assert!(new_percent(&w(&["new=150"])).is_err());
    }
}
