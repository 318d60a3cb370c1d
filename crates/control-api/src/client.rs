//! A typed client: adds the bearer token to every call and turns statuses into
//! [`ClientError`]s.

use std::time::Duration;

use futures::{Stream, StreamExt};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Status};

use crate::proto::{self, control_client};
use crate::tls::ClientTls;

/// Why a control call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The endpoint is not a URI.
    #[error("invalid endpoint {endpoint:?}: {message}")]
    InvalidEndpoint {
        /// What was given.
        endpoint: String,
        /// Why it was refused.
        message: String,
    },
    /// The token cannot be sent as a header.
    #[error("the token contains characters not allowed in a header")]
    InvalidToken,
    /// The TLS configuration was refused.
    #[error("TLS configuration: {0}")]
    Tls(#[source] tonic::transport::Error),
    /// The agent could not be reached.
    #[error("cannot connect to {endpoint}: {source}")]
    Connect {
        /// Where.
        endpoint: String,
        /// Why.
        #[source]
        source: tonic::transport::Error,
    },
    /// No token, or not one the agent accepts.
    #[error("not authenticated: {0}")]
    Unauthenticated(String),
    /// An unknown breaker, saga, route or service; the message names it.
    #[error("{0}")]
    NotFound(String),
    /// Not allowed now (e.g. fault injection is disabled).
    #[error("refused: {0}")]
    FailedPrecondition(String),
    /// The request was malformed.
    #[error("invalid request: {0}")]
    InvalidArgument(String),
    /// The agent went away or is overloaded.
    #[error("agent unavailable: {0}")]
    Unavailable(String),
    /// Any other status.
    #[error("{code:?}: {message}")]
    Other {
        /// The gRPC code.
        code: Code,
        /// The server's message.
        message: String,
    },
}

impl ClientError {
    /// The gRPC code, for errors that came from a call.
    pub fn code(&self) -> Option<Code> {
        match self {
            ClientError::Unauthenticated(_) => Some(Code::Unauthenticated),
            ClientError::NotFound(_) => Some(Code::NotFound),
            ClientError::FailedPrecondition(_) => Some(Code::FailedPrecondition),
            ClientError::InvalidArgument(_) => Some(Code::InvalidArgument),
            ClientError::Unavailable(_) => Some(Code::Unavailable),
            ClientError::Other { code, .. } => Some(*code),
            _ => None,
        }
    }
}

impl From<Status> for ClientError {
    fn from(status: Status) -> Self {
        let message = status.message().to_owned();
        match status.code() {
            Code::Unauthenticated => ClientError::Unauthenticated(message),
            Code::NotFound => ClientError::NotFound(message),
            Code::FailedPrecondition => ClientError::FailedPrecondition(message),
            Code::InvalidArgument => ClientError::InvalidArgument(message),
            Code::Unavailable => ClientError::Unavailable(message),
            code => ClientError::Other { code, message },
        }
    }
}

/// The result of a client call.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// Adds `authorization: Bearer <token>` to every request.
#[derive(Clone)]
pub struct BearerToken(MetadataValue<Ascii>);

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken(..)")
    }
}

impl BearerToken {
    /// The header value for `token`.
    pub fn new(token: &str) -> Result<Self> {
        format!("Bearer {token}")
            .parse()
            .map(BearerToken)
            .map_err(|_| ClientError::InvalidToken)
    }
}

impl Interceptor for BearerToken {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

/// The generated client with the token interceptor, for calls this wrapper lacks.
pub type RawClient = control_client::ControlClient<InterceptedService<Channel, BearerToken>>;

/// A connection to one agent's control API. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ControlClient {
    inner: RawClient,
}

fn ttl_seconds(ttl: Option<Duration>) -> Option<u64> {
    // Round up: a sub-second ttl must not become "no ttl" (0 is refused).
    ttl.map(|d| d.as_secs() + u64::from(d.subsec_nanos() > 0))
}

