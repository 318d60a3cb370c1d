//! Hot reload: the agent's file and its gateway file are polled for changes (mtime,
//! every second); a changed file is checked whole and applied, or refused with its line
//! and reason while the running configuration stays.
//!
//! What applies live: the gateway file's contents (routes, clusters, splits…) and which
//! gateway file the agent points at. Everything else in the agent's file (tokens,
//! listen address, telemetry, sagas) is read at start; a change to it is logged as
//! needing a restart.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use switchyard_gateway::{ChangeSource, Gateway};
use tokio::task::JoinHandle;

use crate::config::AgentConfig;

/// How often the files' modification times are read.
pub const POLL: Duration = Duration::from_secs(1);
/// Who a reloaded file's changes are journaled as (the source names the file).
pub const RELOAD: &str = "reload";

/// Watches `config_path` (as loaded into `current`) and the gateway file it names,
/// applying changes to `gateway`.
pub fn watch(
    config_path: PathBuf,
    current: AgentConfig,
    gateway: Option<Gateway>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut current = current;
        let mut config_mtime = mtime(&config_path);
        let mut gateway_mtime = current.gateway.file.as_deref().and_then(mtime);
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let seen = mtime(&config_path);
            if seen != config_mtime {
                config_mtime = seen;
                match AgentConfig::load(&config_path) {
                    Err(e) => tracing::error!("configuration refused, the running one stays: {e}"),
                    Ok(next) => {
                        if next.gateway.file != current.gateway.file {
                            // A different gateway file: apply it as if it had changed.
                            gateway_mtime = None;
                        }
                        let mut unchanged = next.clone();
                        unchanged.gateway = current.gateway.clone();
                        if unchanged != current {
                            tracing::warn!(
                                "{}: changes outside [gateway] take effect at the next start",
                                config_path.display()
                            );
                        }
                        current = next;
                    }
                }
            }
            let (Some(gateway), Some(file)) = (&gateway, &current.gateway.file) else {
                continue;
            };
            let seen = mtime(file);
            if seen != gateway_mtime {
                gateway_mtime = seen;
                apply_gateway_file(gateway, file);
            }
        }
    })
}

/// Reads `file` and applies it to `gateway`; a refusal is logged with its line.
pub fn apply_gateway_file(gateway: &Gateway, file: &Path) {
    let result = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read: {e}"))
        .and_then(|text| {
            gateway
                .apply_toml_as(&text, RELOAD, ChangeSource::File(file.to_owned()))
                .map_err(|e| e.to_string())
        });
    match result {
        Ok(()) => tracing::info!(file = %file.display(), "gateway configuration applied"),
        Err(e) => tracing::error!(
            "{}: {e}; the running gateway configuration stays",
            file.display()
        ),
    }
}

fn mtime(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}
