//! The gRPC service: authenticates, validates, calls the backend, audits.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{broadcast::error::RecvError, mpsc};
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status};

use crate::audit::{AuditEntry, AuditLog};
use crate::auth::{AuthConfig, LiveAuth, UNKNOWN_CALLER};
use crate::backend::{BreakerAction, ControlBackend, SagaFilter};
use crate::command::Command;
use crate::error::BackendError;
use crate::experiment::{self, Experiment};
use crate::inventory;
use crate::journal;
use crate::proto::{self, control_server::Control, state_change::Change};
use crate::time::{from_unix_ms, now_unix_ms};
use crate::tls::ServerTls;

/// Sagas listed when a request sets no limit.
const DEFAULT_SAGA_LIMIT: usize = 100;
/// Changes buffered per watching client before it is considered slow.
const WATCH_BUFFER: usize = 256;

/// The control service over a backend. Cheap to clone.
#[derive(Clone)]
pub struct ControlServer {
    backend: Arc<dyn ControlBackend>,
    auth: LiveAuth,
    audit: Arc<AuditLog>,
}

impl std::fmt::Debug for ControlServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlServer")
            .field("auth", &self.auth)
            .field("audit", &self.audit)
            .finish_non_exhaustive()
    }
}

impl ControlServer {
    /// A server over `backend` accepting `auth`'s tokens, auditing in memory.
    pub fn new(backend: Arc<dyn ControlBackend>, auth: AuthConfig) -> Self {
        ControlServer {
            backend,
            auth: LiveAuth::new(auth),
            audit: Arc::new(AuditLog::default()),
        }
    }

    /// The tokens in force, to replace while the server runs (token rotation).
    pub fn auth(&self) -> &LiveAuth {
        &self.auth
    }

    /// Audits into `audit` (e.g. one that also writes a file, or one the agent shares).
    pub fn with_audit(mut self, audit: Arc<AuditLog>) -> Self {
        self.audit = audit;
        self
    }

    /// The audit log this server records into.
    pub fn audit(&self) -> &Arc<AuditLog> {
        &self.audit
    }

    /// The tonic service, to add to a `tonic::transport::Server` next to others.
    pub fn into_service(self) -> proto::control_server::ControlServer<ControlServer> {
        proto::control_server::ControlServer::new(self)
    }

    /// Serves on `listener` (TLS if given) until `shutdown` completes.
    pub async fn serve(
        self,
        listener: TcpListener,
        tls: Option<ServerTls>,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), tonic::transport::Error> {
        let mut builder = tonic::transport::Server::builder();
        if let Some(tls) = tls {
            builder = builder.tls_config(tls.config())?;
        }
        builder
            .add_service(self.into_service())
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
            .await
    }

    /// The caller, or `UNAUTHENTICATED` (audited as `unknown`).
    fn authenticate(
        &self,
        metadata: &MetadataMap,
        rpc: &str,
        target: &str,
        reason: &str,
    ) -> Result<String, Status> {
        match self.auth.authenticate(metadata) {
            Ok(caller) => Ok(caller),
            Err(err) => {
                let status = Status::unauthenticated(err.to_string());
                self.audit.record(AuditEntry::now(
                    UNKNOWN_CALLER,
                    rpc,
                    target,
                    reason,
                    Err(&status),
                ));
                Err(status)
            }
        }
    }

    /// Runs one command: authenticates (the backend is never reached without a
    /// valid token), requires a reason, runs `run`, and audits the outcome.
    async fn command<T, F, Fut>(
        &self,
        metadata: &MetadataMap,
        rpc: &str,
        target: &str,
        reason: &str,
        ttl: Option<Duration>,
        run: F,
    ) -> Result<Response<T>, Status>
    where
        F: FnOnce(Command) -> Fut,
        Fut: Future<Output = Result<T, BackendError>>,
    {
        let caller = self.authenticate(metadata, rpc, target, reason)?;
        let result = if reason.trim().is_empty() {
            Err(BackendError::InvalidArgument(format!(
                "{rpc} needs a reason"
            )))
        } else {
            run(Command::new(caller.clone(), reason).with_ttl(ttl)).await
        };
        let result = result.map_err(Status::from);
        self.audit.record(AuditEntry::now(
            &caller,
            rpc,
            target,
            reason,
            result.as_ref().map(|_| ()),
        ));
        result.map(Response::new)
    }

