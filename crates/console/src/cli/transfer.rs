//! `import` and `export`: OTLP JSON files in and out.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use switchyard_store::{Reader, Store, StoreConfig, parse_trace_id};

use super::DbArg;
use crate::otlp_file;

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// OTLP JSON files (`.gz` is decompressed).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    #[command(flatten)]
    db: DbArg,
}

pub(super) async fn import(args: ImportArgs) -> anyhow::Result<()> {
    // Every file is read and checked before anything is stored.
    let mut contents = Vec::new();
    for file in &args.files {
        contents.push((file, otlp_file::read(file)?));
    }
    let store = Store::open(StoreConfig::new(args.db.path())).await?;
    let ingest = store.ingest();
    let result = async {
        for (file, contents) in contents {
            let imported = otlp_file::store(&ingest, contents).await?;
            for message in &imported.refused_messages {
                eprintln!("{}: refused: {message}", file.display());
            }
            println!(
                "{}: imported {} spans, {} data points, {} log records from {} requests{}",
                file.display(),
                imported.spans,
                imported.metric_points,
                imported.log_records,
                imported.requests,
                if imported.refused > 0 {
                    format!(" ({} refused)", imported.refused)
                } else {
                    String::new()
                }
            );
        }
        anyhow::Ok(())
    }
    .await;
    store.close().await?;
    result
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// One trace as an OTLP JSON export request (which `import` reads back).
    Trace(ExportTraceArgs),
}

#[derive(Debug, Args)]
pub struct ExportTraceArgs {
    /// The trace id, 32 hex digits.
    id: String,
    /// Where to write; `-` for standard output.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    #[command(flatten)]
    db: DbArg,
}

pub(super) async fn export(command: ExportCommand) -> anyhow::Result<()> {
    let ExportCommand::Trace(args) = command;
    let trace_id = parse_trace_id(&args.id)?;
    let reader = Reader::open(args.db.path()).await?;
    let request = reader
        .export_trace(&trace_id)
        .await?
        .with_context(|| format!("no trace {} is stored", args.id))?;
    let json = otlp_file::to_json_line(&request);
    if args.out.as_os_str() == "-" {
        print!("{json}");
    } else {
        std::fs::write(&args.out, json)
            .with_context(|| format!("cannot write {}", args.out.display()))?;
        let spans: usize = request
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum();
        eprintln!("wrote {spans} spans to {}", args.out.display());
    }
    Ok(())
}
