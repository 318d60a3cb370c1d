//! Fault injection for an agent that runs no demo services: off, and says so.

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