impl ControlClient {
    /// Connects to `endpoint` (e.g. `http://127.0.0.1:7443`, or `https://…` with
    /// `tls`), authenticating every call with `token`.
    pub async fn connect(endpoint: &str, token: &str, tls: Option<ClientTls>) -> Result<Self> {
        let interceptor = BearerToken::new(token)?;
        let mut target = Endpoint::from_shared(endpoint.to_owned()).map_err(|e| {
            ClientError::InvalidEndpoint {
                endpoint: endpoint.to_owned(),
                message: e.to_string(),
            }
        })?;
        if let Some(tls) = tls {
            target = target.tls_config(tls.config()).map_err(ClientError::Tls)?;
        }
        let channel = target
            .connect()
            .await
            .map_err(|source| ClientError::Connect {
                endpoint: endpoint.to_owned(),
                source,
            })?;
        Ok(ControlClient {
            inner: control_client::ControlClient::with_interceptor(channel, interceptor),
        })
    }

    /// The generated client underneath.
    pub fn raw(&self) -> RawClient {
        self.inner.clone()
    }

    /// Which agent this is.
    pub async fn identity(&self) -> Result<proto::Identity> {
        let mut c = self.inner.clone();
        Ok(c.get_identity(proto::GetIdentityRequest {})
            .await?
            .into_inner())
    }

    /// Everything the agent manages.
    pub async fn inventory(&self) -> Result<proto::Inventory> {
        let mut c = self.inner.clone();
        Ok(c.get_inventory(proto::GetInventoryRequest {})
            .await?
            .into_inner())
    }

    /// A snapshot, then every change.
    pub async fn watch(&self) -> Result<impl Stream<Item = Result<proto::StateChange>> + use<>> {
        let mut c = self.inner.clone();
        let stream = c
            .watch_state(proto::WatchStateRequest {})
            .await?
            .into_inner();
        Ok(stream.map(|item| item.map_err(ClientError::from)))
    }

    fn breaker_command(name: &str, reason: &str, ttl: Option<Duration>) -> proto::BreakerCommand {
        proto::BreakerCommand {
            name: name.to_owned(),
            reason: reason.to_owned(),
            ttl_seconds: ttl_seconds(ttl),
        }
    }

    /// Forces breaker `name` open, for `ttl` or until released.
    pub async fn trip_breaker(
        &self,
        name: &str,
        reason: &str,
        ttl: Option<Duration>,
    ) -> Result<proto::Breaker> {
        let mut c = self.inner.clone();
        let req = Self::breaker_command(name, reason, ttl);
        Ok(c.trip_breaker(req).await?.into_inner())
    }

    /// Forces breaker `name` closed, for `ttl` or until released.
    pub async fn disable_breaker(
        &self,
        name: &str,
        reason: &str,
        ttl: Option<Duration>,
    ) -> Result<proto::Breaker> {
        let mut c = self.inner.clone();
        let req = Self::breaker_command(name, reason, ttl);
        Ok(c.disable_breaker(req).await?.into_inner())
    }

    /// Closes breaker `name` and clears its window.
    pub async fn reset_breaker(&self, name: &str, reason: &str) -> Result<proto::Breaker> {
        let mut c = self.inner.clone();
        let req = Self::breaker_command(name, reason, None);
        Ok(c.reset_breaker(req).await?.into_inner())
    }

    /// Drops breaker `name`'s override.
    pub async fn release_breaker(&self, name: &str, reason: &str) -> Result<proto::Breaker> {
        let mut c = self.inner.clone();
        let req = Self::breaker_command(name, reason, None);
        Ok(c.release_breaker(req).await?.into_inner())
    }

    /// Sagas matching the request's filter.
    pub async fn list_sagas(
        &self,
        filter: proto::ListSagasRequest,
    ) -> Result<Vec<proto::SagaSummary>> {
        let mut c = self.inner.clone();
        Ok(c.list_sagas(filter).await?.into_inner().sagas)
    }

    /// One saga with its steps and log.
    pub async fn get_saga(&self, id: &str) -> Result<proto::SagaDetail> {
        let mut c = self.inner.clone();
        let req = proto::GetSagaRequest { id: id.to_owned() };
        Ok(c.get_saga(req).await?.into_inner())
    }

    /// Retries saga `id` from its failed step, with an edited input if given.
    pub async fn retry_saga(
        &self,
        id: &str,
        reason: &str,
        step_input: Option<&serde_json::Value>,
    ) -> Result<proto::SagaDetail> {
        let mut c = self.inner.clone();
        let req = proto::RetrySagaRequest {
            id: id.to_owned(),
            reason: reason.to_owned(),
            step_input_json: step_input.map(serde_json::Value::to_string),
        };
        Ok(c.retry_saga(req).await?.into_inner())
    }

