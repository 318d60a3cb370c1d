//! The orchestrator: starts sagas, runs each as a task that commits every transition to
//! the log before its next effect, resumes unfinished sagas after a restart, and takes
//! operator commands.

mod executor;
mod operator;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{Semaphore, broadcast, watch};

use crate::definition::{DefinitionError, SagaDefinition};
use crate::log::{EntryKind, LogEntry, LogError, SagaInstance, SagaLog, SagaStatus};
use crate::state::SagaState;
use crate::telemetry::SagaSpan;

pub use operator::{PlannedCompensation, SagaDetails, StepView};

#[derive(Debug, Clone)]
pub struct OrchestratorOptions {
    /// Sagas executing at once; more wait (their start is already logged).
    pub max_concurrent: usize,
}

impl Default for OrchestratorOptions {
    fn default() -> Self {
        OrchestratorOptions {
            max_concurrent: 256,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OrchestratorError {
    #[error("no saga definition named {0:?}")]
    UnknownDefinition(String),
    #[error("no saga instance {0:?}")]
    UnknownSaga(String),
    #[error("cannot {command} saga {id:?}: it is {status}{hint}")]
    NotAllowed {
        id: String,
        command: &'static str,
        status: SagaStatus,
        hint: String,
    },
    #[error(transparent)]
    Definition(#[from] DefinitionError),
    #[error(transparent)]
    Log(#[from] LogError),
    #[error("saga {id:?} did not finish within {waited:?} (it is {status})")]
    StillRunning {
        id: String,
        status: SagaStatus,
        waited: Duration,
    },
}

/// A status change, for whoever watches (the agent's state stream, tests).
#[derive(Debug, Clone, PartialEq)]
pub struct SagaEvent {
    pub id: String,
    pub name: String,
    pub status: SagaStatus,
    pub failed_step: Option<String>,
}

/// Runs sagas; cheap to clone.
#[derive(Debug, Clone)]
pub struct Orchestrator {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    log: SagaLog,
    definitions: RwLock<HashMap<String, Arc<SagaDefinition>>>,
    permits: Arc<Semaphore>,
    /// Instances with an executor in this process, so commands reach it instead of
    /// writing to the log beside it.
    live: Mutex<HashMap<String, Live>>,
    events: broadcast::Sender<SagaEvent>,
}

#[derive(Debug)]
struct Live {
    /// An operator's "compensate now": (actor, reason).
    abort: watch::Sender<Option<(String, String)>>,
    status: watch::Receiver<SagaStatus>,
}

impl Orchestrator {
    pub fn new(log: SagaLog, options: OrchestratorOptions) -> Self {
        Orchestrator {
            inner: Arc::new(Inner {
                log,
                definitions: RwLock::new(HashMap::new()),
                permits: Arc::new(Semaphore::new(options.max_concurrent.max(1))),
                live: Mutex::new(HashMap::new()),
                events: broadcast::channel(1024).0,
            }),
        }
    }

    /// Adds (or replaces) a definition; instances already running keep theirs.
    pub fn register(&self, definition: SagaDefinition) -> Result<(), DefinitionError> {
        definition.validate()?;
        self.inner
            .definitions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(definition.name.clone(), Arc::new(definition));
        Ok(())
    }

    pub fn definitions(&self) -> Vec<Arc<SagaDefinition>> {
        let mut definitions: Vec<_> = self
            .inner
            .definitions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        definitions.sort_by(|a, b| a.name.cmp(&b.name));
        definitions
    }

    pub fn log(&self) -> &SagaLog {
        &self.inner.log
    }

    /// Status changes of every instance run by this orchestrator.
    pub fn subscribe(&self) -> broadcast::Receiver<SagaEvent> {
        self.inner.events.subscribe()
    }

    fn definition(&self, name: &str) -> Result<Arc<SagaDefinition>, OrchestratorError> {
        self.inner
            .definitions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
            .ok_or_else(|| OrchestratorError::UnknownDefinition(name.to_owned()))
    }

    /// Starts an instance of saga `name` with a new id; returns the id once the start is
    /// in the log (the steps run on, in the background).
    pub async fn start(&self, name: &str, input: Value) -> Result<String, OrchestratorError> {
        let id = uuid::Uuid::now_v7().to_string();
        let definition = self.definition(name)?;
        self.begin(definition, &id, input).await?;
        Ok(id)
    }

    /// Starts an instance under a caller-chosen id. Starting an id that exists does
    /// nothing (a retried request), so callers can make starts idempotent.
    pub async fn start_with_id(
        &self,
        name: &str,
        id: &str,
        input: Value,
    ) -> Result<(), OrchestratorError> {
        let definition = self.definition(name)?;
        if self.inner.log.instance(id).await?.is_some() {
            return Ok(());
        }
        match self.begin(definition, id, input).await {
            // Two starts of one id raced and the other won: the same outcome as a repeat.
            Err(OrchestratorError::Log(_)) if self.inner.log.instance(id).await?.is_some() => {
                Ok(())
            }
            other => other,
        }
    }

    /// Logs the start of a new instance and spawns its executor.
    async fn begin(
        &self,
        definition: Arc<SagaDefinition>,
        id: &str,
        input: Value,
    ) -> Result<(), OrchestratorError> {
        let name = definition.name.as_str();
        let root = SagaSpan::start(name, id);
        let now = crate::log::now();
        let instance = SagaInstance {
            id: id.to_owned(),
            name: name.to_owned(),
            status: SagaStatus::Running,
            input: input.clone(),
            failed_step: None,
            error: None,
            trace_context: root.headers(),
            deadline_at: definition.deadline.map(|deadline| now + deadline),
            created_at: now,
            updated_at: now,
        };
        let mut started = LogEntry::new(EntryKind::Started).data(input);
        started.seq = 1;
        started.at = now;
        self.inner
            .log
            .write(
                id,
                vec![started.clone()],
                crate::log::InstanceWrite::Insert(Box::new(instance.clone())),
            )
            .await?;
        let state = SagaState::from_entries(&[started]);
        self.spawn(definition, instance, state, root);
        Ok(())
    }

    /// Resumes every unfinished instance in the log (call once at start-up). Returns how
    /// many were resumed.
    pub async fn recover(&self) -> Result<usize, OrchestratorError> {
        let mut resumed = 0;
        for instance in self.inner.log.active().await? {
            if self.is_live(&instance.id) {
                continue;
            }
            let Ok(definition) = self.definition(&instance.name) else {
                tracing::warn!(saga = %instance.id, name = %instance.name, "no definition registered; not resumed");
                continue;
            };
            let entries = self.inner.log.entries(&instance.id).await?;
            let mut state = SagaState::from_entries(&entries);
            let mut recovered = LogEntry::new(EntryKind::Recovered);
            recovered.seq = state.next_seq;
            match self
                .inner
                .log
                .write(
                    &instance.id,
                    vec![recovered.clone()],
                    crate::log::InstanceWrite::Unchanged,
                )
                .await
            {
                Ok(()) => state.apply(&recovered),
                // Another orchestrator took it first.
                Err(LogError::Conflict { .. }) => continue,
                Err(error) => return Err(error.into()),
            }
            let root = SagaSpan::resume(&instance.name, &instance.id, &instance.trace_context);
            self.spawn(definition, instance, state, root);
            resumed += 1;
        }
        Ok(resumed)
    }

    /// Waits until the instance is no longer running or compensating.
    pub async fn wait(
        &self,
        id: &str,
        timeout: Duration,
    ) -> Result<SagaInstance, OrchestratorError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let status = self.live_status(id);
            if let Some(mut status) = status {
                // Only whether it finished: the watch's guard must not live across an await.
                let finished = tokio::time::timeout_at(
                    deadline,
                    status.wait_for(|status| !status.is_active()),
                )
                .await
                .is_ok();
                if !finished {
                    let instance = self.instance(id).await?;
                    return Err(OrchestratorError::StillRunning {
                        id: id.to_owned(),
                        status: instance.status,
                        waited: timeout,
                    });
                }
            }
            let instance = self.instance(id).await?;
            if !instance.status.is_active() {
                return Ok(instance);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(OrchestratorError::StillRunning {
                    id: id.to_owned(),
                    status: instance.status,
                    waited: timeout,
                });
            }
            // Active in the log but not here: another process runs it, or its executor
            // is just being handed over; look again shortly.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Starts saga `name` and waits for its end.
    pub async fn run(
        &self,
        name: &str,
        input: Value,
        timeout: Duration,
    ) -> Result<SagaInstance, OrchestratorError> {
        let id = self.start(name, input).await?;
        self.wait(&id, timeout).await
    }

    async fn instance(&self, id: &str) -> Result<SagaInstance, OrchestratorError> {
        self.inner
            .log
            .instance(id)
            .await?
            .ok_or_else(|| OrchestratorError::UnknownSaga(id.to_owned()))
    }

    fn is_live(&self, id: &str) -> bool {
        self.inner
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(id)
    }

    fn live_status(&self, id: &str) -> Option<watch::Receiver<SagaStatus>> {
        self.inner
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .map(|live| live.status.clone())
    }

    fn spawn(
        &self,
        definition: Arc<SagaDefinition>,
        instance: SagaInstance,
        state: SagaState,
        root: SagaSpan,
    ) {
        let (abort, abort_rx) = watch::channel(None);
        let (status_tx, status) = watch::channel(state.status);
        self.inner
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(instance.id.clone(), Live { abort, status });
        let inner = self.inner.clone();
        tokio::spawn(async move {
            let id = instance.id.clone();
            let permit = inner.permits.clone().acquire_owned().await;
            let executor = executor::Executor {
                log: inner.log.clone(),
                events: inner.events.clone(),
                definition,
                instance,
                state,
                root,
                abort: abort_rx,
                status: status_tx,
            };
            executor.run().await;
            drop(permit);
            inner
                .live
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
        });
    }
}
