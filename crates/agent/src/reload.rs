//! Hot reload: the agent's file, its gateway file and its saga definition files are
//! polled for changes (mtime, every second); a changed file is checked whole and
//! applied, or refused with its line and reason while the running configuration stays.
//!
//! What applies live: the gateway file's contents (routes, clusters, splits,
//! sidecar destinations…) and which gateway file the agent points at; the control
//! API's tokens (a removed token is refused from the next call, and the state streams
//! it opened end); the `[faults] enabled` switch; the saga definition files and their
//! list (new and changed definitions are registered, running sagas keep theirs; a
//! definition removed from the files stays registered until the next start). Anything
//! else in the agent's file (listen address, TLS, audit file, telemetry, saga log) is
//! read at start; a change to it is logged as needing a restart.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use switchyard_control_api::LiveAuth;
use switchyard_gateway::{ChangeSource, Gateway};
use switchyard_saga::Orchestrator;
use tokio::task::JoinHandle;

use crate::assemble;
use crate::config::AgentConfig;
use crate::faults::FaultSwitch;

/// How often the files' modification times are read.
pub const POLL: Duration = Duration::from_secs(1);
/// Who a reloaded file's changes are journaled as (the source names the file).
pub const RELOAD: &str = "reload";

/// What a reload changes in the running agent.
#[derive(Debug, Clone, Default)]
pub struct Live {
    /// Gets the gateway file.
    pub gateway: Option<Gateway>,
    /// Gets `control.tokens`.
    pub auth: Option<LiveAuth>,
    /// Gets `faults.enabled`.
    pub faults: Option<FaultSwitch>,
    /// Gets the saga definition files.
    pub orchestrator: Option<Orchestrator>,
}

/// Watches `config_path` (as loaded into `current`) and the files it names, applying
/// changes to `live`.
pub fn watch(config_path: PathBuf, current: AgentConfig, live: Live) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut current = current;
        let mut config_mtime = mtime(&config_path);
        let mut gateway_mtime = current.gateway.file.as_deref().and_then(mtime);
        let mut definitions_mtime = mtimes(&current.sagas.definitions);
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
                        if next.sagas.definitions != current.sagas.definitions {
                            definitions_mtime = mtimes(&next.sagas.definitions);
                            if let Some(orchestrator) = &live.orchestrator {
                                apply_definitions(orchestrator, &next.sagas.definitions);
                            }
                        }
                        // Tokens last: a caller of the new token sees the rest applied.
                        apply_agent_file(&config_path, &current, &next, &live);
                        current = next;
                    }
                }
            }
            let seen = mtimes(&current.sagas.definitions);
            if seen != definitions_mtime {
                definitions_mtime = seen;
                if let Some(orchestrator) = &live.orchestrator {
                    apply_definitions(orchestrator, &current.sagas.definitions);
                }
            }
            let (Some(gateway), Some(file)) = (&live.gateway, &current.gateway.file) else {
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

/// Applies the faults switch and then the tokens `next` changes, and says what needs
/// a restart.
fn apply_agent_file(path: &Path, current: &AgentConfig, next: &AgentConfig, live: &Live) {
    if next.faults.enabled != current.faults.enabled
        && let Some(faults) = &live.faults
    {
        faults.set(next.faults.enabled);
        tracing::info!(enabled = next.faults.enabled, "fault injection switched");
        if next.faults.enabled {
            assemble::warn_no_fault_targets();
        }
    }
    if next.control.tokens != current.control.tokens
        && let Some(auth) = &live.auth
    {
        auth.replace(next.control.auth());
        let callers: Vec<&str> = next
            .control
            .tokens
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        tracing::info!(?callers, "control API tokens replaced");
    }
    // Everything else must be equal, or it waits for a restart.
    let mut rest = next.clone();
    rest.gateway = current.gateway.clone();
    rest.control.tokens = current.control.tokens.clone();
    rest.faults = current.faults.clone();
    rest.sagas.definitions = current.sagas.definitions.clone();
    if rest != *current {
        tracing::warn!(
            "{}: changes to the listen address, TLS, audit file, telemetry or saga log take \
             effect at the next start",
            path.display()
        );
    }
}

/// Reads every definition file and registers them all, or none when one is refused.
fn apply_definitions(orchestrator: &Orchestrator, files: &[PathBuf]) {
    let result = assemble::load_definitions(files)
        .and_then(|definitions| assemble::register_definitions(orchestrator, definitions));
    match result {
        Ok(()) => tracing::info!(files = files.len(), "saga definitions reloaded"),
        Err(e) => tracing::error!("{e}; the running saga definitions stay"),
    }
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

fn mtimes(paths: &[PathBuf]) -> BTreeMap<PathBuf, Option<SystemTime>> {
    paths.iter().map(|p| (p.clone(), mtime(p))).collect()
}