    async fn breaker(
        &self,
        request: Request<proto::BreakerCommand>,
        action: BreakerAction,
    ) -> Result<Response<proto::Breaker>, Status> {
        let (metadata, _, req) = request.into_parts();
        let ttl = match (action, req.ttl_seconds) {
            (_, Some(0)) => Err(BackendError::InvalidArgument(
                "ttl_seconds must be at least 1".into(),
            )),
            (BreakerAction::Trip | BreakerAction::Disable, Some(s)) => {
                Ok(Some(Duration::from_secs(s)))
            }
            // Reset and release end overrides: a time to live means nothing there.
            _ => Ok(None),
        };
        let backend = &self.backend;
        let command_ttl = ttl.clone().ok().flatten();
        self.command(
            &metadata,
            action.rpc(),
            &req.name,
            &req.reason,
            command_ttl,
            |cmd| async {
                ttl?;
                backend.breaker_command(&req.name, action, cmd).await
            },
        )
        .await
    }
}

fn check_percent(percent: u32) -> Result<(), BackendError> {
    if percent > 100 {
        return Err(BackendError::InvalidArgument(format!(
            "percent {percent} is not within 0..=100"
        )));
    }
    Ok(())
}

#[tonic::async_trait]
impl Control for ControlServer {
    async fn get_identity(
        &self,
        request: Request<proto::GetIdentityRequest>,
    ) -> Result<Response<proto::Identity>, Status> {
        self.authenticate(request.metadata(), "GetIdentity", "", "")?;
        Ok(Response::new(self.backend.identity()))
    }

    async fn get_inventory(
        &self,
        request: Request<proto::GetInventoryRequest>,
    ) -> Result<Response<proto::Inventory>, Status> {
        self.authenticate(request.metadata(), "GetInventory", "", "")?;
        Ok(Response::new(inventory::collect(&*self.backend).await?))
    }

    type WatchStateStream = ReceiverStream<Result<proto::StateChange, Status>>;

