//! `switchyard ui`: the store and the receiver (as `serve` runs them), the clusters
//! from the clusters file, and the HTTP API with the UI's files, for a browser.

use std::future::IntoFuture as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;

use super::telemetry::{TelemetryArgs, wait_for_stop};
use crate::api::{Access, UiFiles};
use crate::clusters::{ClustersFile, Secret};
use crate::runtime::{Runtime, RuntimeOptions};
use crate::settings::SettingsFile;

/// Where the UI is found when `--ui-dir` is not given (relative to the working dir).
const DEFAULT_UI_DIR: &str = "ui/dist";

#[derive(Debug, Args)]
pub struct UiArgs {
    /// Where the UI and its API listen. Beyond loopback only with --token.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7788")]
    listen: SocketAddr,
    /// Require this token on every API request (`Authorization: Bearer` or `?token=`).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "SWITCHYARD_UI_TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,
    /// The built UI [default: ui/dist if it exists, else a page listing the API]
    #[arg(long, value_name = "DIR")]
    ui_dir: Option<PathBuf>,
    /// Do not receive OTLP (another `switchyard serve` receives into the same file).
    #[arg(long)]
    no_receiver: bool,
    #[command(flatten)]
    telemetry: TelemetryArgs,
}

pub(super) async fn run(args: UiArgs) -> anyhow::Result<()> {
    // Everything that can be refused is checked before anything starts.
    let access = Access::new(args.listen, args.token.map(Secret::new))?;
    let ui = UiFiles::choose(args.ui_dir.as_deref(), Path::new(DEFAULT_UI_DIR))?;
    let clusters = ClustersFile::load(ClustersFile::default_path()?)?;
    let settings = SettingsFile::load_default()?;
    let mut telemetry = args.telemetry.options(settings.settings())?;
    if args.no_receiver {
        telemetry.receiver = None;
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;

    let runtime = Runtime::start(RuntimeOptions {
        telemetry,
        clusters,
        settings,
    })
    .await?;
    let app = runtime.router(access.clone(), &ui);
    let state = runtime.state().clone();

    runtime.announce();
    if let UiFiles::Missing = ui {
        eprintln!(
            "switchyard: the UI is not built ({DEFAULT_UI_DIR} has no index.html); \
             serving the API and a page that lists it"
        );
    }
    if access.needs_token() {
        eprintln!("switchyard: the API requires the token (Authorization: Bearer, or ?token=)");
    }
    // One line on stdout that scripts and tests wait for and parse.
    println!("listening ui=http://{addr} {}", runtime.addresses());

    let (stopping, mut stop_seen) = tokio::sync::watch::channel(false);
    let serving = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            wait_for_stop().await;
            // Live streams never end by themselves; end them so shutdown can finish.
            state.close_streams();
            let _ = stopping.send(true);
        })
        .into_future();
    // A client that stalls in the middle of a request must not hold the console up.
    let served = tokio::select! {
        served = serving => served,
        _ = async {
            let _ = stop_seen.wait_for(|s| *s).await;
            tokio::time::sleep(switchyard_receiver::DRAIN).await;
        } => {
            eprintln!("switchyard: connections still open after stopping: closing them");
            Ok(())
        }
    };
    runtime.stop().await?;
    served.context("the API server failed")
}
