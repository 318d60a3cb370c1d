//! Switchyard's desktop app: a Tauri window over the console core.
//!
//! The shell is glue only (DESIGN: "a thin layer of Tauri commands and events over
//! crates/console"): it starts the console's [`Runtime`] (store, receiver, clusters,
//! closed loop — what `switchyard ui` runs), carries the UI's requests into the
//! runtime's `/api` router in-process ([`bridge`]), forwards the live view to the
//! window as `live` events, and, when no cluster is configured, runs the bundled demo
//! cluster as a child process ([`demo`]).

pub mod bridge;
pub mod demo;
pub mod options;

use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use switchyard_console::clusters::ClustersFile;
use switchyard_console::runtime::Runtime;
use tauri::{Manager as _, RunEvent};
use tokio::sync::watch;

pub use options::Options;

/// Set to `1`, the webview paints without OpenGL (see [`software_rendering`]).
pub const SOFTWARE_RENDERING_ENV: &str = "SWITCHYARD_SOFTWARE_RENDERING";

/// The runtime once started, or why it did not start.
pub type Started = Result<Arc<Runtime>, String>;

/// The app's state, managed by Tauri.
#[derive(Debug)]
pub struct Shell {
    /// `None` while starting.
    started: watch::Sender<Option<Started>>,
    demo: Mutex<Option<demo::Demo>>,
}

impl Shell {
    /// The runtime, once it has started (the window opens before it has).
    pub async fn runtime(&self) -> Started {
        let mut started = self.started.subscribe();
        let started = started
            .wait_for(Option::is_some)
            .await
            .map_err(|_| "the console stopped".to_owned())?;
        started.clone().expect("waited for Some")
    }
}

/// Parses the command line, runs the app until its window closes.
pub fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,switchyard_desktop=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let options = match Options::from_args(std::env::args_os()) {
        Ok(options) => options,
        Err(e) => e.exit(),
    };
    match run(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("switchyard-desktop: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Builds and runs the app with `options`.
pub fn run(options: Options) -> anyhow::Result<()> {
    let app = tauri::Builder::default()
        .manage(Shell {
            started: watch::channel(None).0,
            demo: Mutex::new(None),
        })
        .invoke_handler(tauri::generate_handler![bridge::api])
        .setup(move |app| {
            // The window opens at once; the UI's requests wait for the runtime. Started on
            // a thread of its own: `Runtime::start`'s future is not `Send` (sqlx's
            // higher-ranked lifetimes), and the demo's start blocks while it waits.
            let handle = app.handle().clone();
            std::thread::Builder::new()
                .name("console-start".into())
                .spawn(move || tauri::async_runtime::block_on(start(handle, options)))?;
            stop_on_signals(app.handle().clone());
            software_rendering(app)?;
            Ok(())
        })
        .build(tauri::generate_context!())
        .context("cannot create the window")?;
    app.run(|handle, event| {
        if let RunEvent::Exit = event {
            tauri::async_runtime::block_on(stop(handle));
        }
    });
    Ok(())
}

/// Starts the runtime, then the demo cluster if there is no other, then the live feed.
async fn start(app: tauri::AppHandle, options: Options) {
    let shell = app.state::<Shell>();
    let started = match start_runtime(&app, &options).await {
        Ok(runtime) => Ok(runtime),
        Err(e) => {
            tracing::error!("the console did not start: {e:#}");
            Err(format!("the console did not start: {e:#}"))
        }
    };
    shell.started.send_replace(Some(started));
}

async fn start_runtime(app: &tauri::AppHandle, options: &Options) -> anyhow::Result<Arc<Runtime>> {
    let mut clusters = ClustersFile::load(ClustersFile::default_path()?)?;
    demo::forget_stale(&mut clusters);
    let wants_demo = options.demo() && clusters.clusters().is_empty();
    let runtime = Arc::new(Runtime::start(options.runtime(clusters)?).await?);
    if wants_demo {
        // Without it the app still works (on no cluster); the overview says so.
        match demo::Demo::start(&options.agent_path(), runtime.otlp_grpc()) {
            Ok(demo) => {
                if let Err(e) = demo.register(&runtime) {
                    tracing::error!("{e}");
                }
                let shell = app.state::<Shell>();
                *shell.demo.lock().unwrap_or_else(PoisonError::into_inner) = Some(demo);
            }
            Err(e) => tracing::error!("the demo cluster did not start: {e}"),
        }
    }
    bridge::forward_live(app.clone(), &runtime);
    Ok(runtime)
}

/// The window has closed: the demo goes, the store is committed and closed.
async fn stop(app: &tauri::AppHandle) {
    let shell = app.state::<Shell>();
    let taken = shell
        .started
        .send_replace(Some(Err("the console stopped".to_owned())));
    let demo = shell
        .demo
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    let Some(Ok(mut runtime)) = taken else {
        drop(demo);
        return;
    };
    if let Some(demo) = demo {
        demo.stop(&runtime);
    }
    // Requests in flight hold the runtime for a moment; then it is ours to stop.
    let deadline = Instant::now() + Duration::from_secs(3);
    let runtime = loop {
        match Arc::try_unwrap(runtime) {
            Ok(runtime) => break runtime,
            Err(shared) if Instant::now() < deadline => {
                runtime = shared;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(_) => {
                tracing::warn!("requests still running at exit: the store closes uncommitted");
                return;
            }
        }
    };
    if let Err(e) = runtime.stop().await {
        tracing::error!("the console did not stop cleanly: {e:#}");
    }
}

/// `SWITCHYARD_SOFTWARE_RENDERING=1`: WebKitGTK paints on the CPU, without OpenGL
/// compositing. Where OpenGL is Mesa's software renderer (Xvfb, VMs without a GPU) that
/// saves ~80 MB in the web process. Not the default: in this mode WebKitWebDriver's
/// screenshots of the trace view never return (the e2e tests would not cover it), and a
/// real GPU composites faster.
fn software_rendering(app: &tauri::App) -> tauri::Result<()> {
    #[cfg(target_os = "linux")]
    if std::env::var_os(SOFTWARE_RENDERING_ENV).is_some_and(|v| v == "1") {
        for window in app.webview_windows().into_values() {
            window.with_webview(|webview| {
                use webkit2gtk::{HardwareAccelerationPolicy, SettingsExt as _, WebViewExt as _};
                if let Some(settings) = webview.inner().settings() {
                    settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
                }
            })?;
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = app;
    Ok(())
}

/// SIGTERM and SIGINT close the app as its window would: the demo stops, the store is
/// closed (WebDriver and session managers end apps with SIGTERM).
fn stop_on_signals(app: tauri::AppHandle) {
    #[cfg(unix)]
    tauri::async_runtime::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        app.exit(0);
    });
    #[cfg(not(unix))]
    let _ = app;
}