    async fn watch_state(
        &self,
        request: Request<proto::WatchStateRequest>,
    ) -> Result<Response<Self::WatchStateStream>, Status> {
        self.authenticate(request.metadata(), "WatchState", "", "")?;
        // The stream lives as long as the token it was opened with: kept to be checked
        // again whenever the tokens are replaced.
        let metadata = request.metadata().clone();
        let auth = self.auth.clone();
        let mut rotations = self.auth.changes();
        // Subscribe before taking the snapshot: a change in between is sent twice
        // (harmless), never lost.
        let mut changes = self.backend.subscribe();
        let snapshot = inventory::collect(&*self.backend).await?;
        let (tx, rx) = mpsc::channel(WATCH_BUFFER);
        let backend = Arc::clone(&self.backend);
        tokio::spawn(async move {
            let mut next = Some(snapshot);
            loop {
                let message = match next.take() {
                    Some(inventory) => proto::StateChange {
                        at_unix_ms: now_unix_ms(),
                        change: Some(Change::Snapshot(inventory)),
                    },
                    None => tokio::select! {
                        // The client went away: stop without waiting for a change.
                        () = tx.closed() => return,
                        rotated = rotations.changed() => {
                            if rotated.is_ok()
                                && let Err(err) = auth.authenticate(&metadata)
                            {
                                let _ = tx.send(Err(Status::unauthenticated(err.to_string()))).await;
                                return;
                            }
                            continue;
                        }
                        received = changes.recv() => match received {
                            Ok(change) => change,
                            Err(RecvError::Lagged(missed)) => {
                                tracing::debug!(missed, "watcher lagged; sending a fresh snapshot");
                                match inventory::collect(&*backend).await {
                                    Ok(inventory) => next = Some(inventory),
                                    Err(err) => {
                                        let _ = tx.send(Err(err.into())).await;
                                        return;
                                    }
                                }
                                continue;
                            }
                            Err(RecvError::Closed) => return,
                        },
                    },
                };
                if tx.send(Ok(message)).await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn trip_breaker(
        &self,
        request: Request<proto::BreakerCommand>,
    ) -> Result<Response<proto::Breaker>, Status> {
        self.breaker(request, BreakerAction::Trip).await
    }

    async fn disable_breaker(
        &self,
        request: Request<proto::BreakerCommand>,
    ) -> Result<Response<proto::Breaker>, Status> {
        self.breaker(request, BreakerAction::Disable).await
    }

    async fn reset_breaker(
        &self,
        request: Request<proto::BreakerCommand>,
    ) -> Result<Response<proto::Breaker>, Status> {
        self.breaker(request, BreakerAction::Reset).await
    }

    async fn release_breaker(
        &self,
        request: Request<proto::BreakerCommand>,
    ) -> Result<Response<proto::Breaker>, Status> {
        self.breaker(request, BreakerAction::Release).await
    }

    async fn list_sagas(
        &self,
        request: Request<proto::ListSagasRequest>,
    ) -> Result<Response<proto::ListSagasResponse>, Status> {
        self.authenticate(request.metadata(), "ListSagas", "", "")?;
        let req = request.into_inner();
        let status = (!req.status.is_empty()).then_some(req.status);
        if let Some(status) = &status {
            experiment::check_saga_status(status)?;
        }
        let filter = SagaFilter {
            status,
            name: (!req.name.is_empty()).then_some(req.name),
            since: (req.since_unix_ms > 0).then(|| from_unix_ms(req.since_unix_ms)),
            limit: match req.limit {
                0 => DEFAULT_SAGA_LIMIT,
                n => usize::try_from(n).unwrap_or(usize::MAX),
            },
        };
        let sagas = self.backend.list_sagas(filter).await?;
        Ok(Response::new(proto::ListSagasResponse { sagas }))
    }

    async fn get_saga(
        &self,
        request: Request<proto::GetSagaRequest>,
    ) -> Result<Response<proto::SagaDetail>, Status> {
        self.authenticate(request.metadata(), "GetSaga", &request.get_ref().id, "")?;
        Ok(Response::new(
            self.backend.get_saga(&request.get_ref().id).await?,
        ))
    }

    async fn retry_saga(
        &self,
        request: Request<proto::RetrySagaRequest>,
    ) -> Result<Response<proto::SagaDetail>, Status> {
        let (metadata, _, req) = request.into_parts();
        let backend = &self.backend;
        self.command(
            &metadata,
            "RetrySaga",
            &req.id,
            &req.reason,
            None,
            |cmd| async {
                let input = match &req.step_input_json {
                    Some(text) => Some(serde_json::from_str(text).map_err(|e| {
                        BackendError::InvalidArgument(format!("step_input_json is not JSON: {e}"))
                    })?),
                    None => None,
                };
                backend.retry_saga(&req.id, input, cmd).await
            },
        )
        .await
    }

    async fn compensate_saga(
        &self,
        request: Request<proto::SagaCommand>,
    ) -> Result<Response<proto::SagaDetail>, Status> {
        let (metadata, _, req) = request.into_parts();
        let backend = &self.backend;
        self.command(
            &metadata,
            "CompensateSaga",
            &req.id,
            &req.reason,
            None,
            |cmd| backend.compensate_saga(&req.id, cmd),
        )
        .await
    }

    async fn resolve_saga(
        &self,
        request: Request<proto::ResolveSagaRequest>,
    ) -> Result<Response<proto::SagaDetail>, Status> {
        let (metadata, _, req) = request.into_parts();
        let backend = &self.backend;
        self.command(
            &metadata,
            "ResolveSaga",
            &req.id,
            &req.reason,
            None,
            |cmd| backend.resolve_saga(&req.id, &req.comment, cmd),
        )
        .await
    }

    async fn preview_compensation(
        &self,
        request: Request<proto::GetSagaRequest>,
    ) -> Result<Response<proto::CompensationPreview>, Status> {
        let id = &request.get_ref().id;
        self.authenticate(request.metadata(), "PreviewCompensation", id, "")?;
        let steps = self.backend.preview_compensation(id).await?;
        Ok(Response::new(proto::CompensationPreview {
            id: id.clone(),
            steps,
        }))
    }

    async fn set_route_weight(
        &self,
        request: Request<proto::SetRouteWeightRequest>,
    ) -> Result<Response<proto::Route>, Status> {
        let (metadata, _, req) = request.into_parts();
        let backend = &self.backend;
        self.command(
            &metadata,
            "SetRouteWeight",
            &req.route,
            &req.reason,
            None,
            |cmd| async {
                check_percent(req.percent)?;
                backend.set_route_weight(&req.route, req.percent, cmd).await
            },
        )
        .await
    }

    async fn set_shadow(
        &self,
        request: Request<proto::SetShadowRequest>,
    ) -> Result<Response<proto::Route>, Status> {
        let (metadata, _, req) = request.into_parts();
        let backend = &self.backend;
        self.command(
            &metadata,
            "SetShadow",
            &req.route,
            &req.reason,
            None,
            |cmd| async {
                check_percent(req.percent)?;
                backend.set_shadow(&req.route, req.percent, cmd).await
            },
        )
        .await
    }

    async fn set_fault(
        &self,
        request: Request<proto::SetFaultRequest>,
    ) -> Result<Response<proto::Fault>, Status> {
        let (metadata, _, req) = request.into_parts();
        let backend = &self.backend;
        self.command(
            &metadata,
            "SetFault",
            &req.service,
            &req.reason,
            None,
            |cmd| async {
                if !backend.faults_enabled() {
                    return Err(BackendError::NotAllowed(
                        "fault injection is disabled on this agent".into(),
                    ));
                }
                let fault = proto::Fault {
                    service: req.service.clone(),
                    error_rate: req.error_rate,
                    added_latency_ms: req.added_latency_ms,
                };
                experiment::validate_fault(&fault)?;
                backend.set_fault(fault, cmd).await
            },
        )
        .await
    }

    async fn list_journal(
        &self,
        request: Request<proto::ListJournalRequest>,
    ) -> Result<Response<proto::ListJournalResponse>, Status> {
        self.authenticate(request.metadata(), "ListJournal", "", "")?;
        let req = request.into_inner();
        let entries = self.backend.journal().await?;
        Ok(Response::new(proto::ListJournalResponse {
            entries: journal::page(entries, req.since_seq, req.limit),
        }))
    }

    async fn revert_journal(
        &self,
        request: Request<proto::RevertJournalRequest>,
    ) -> Result<Response<proto::JournalEntry>, Status> {
        let (metadata, _, req) = request.into_parts();
        let backend = &self.backend;
        self.command(
            &metadata,
            "RevertJournal",
            &format!("#{}", req.seq),
            &req.reason,
            None,
            |cmd| async move {
                if req.seq == 0 {
                    return Err(BackendError::InvalidArgument(
                        "seq must be at least 1".into(),
                    ));
                }
                backend.revert_journal(req.seq, cmd).await
            },
        )
        .await
    }

    async fn get_audit(
        &self,
        request: Request<proto::GetAuditRequest>,
    ) -> Result<Response<proto::GetAuditResponse>, Status> {
        self.authenticate(request.metadata(), "GetAudit", "", "")?;
        let limit = usize::try_from(request.get_ref().limit).unwrap_or(usize::MAX);
        let entries = self
            .audit
            .recent(limit)
            .into_iter()
            .map(proto::AuditEntry::from)
            .collect();
        Ok(Response::new(proto::GetAuditResponse { entries }))
    }

    async fn run_experiment(
        &self,
        request: Request<proto::RunExperimentRequest>,
    ) -> Result<Response<proto::ExperimentResult>, Status> {
        let (metadata, _, req) = request.into_parts();
        let target = req
            .fault
            .as_ref()
            .map(|f| f.service.clone())
            .unwrap_or_default();
        let backend = &self.backend;
        let req = &req;
        self.command(
            &metadata,
            "RunExperiment",
            &target,
            &req.reason,
            None,
            |cmd| async move {
                let experiment = Experiment::from_request(req)?;
                let report =
                    experiment::run_experiment(&**backend, &**backend, experiment, &cmd).await?;
                let result = proto::ExperimentResult::from(report);
                backend.publish(proto::StateChange {
                    at_unix_ms: now_unix_ms(),
                    change: Some(Change::Experiment(result.clone())),
                });
                Ok(result)
            },
        )
        .await
    }
}
