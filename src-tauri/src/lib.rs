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
use std::sync::Arc;

use anyhow::Context as _;
use switchyard_console::runtime::Runtime;
use tauri::{Manager as _, RunEvent};
use tokio::sync::watch;

pub use options::Options;

/// What the window talks to, once it has started (or why it could not).
pub type Started = Result<Arc<Runtime>, String>;

/// The app's state, managed by Tauri: the runtime as soon as it is up.
#[derive(Debug)]
pub struct Shell {
    started: watch::Receiver<Option<Started>>,
    demo: std::sync::Mutex<Option<demo::Demo>>,
}

impl Shell {
    /// The runtime, waiting for it to start; the start's error if it failed.
    pub async fn runtime(&self) -> Started {
        let mut started = self.started.clone();
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
                .unwrap_or_else(|_| "warn,switchyard=info,switchyard_desktop=info".into()),
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
    let (started_tx, started) = watch::channel(None);
    let app = tauri::Builder::default()
        .manage(Shell {
            started,
            demo: std::sync::Mutex::new(None),
        })
        .invoke_handler(tauri::generate_handler![bridge::api])
        .setup(move |app| {
            let handle = app.handle().clone();
            // The window opens at once; the UI's requests wait for the runtime.
            tauri::async_runtime::spawn(start(handle, options, started_tx));
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
async fn start(
    app: tauri::AppHandle,
    options: Options,
    started: watch::Sender<Option<Started>>,
) {
    stop_on_signals(app.clone());
    let runtime = match Runtime::start(options.runtime()).await {
        Ok(runtime) => Arc::new(runtime),
        Err(e) => {
            tracing::error!("the console did not start: {e:#}");
            started.send_replace(Some(Err(format!("the console did not start: {e:#}"))));
            return;
        }
    };
    if options.demo && runtime.clusters().list().is_empty() {
        match demo::Demo::start(&options.agent_path(), runtime.addresses().otlp_grpc) {
            Ok(demo) => {
                if let Err(e) = demo.register(&runtime) {
                    tracing::error!("cannot add the demo cluster: {e:#}");
                }
                let shell = app.state::<Shell>();
                *shell.demo.lock().unwrap_or_else(|e| e.into_inner()) = Some(demo);
            }
            Err(e) => tracing::error!("the demo cluster did not start: {e:#}"),
        }
    }
    bridge::forward_live(app.clone(), &runtime);
    started.send_replace(Some(Ok(runtime)));
}

/// Stops the demo and the runtime (the window has closed).
async fn stop(app: &tauri::AppHandle) {
    let shell = app.state::<Shell>();
    let demo = shell.demo.lock().unwrap_or_else(|e| e.into_inner()).take();
    let runtime = shell.started.borrow().clone();
    if let (Some(demo), Some(Ok(runtime))) = (demo, &runtime) {
        demo.stop(runtime);
    }
    if let Some(Ok(runtime)) = runtime {
        if let Err(e) = runtime.stop().await {
            tracing::error!("the console did not stop cleanly: {e:#}");
        }
    }
}

/// SIGTERM and SIGINT close the app as its window would, so the demo is stopped and
/// the store closed (WebDriver and session managers end apps with SIGTERM).
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
