//! `switchyard-agent`: `run --config agent.toml` serves what the file describes;
//! `demo` starts the demo shop. Either way the control API is served and one ready
//! line is printed on stdout: `control=ADDR gateway=ADDR` (then `sidecar=ADDR` when the
//! gateway file has a `[sidecar]`, and `token=...` for the demo).

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use switchyard_agent::config::{
    AgentConfig, DEFAULT_LISTEN, DEFAULT_OTLP_ENDPOINT, TelemetryConfig,
};
use switchyard_agent::telemetry::Telemetry;
use switchyard_agent::{AgentBackend, AgentParts, assemble, demo, reload};
use switchyard_control_api::{AuditLog, AuthConfig, ControlServer, ServerTls};
use tokio::net::TcpListener;

// The gateway allocates and frees a few buffers per proxied request on every worker;
// glibc's malloc spent 6 % of the gateway threads' user time consolidating its free
// lists (perf over the gateway's proxy bench).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Audit entries kept in memory for `GetAudit`.
const AUDIT_CAPACITY: usize = 1000;
/// How long requests in flight get to finish at shutdown.
const DRAIN: Duration = Duration::from_secs(10);

#[derive(Debug, Parser)]
#[command(name = "switchyard-agent", version, about = "The Switchyard agent")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the gateway and sagas of a configuration file and serves the control API.
    Run {
        /// The agent's TOML configuration.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Starts the demo shop on loopback and serves its control API.
    Demo {
        /// Orders (and catalogue lookups) per second.
        #[arg(long, default_value_t = 5.0)]
        rate: f64,
        /// Where telemetry goes (OTLP/gRPC).
        #[arg(long, default_value = DEFAULT_OTLP_ENDPOINT)]
        otlp: String,
        /// Where the control API listens.
        #[arg(long, default_value = DEFAULT_LISTEN)]
        control: SocketAddr,
        /// No scheduled payments outage: only injected faults open breakers (for
        /// game days).
        #[arg(long)]
        no_outage: bool,
        /// The control API's token [default: a new random one, printed]; a fixed one
        /// lets a console reconnect to a restarted demo.
        #[arg(long, env = "SWITCHYARD_DEMO_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
}

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(agent()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line with the causes, no backtrace: this is a user-facing refusal.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn agent() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Run { config } => run(config).await,
        Command::Demo {
            rate,
            otlp,
            control,
            no_outage,
            token,
        } => run_demo(rate, otlp, control, no_outage, token).await,
    }
}

async fn run(path: PathBuf) -> anyhow::Result<()> {
    let config = AgentConfig::load(&path)?;
    let telemetry = Telemetry::install(&config.telemetry, config.service_name())?;
    let (parts, faults) = assemble::build(&config).await?;
    let auth = config.control.auth();
    let audit = match &config.control.audit_file {
        Some(file) => AuditLog::with_file(AUDIT_CAPACITY, file)
            .with_context(|| format!("opening the audit file {}", file.display()))?,
        None => AuditLog::in_memory(AUDIT_CAPACITY),
    };
    let tls = match (&config.control.tls_cert, &config.control.tls_key) {
        (Some(cert), Some(key)) => Some(ServerTls::from_pem(
            std::fs::read(cert).with_context(|| format!("reading {}", cert.display()))?,
            std::fs::read(key).with_context(|| format!("reading {}", key.display()))?,
        )),
        _ => None,
    };
    let listen = config.listen_addr()?;
    let backend = Arc::new(AgentBackend::new(&parts));
    let server = ControlServer::new(backend.clone(), auth).with_audit(Arc::new(audit));
    let watcher = reload::watch(
        path,
        config,
        reload::Live {
            gateway: parts.gateway.as_ref().map(|g| g.gateway().clone()),
            auth: Some(server.auth().clone()),
            faults: Some(faults),
            orchestrator: parts.orchestrator.clone(),
        },
    );
    let result = serve(parts, backend, server, tls, listen, None, telemetry).await;
    watcher.abort();
    result
}

async fn run_demo(
    rate: f64,
    otlp: String,
    control: SocketAddr,
    no_outage: bool,
    token: Option<String>,
) -> anyhow::Result<()> {
    if token.as_deref().is_some_and(str::is_empty) {
        anyhow::bail!("--token is empty");
    }
    let telemetry = Telemetry::install(
        &TelemetryConfig {
            otlp_endpoint: otlp,
            ..TelemetryConfig::default()
        },
        "switchyard-demo",
    )?;
    let defaults = demo::DemoOptions::default();
    let parts = demo::start(demo::DemoOptions {
        rate_per_second: rate,
        payments_outage: defaults.payments_outage.filter(|_| !no_outage),
        ..defaults
    })
    .await?;
    let token = token.unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let auth = AuthConfig::new().token("operator", token.clone());
    let backend = Arc::new(AgentBackend::new(&parts));
    let server = ControlServer::new(backend.clone(), auth)
        .with_audit(Arc::new(AuditLog::in_memory(AUDIT_CAPACITY)));
    serve(
        parts,
        backend,
        server,
        None,
        control,
        Some(token),
        telemetry,
    )
    .await
}

/// Serves the control API (`server` over `backend`, built on `parts`) until SIGINT or SIGTERM, then shuts down: the
/// control server, the gateway (letting requests in flight finish), telemetry (flushed).
async fn serve(
    parts: AgentParts,
    backend: Arc<AgentBackend>,
    server: ControlServer,
    tls: Option<ServerTls>,
    listen: SocketAddr,
    token: Option<String>,
    telemetry: Telemetry,
) -> anyhow::Result<()> {
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("control API: cannot listen on {listen}"))?;
    let control = listener.local_addr()?;
    // A gateway file may list no listeners (a sidecar only).
    let gateway = parts
        .gateway
        .as_ref()
        .and_then(|g| g.local_addrs().first())
        .map_or_else(|| "-".to_owned(), ToString::to_string);
    {
        let mut out = std::io::stdout().lock();
        write!(out, "control={control} gateway={gateway}")?;
        if let Some(sidecar) = &parts.sidecar {
            write!(out, " sidecar={}", sidecar.local_addr())?;
        }
        if let Some(token) = &token {
            write!(out, " token={token}")?;
        }
        writeln!(out)?;
        out.flush()?;
    }
    tracing::info!(%control, %gateway, agent = %parts.id, "agent ready");
    server
        .serve(listener, tls, shutdown_signal())
        .await
        .context("control API")?;
    tracing::info!("shutting down");
    drop(backend);
    let draining = async {
        if let Some(gateway) = parts.gateway {
            gateway.shutdown().await;
        }
        if let Some(sidecar) = parts.sidecar {
            sidecar.shutdown().await;
        }
    };
    if tokio::time::timeout(DRAIN, draining).await.is_err() {
        tracing::warn!("requests still in flight after {DRAIN:?}; stopping anyway");
    }
    // The SDK's shutdown blocks while it flushes.
    tokio::task::spawn_blocking(move || telemetry.shutdown()).await?;
    Ok(())
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
