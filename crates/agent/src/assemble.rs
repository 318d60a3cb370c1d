//! From a configuration to running parts: the breaker registry, the gateway started
//! from its file (with its sidecar listener when the file has one), and the orchestrator on its log with its definitions, resuming what
//! a previous run left unfinished.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use switchyard_gateway::{Gateway, RunningGateway};
use switchyard_resilience::breaker::Registry;
use switchyard_saga::{
    DefinitionError, Orchestrator, OrchestratorError, OrchestratorOptions, SagaLog,
    TomlDefinitionError, load_definition_file,
};

use crate::config::AgentConfig;
use crate::faults::{FaultSwitch, NoFaults};
use crate::parts::AgentParts;

/// A part that could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The gateway file was refused (the message names its line).
    #[error("{}:{}", file.display(), source)]
    GatewayConfig {
        /// The gateway file.
        file: PathBuf,
        /// Where and why.
        source: switchyard_gateway::ConfigError,
    },
    /// The gateway could not start (e.g. its listener's port is taken).
    #[error("gateway: {0}")]
    Gateway(#[from] switchyard_gateway::Error),
    /// A saga definition file was refused (the message names file and line).
    #[error(transparent)]
    DefinitionFile(#[from] TomlDefinitionError),
    /// A saga definition cannot run.
    #[error("{file}: {source}", file = file.display())]
    Definition {
        /// The file it came from.
        file: PathBuf,
        /// Why.
        source: DefinitionError,
    },
    /// The saga log could not be opened or read.
    #[error("saga log {url}: {source}")]
    SagaLog {
        /// The log configured.
        url: String,
        /// Why.
        source: OrchestratorError,
    },
}

/// Builds and starts every part `config` describes. The fault switch is returned
/// apart too, for a reload to flip.
pub async fn build(config: &AgentConfig) -> Result<(AgentParts, FaultSwitch), StartError> {
    let registry = Registry::new();
    let (gateway, sidecar) = match &config.gateway.file {
        Some(file) => {
            let (gateway, sidecar) = start_gateway(file, &registry).await?;
            (Some(gateway), sidecar)
        }
        None => (None, None),
    };
    let orchestrator = start_orchestrator(config).await?;
    if config.faults.enabled {
        warn_no_fault_targets();
    }
    let faults = FaultSwitch::new(config.faults.enabled, Arc::new(NoFaults));
    let parts = AgentParts {
        id: config.id.clone(),
        services: Vec::new(),
        registry,
        orchestrator: Some(orchestrator),
        gateway,
        sidecar,
        faults: Arc::new(faults.clone()),
    };
    Ok((parts, faults))
}

/// Said whenever the switch is turned on under `run`.
pub fn warn_no_fault_targets() {
    tracing::warn!(
        "[faults] enabled = true, but `run` manages no demo services to inject faults into"
    );
}

/// Reads the gateway file and serves it on its listeners, and its sidecar (egress)
/// listener when it has a `[sidecar]`; its breakers go in `registry`.
pub async fn start_gateway(
    file: &Path,
    registry: &Registry,
) -> Result<(RunningGateway, Option<RunningGateway>), StartError> {
    let gateway_config = switchyard_gateway::Config::from_file(file).map_err(|source| {
        StartError::GatewayConfig {
            file: file.to_owned(),
            source,
        }
    })?;
    let listeners = gateway_config.listeners.clone();
    let sidecar_listen = gateway_config.sidecar.as_ref().map(|s| s.listen.clone());
    let gateway = Gateway::with_registry(gateway_config, registry.clone())?;
    let ingress = gateway.serve_on(&listeners).await?;
    let egress = match sidecar_listen {
        Some(listen) => Some(gateway.serve_sidecar_on(&[listen]).await?),
        None => None,
    };
    Ok((ingress, egress))
}

/// Reads every saga definition file; the first bad one refuses them all.
pub fn load_definitions(
    files: &[PathBuf],
) -> Result<Vec<(&PathBuf, switchyard_saga::SagaDefinition)>, StartError> {
    let mut definitions = Vec::new();
    for file in files {
        definitions.extend(load_definition_file(file)?.into_iter().map(|d| (file, d)));
    }
    Ok(definitions)
}

/// Registers `definitions` (adding or replacing by name) with `orchestrator`, all or
/// none: each is checked before any is registered.
pub fn register_definitions(
    orchestrator: &Orchestrator,
    definitions: Vec<(&PathBuf, switchyard_saga::SagaDefinition)>,
) -> Result<(), StartError> {
    for (file, definition) in &definitions {
        definition
            .validate()
            .map_err(|source| StartError::Definition {
                file: (*file).clone(),
                source,
            })?;
    }
    for (file, definition) in definitions {
        orchestrator
            .register(definition)
            .map_err(|source| StartError::Definition {
                file: file.clone(),
                source,
            })?;
    }
    Ok(())
}

async fn start_orchestrator(config: &AgentConfig) -> Result<Orchestrator, StartError> {
    let url = &config.sagas.log;
    let log_error = |source: OrchestratorError| StartError::SagaLog {
        url: url.clone(),
        source,
    };
    // Definitions first: a bad file is refused before anything is opened.
    let definitions = load_definitions(&config.sagas.definitions)?;
    let log = SagaLog::connect(url)
        .await
        .map_err(|e| log_error(e.into()))?;
    let orchestrator = Orchestrator::new(
        log,
        OrchestratorOptions {
            max_concurrent: config.sagas.max_concurrent,
        },
    );
    register_definitions(&orchestrator, definitions)?;
    let resumed = orchestrator.recover().await.map_err(log_error)?;
    if resumed > 0 {
        tracing::info!(resumed, "resumed unfinished sagas");
    }
    Ok(orchestrator)
}
