//! `switchyard sagas` and `switchyard saga ID`: saga instances and one
//! instance's flow, from the store's derived tables.

use std::fmt::Write as _;
use std::time::Duration;

use clap::Args;
use switchyard_store::Reader;

use super::{DbArg, nanos_ago, parse_duration, print_json};
use crate::model::TimeRange;
use crate::model::saga::{
    self, AttemptStatus, Phase, SagaFlow, SagaInstance, SagaOrder, SagaSearch,
};
use crate::render;

#[derive(Debug, Args)]
pub struct SagasArgs {
    #[command(flatten)]
    db: DbArg,
    /// Only instances where a step failed, or that ended compensated or failed.
    #[arg(long)]
    failed: bool,
    /// Only instances of this saga.
    #[arg(long, value_name = "N")]
    name: Option<String>,
    /// Only instances that started within this long ago (30s, 15m, 2h, 7days).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    since: Option<Duration>,
    /// Failed instances first, then the rest (each newest first).
    #[arg(long)]
    failed_first: bool,
    /// Instances to list at most.
    #[arg(long, default_value_t = 50)]
    limit: u32,
    /// Print an array of instances as JSON.
    #[arg(long)]
    json: bool,
}

pub(super) async fn sagas(args: SagasArgs) -> anyhow::Result<()> {
    let reader = Reader::open(args.db.path()).await?;
    let search = SagaSearch {
        failed_only: args.failed,
        saga_name: args.name,
        range: args
            .since
            .map(|ago| TimeRange::new(nanos_ago(ago), i64::MAX))
            .transpose()?,
        order: if args.failed_first {
            SagaOrder::FailedFirst
        } else {
            SagaOrder::NewestFirst
        },
        limit: args.limit,
    };
    let instances = saga::search(&reader, &search).await?;
    if args.json {
        return print_json(&instances);
    }
    print!("{}", instances_table(&instances));
    Ok(())
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SagaArgs {
    /// Act on it instead: retry, compensate, resolve, or many at once (bulk).
    #[command(subcommand)]
    action: Option<super::control::SagaAction>,
    /// The instance's `saga.id`.
    #[arg(required = true)]
    id: Option<String>,
    #[command(flatten)]
    db: DbArg,
    /// Print the flow as JSON.
    #[arg(long)]
    json: bool,
}

pub(super) async fn saga(args: SagaArgs) -> anyhow::Result<()> {
    if let Some(action) = args.action {
        return super::control::saga_action(action).await;
    }
    let id = args.id.unwrap_or_default();
    let reader = Reader::open(args.db.path()).await?;
    let flow = saga::flow(&reader, &id).await?;
    if args.json {
        return print_json(&flow);
    }
    print!("{}", flow_text(&flow));
    Ok(())
}

fn instances_table(instances: &[SagaInstance]) -> String {
    let rows: Vec<Vec<String>> = instances
        .iter()
        .map(|i| {
            vec![
                render::time(i.start_unix_nano),
                i.saga_name.clone(),
                i.saga_id.clone(),
                i.outcome.to_string(),
                i.failed_step.clone().unwrap_or_default(),
                render::duration(i.duration_ns),
                i.compensations.to_string(),
                i.error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    render::table(
        &[
            "START",
            "SAGA",
            "ID",
            "OUTCOME",
            "FAILED STEP",
            "DURATION",
            "COMP",
            "ERROR",
        ],
        &rows,
    )
}

/// The instance, then every attempt in the order it started, indented by phase.
fn flow_text(flow: &SagaFlow) -> String {
    let i = &flow.instance;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {}  {}  {}  trace {}",
        i.saga_name,
        i.saga_id,
        i.outcome,
        render::duration(i.duration_ns),
        i.trace_id
    );
    if let Some(step) = &i.failed_step {
        let _ = writeln!(
            out,
            "failed at {step}: {}",
            i.error.as_deref().unwrap_or("(no message)")
        );
    }
    for a in &flow.timeline {
        let arrow = match a.phase {
            Phase::Compensate => "  ↩ ",
            _ => "  → ",
        };
        let status = match a.status {
            AttemptStatus::Error => "ERROR",
            AttemptStatus::Ok | AttemptStatus::Unset => "ok",
        };
        let attempt = a.attempt.map(|n| format!(" #{n}")).unwrap_or_default();
        let _ = write!(
            out,
            "{arrow}{}{attempt}  {status}  +{}  {}",
            a.step,
            render::duration(a.start_unix_nano - i.start_unix_nano),
            render::duration(a.duration_ns)
        );
        if let Some(error) = &a.error {
            let _ = write!(out, "  {error}");
        }
        out.push('\n');
    }
    out
}
