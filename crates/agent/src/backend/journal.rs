//! The configuration journal: the gateway's, in wire terms.

use async_trait::async_trait;
use switchyard_control_api::proto;
use switchyard_control_api::time::unix_ms;
use switchyard_control_api::{BackendError, Command, JournalControl};
use switchyard_gateway::{ChangeSource, Error as GatewayError, Gateway, JournalEntry};

use super::{AgentBackend, Result};

#[async_trait]
impl JournalControl for AgentBackend {
    async fn journal(&self) -> Result<Vec<proto::JournalEntry>> {
        Ok(self.journaled()?.journal().iter().map(entry_view).collect())
    }

    async fn revert_journal(&self, seq: u64, command: Command) -> Result<proto::JournalEntry> {
        // The caller goes into the journal; the reason stays in the audit log.
        let entry = self
            .journaled()?
            .revert(seq, &command.by)
            .map_err(|e| revert_error(seq, e))?;
        Ok(entry_view(&entry))
    }
}

impl AgentBackend {
    fn journaled(&self) -> Result<&Gateway> {
        self.gateway.as_ref().ok_or_else(|| {
            BackendError::NotAllowed("this agent runs no gateway: there is no journal".into())
        })
    }
}

/// A journal entry as the control API shows it.
pub(super) fn entry_view(entry: &JournalEntry) -> proto::JournalEntry {
    proto::JournalEntry {
        seq: entry.seq,
        at_unix_ms: unix_ms(entry.at),
        who: entry.who.clone(),
        source: entry.source.to_string(),
        reverts_seq: match entry.source {
            ChangeSource::Revert(seq) => seq,
            _ => 0,
        },
        diff: entry.diff.clone(),
    }
}

fn revert_error(seq: u64, error: GatewayError) -> BackendError {
    match error {
        GatewayError::UnknownJournalEntry { .. } => {
            BackendError::not_found("journal entry", format!("#{seq}"))
        }
        // The first configuration, or a state that no longer builds.
        GatewayError::NothingBefore { .. } | GatewayError::Config(_) => {
            BackendError::NotAllowed(error.to_string())
        }
        other => BackendError::Internal(other.to_string()),
    }
}
