//! The console as a running whole — store, receiver, clusters, closed loop and the API's
//! shared state — started and stopped in one place, so `switchyard ui` and the desktop
//! app run exactly the same thing and differ only in how the UI reaches the API.

mod telemetry;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use futures::Stream;
use switchyard_store::records::Records;
use tokio::task::JoinHandle;

pub use telemetry::{
    DEFAULT_MAX_BODY_BYTES, ReceiverOptions, Telemetry, TelemetryOptions, retention,
};

use crate::api::{self, Access, AppState, SettingsState, UiFiles};
use crate::closed_loop::ClosedLoop;
use crate::clusters::{Clusters, ClustersFile};
use crate::settings::SettingsFile;

/// How often commands without a verdict are checked against the telemetry.
const VERDICT_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// What a console runs on.
#[derive(Debug)]
pub struct RuntimeOptions {
    pub telemetry: TelemetryOptions,
    pub clusters: ClustersFile,
    /// The saved settings the Settings view edits (they apply at the next start).
    pub settings: SettingsFile,
}

/// A running console.
#[derive(Debug)]
pub struct Runtime {
    telemetry: Telemetry,
    records: Records,
    state: AppState,
    verdicts: JoinHandle<()>,
}

impl Runtime {
    /// Opens the store, starts the receiver, connects to the clusters and starts the
    /// closed loop. Nothing is left running if a part fails to start.
    pub async fn start(options: RuntimeOptions) -> anyhow::Result<Runtime> {
        let effective = options.telemetry.resolved();
        let telemetry = Telemetry::start(options.telemetry).await?;
        let records = match Records::open(telemetry.path()).await {
            Ok(records) => records,
            Err(e) => {
                telemetry.stop().await?;
                return Err(e.into());
            }
        };
        let clusters = Arc::new(Clusters::start(options.clusters, Some(records.clone())));
        // Every command gets its closed-loop verdict while the console runs.
        let verdicts = ClosedLoop::new(records.clone(), telemetry.reader().clone())
            .spawn(clusters.live().clone(), VERDICT_EVERY);
        let mut effective = effective;
        // Port 0 asked for any port: show the one given.
        effective.otlp_grpc = telemetry.grpc_addr().or(effective.otlp_grpc);
        effective.otlp_http = telemetry.http_addr().or(effective.otlp_http);
        let settings = SettingsState::new(options.settings, effective, telemetry.path().to_owned());
        let mut state = AppState::new(clusters, telemetry.reader().clone(), records.clone())
            .with_settings(settings);
        if let Some(ingest) = telemetry.ingest() {
            state = state.with_ingest(ingest);
        }
        Ok(Runtime {
            telemetry,
            records,
            state,
            verdicts,
        })
    }

    /// The API's shared state.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The API (under `/api`) and `ui`'s files, behind `access`.
    pub fn router(&self, access: Access, ui: &UiFiles) -> Router {
        api::router(self.state.clone(), access, ui)
    }

    /// The API for callers inside this process (the desktop app's IPC): loopback
    /// access without a token, no UI files. Requests need `Host: 127.0.0.1`.
    pub fn api_router(&self) -> Router {
        let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let access = Access::new(loopback, None).expect("loopback needs no token");
        api::router(self.state.clone(), access, &UiFiles::Missing)
    }

    /// Every live change as `/api/live` names and encodes it: `(name, data)`.
    pub fn live_frames(&self) -> impl Stream<Item = (String, serde_json::Value)> + Send + use<> {
        api::live_frames(&self.state)
    }

    pub fn db_path(&self) -> &Path {
        self.telemetry.path()
    }

    /// The receiver's bound addresses.
    pub fn otlp_grpc(&self) -> Option<SocketAddr> {
        self.telemetry.grpc_addr()
    }

    pub fn otlp_http(&self) -> Option<SocketAddr> {
        self.telemetry.http_addr()
    }

    /// `otlp-grpc=ADDR otlp-http=ADDR`, for a ready line.
    pub fn addresses(&self) -> String {
        self.telemetry.addresses()
    }

    pub fn announce(&self) {
        self.telemetry.announce();
    }

    /// Ends live streams, stops the closed loop, commits and closes the store.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.state.close_streams();
        self.verdicts.abort();
        self.records.close().await;
        self.telemetry.stop().await
    }
}
