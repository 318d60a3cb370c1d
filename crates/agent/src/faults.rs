//! Fault injection for an agent that runs no demo services (off, and says so), and
//! the `[faults] enabled` switch in front of any fault control, flipped live by a
//! reload of the agent's file.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use switchyard_control_api::proto;
use switchyard_control_api::{BackendError, Command, FaultControl};

/// No fault injection: the server refuses `SetFault` and experiments with
/// `FAILED_PRECONDITION` before asking.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFaults;

#[async_trait]
impl FaultControl for NoFaults {
    fn faults_enabled(&self) -> bool {
        false
    }

    async fn faults(&self) -> Result<Vec<proto::Fault>, BackendError> {
        Ok(Vec::new())
    }

    async fn set_fault(
        &self,
        fault: proto::Fault,
        _command: Command,
    ) -> Result<proto::Fault, BackendError> {
        Err(BackendError::not_found("service", fault.service))
    }
}

/// Fault control behind an on/off switch: while off, the server refuses every fault
/// command with `FAILED_PRECONDITION`. Cheap to clone; clones share the switch.
#[derive(Clone)]
pub struct FaultSwitch {
    enabled: Arc<AtomicBool>,
    inner: Arc<dyn FaultControl>,
}

impl std::fmt::Debug for FaultSwitch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultSwitch")
            .field("enabled", &self.is_on())
            .finish_non_exhaustive()
    }
}

impl FaultSwitch {
    /// `inner` behind a switch set to `enabled`.
    pub fn new(enabled: bool, inner: Arc<dyn FaultControl>) -> Self {
        FaultSwitch {
            enabled: Arc::new(AtomicBool::new(enabled)),
            inner,
        }
    }

    /// Turns fault commands on or off from the next one.
    pub fn set(&self, enabled: bool) {
        self.enabled.store(enabled, Ordering::SeqCst);
    }

    /// Whether fault commands are let through.
    pub fn is_on(&self) -> bool {
        self.enabled.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl FaultControl for FaultSwitch {
    fn faults_enabled(&self) -> bool {
        self.is_on()
    }

    async fn faults(&self) -> Result<Vec<proto::Fault>, BackendError> {
        self.inner.faults().await
    }

    async fn set_fault(
        &self,
        fault: proto::Fault,
        command: Command,
    ) -> Result<proto::Fault, BackendError> {
        // The server checks the switch first; checked again for callers without it.
        if !self.is_on() {
            return Err(BackendError::NotAllowed(
                "fault injection is disabled on this agent".into(),
            ));
        }
        self.inner.set_fault(fault, command).await
    }
}