    /// Compensates saga `id` now.
    pub async fn compensate_saga(&self, id: &str, reason: &str) -> Result<proto::SagaDetail> {
        let mut c = self.inner.clone();
        let req = proto::SagaCommand {
            id: id.to_owned(),
            reason: reason.to_owned(),
        };
        Ok(c.compensate_saga(req).await?.into_inner())
    }

    /// Closes failed saga `id` by hand.
    pub async fn resolve_saga(
        &self,
        id: &str,
        reason: &str,
        comment: &str,
    ) -> Result<proto::SagaDetail> {
        let mut c = self.inner.clone();
        let req = proto::ResolveSagaRequest {
            id: id.to_owned(),
            reason: reason.to_owned(),
            comment: comment.to_owned(),
        };
        Ok(c.resolve_saga(req).await?.into_inner())
    }

    /// The steps whose compensations would run, in order.
    pub async fn preview_compensation(&self, id: &str) -> Result<Vec<String>> {
        let mut c = self.inner.clone();
        let req = proto::GetSagaRequest { id: id.to_owned() };
        Ok(c.preview_compensation(req).await?.into_inner().steps)
    }

    /// Sends `percent` of `route`'s traffic to its new target.
    pub async fn set_route_weight(
        &self,
        route: &str,
        percent: u32,
        reason: &str,
    ) -> Result<proto::Route> {
        let mut c = self.inner.clone();
        let req = proto::SetRouteWeightRequest {
            route: route.to_owned(),
            percent,
            reason: reason.to_owned(),
        };
        Ok(c.set_route_weight(req).await?.into_inner())
    }

    /// Mirrors `percent` of `route`'s primary traffic to its new target.
    pub async fn set_shadow(
        &self,
        route: &str,
        percent: u32,
        reason: &str,
    ) -> Result<proto::Route> {
        let mut c = self.inner.clone();
        let req = proto::SetShadowRequest {
            route: route.to_owned(),
            percent,
            reason: reason.to_owned(),
        };
        Ok(c.set_shadow(req).await?.into_inner())
    }

    /// Sets a demo service's fault (zero rate and latency: none).
    pub async fn set_fault(&self, fault: proto::Fault, reason: &str) -> Result<proto::Fault> {
        let mut c = self.inner.clone();
        let req = proto::SetFaultRequest {
            service: fault.service,
            error_rate: fault.error_rate,
            added_latency_ms: fault.added_latency_ms,
            reason: reason.to_owned(),
        };
        Ok(c.set_fault(req).await?.into_inner())
    }

    /// The gateway's journal, oldest first: the entries after `since_seq` (0: from the
    /// oldest kept), at most `limit` (0: all) — the first ones after `since_seq` when
    /// it is set, else the newest.
    pub async fn journal(&self, since_seq: u64, limit: u32) -> Result<Vec<proto::JournalEntry>> {
        let mut c = self.inner.clone();
        let req = proto::ListJournalRequest { since_seq, limit };
        Ok(c.list_journal(req).await?.into_inner().entries)
    }

    /// Puts back the gateway's state from just before entry `seq`; answers with the
    /// entry recording the revert.
    pub async fn revert_journal(&self, seq: u64, reason: &str) -> Result<proto::JournalEntry> {
        let mut c = self.inner.clone();
        let req = proto::RevertJournalRequest {
            seq,
            reason: reason.to_owned(),
        };
        Ok(c.revert_journal(req).await?.into_inner())
    }

    /// The last `limit` audit entries (0: all kept), oldest first.
    pub async fn audit(&self, limit: u32) -> Result<Vec<proto::AuditEntry>> {
        let mut c = self.inner.clone();
        let req = proto::GetAuditRequest { limit };
        Ok(c.get_audit(req).await?.into_inner().entries)
    }

    /// Runs a game-day experiment and waits for its result.
    pub async fn run_experiment(
        &self,
        request: proto::RunExperimentRequest,
    ) -> Result<proto::ExperimentResult> {
        let mut c = self.inner.clone();
        Ok(c.run_experiment(request).await?.into_inner())
    }
}
