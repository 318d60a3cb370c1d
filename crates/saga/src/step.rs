//! What a step does: an async action (and its compensation) given the saga's context.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use switchyard_conventions::saga::StepPhase;

/// Everything a step attempt may use. The same `idempotency_key` is given to every
/// attempt of one step in one phase (including repeats after a crash), so a participant
/// that remembers it can make the repeat harmless.
#[derive(Debug, Clone)]
pub struct StepContext {
    pub saga_id: String,
    pub saga_name: String,
    pub step_name: String,
    pub step_index: usize,
    pub phase: StepPhase,
    /// From 1; counts the attempts of this step in this phase, across restarts.
    pub attempt: u32,
    /// `{saga id}:{step name}:{phase}`; HTTP steps send it as `Idempotency-Key`.
    pub idempotency_key: String,
    /// The saga's input as started.
    pub input: Value,
    /// This step's input when an operator edited it for a retry; else `None`.
    pub step_input: Option<Value>,
    /// Outputs of the steps that completed before this one, by step name. In the
    /// compensate phase it includes this step's own forward output.
    pub outputs: BTreeMap<String, Value>,
    /// W3C trace context of the step's span (`traceparent`, `tracestate`), for the
    /// participant's request headers.
    pub trace_headers: BTreeMap<String, String>,
}

/// Why a step attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    /// May succeed if tried again (timeouts, 5xx, connection refused): retried per the
    /// step's retry policy.
    #[error("{0}")]
    Retryable(String),
    /// Will not succeed however often it is tried (4xx, a business refusal): no retry.
    #[error("{0}")]
    Permanent(String),
}

impl StepError {
    pub fn retryable(reason: impl Into<String>) -> Self {
        StepError::Retryable(reason.into())
    }

    pub fn permanent(reason: impl Into<String>) -> Self {
        StepError::Permanent(reason.into())
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self, StepError::Retryable(_))
    }

    pub fn reason(&self) -> &str {
        match self {
            StepError::Retryable(reason) | StepError::Permanent(reason) => reason,
        }
    }
}

/// A step's action or compensation. The output (any JSON) is logged and handed to later
/// steps; a compensation's output is logged only.
#[async_trait]
pub trait StepAction: Send + Sync + fmt::Debug {
    async fn run(&self, cx: StepContext) -> Result<Value, StepError>;
}

type BoxedRun = dyn Fn(StepContext) -> Pin<Box<dyn Future<Output = Result<Value, StepError>> + Send>>
    + Send
    + Sync;

/// A [`StepAction`] from an async closure: `action_fn(|cx| async move { Ok(json!({})) })`.
pub struct FnAction {
    run: Box<BoxedRun>,
}

impl fmt::Debug for FnAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnAction")
    }
}

pub fn action_fn<F, Fut>(f: F) -> Arc<dyn StepAction>
where
    F: Fn(StepContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, StepError>> + Send + 'static,
{
    Arc::new(FnAction {
        run: Box::new(move |cx| Box::pin(f(cx))),
    })
}

#[async_trait]
impl StepAction for FnAction {
    async fn run(&self, cx: StepContext) -> Result<Value, StepError> {
        (self.run)(cx).await
    }
}
