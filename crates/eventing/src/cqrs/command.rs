//! Command handling: validate, load the aggregate, decide the events, append them under
//! optimistic concurrency (retrying the decision on a conflict), answer the position.

use crate::aggregate::{Aggregate, Loaded, Repository, RepositoryError};
use crate::store::{Metadata, StoreError};

/// A request to change one aggregate.
pub trait Command: Send + Sync {
    type Aggregate: Aggregate;
    /// The domain's reasons to refuse the command.
    type Error: std::error::Error + Send + Sync + 'static;

    fn aggregate_id(&self) -> String;

    /// A caller-chosen unique id: a command sent again with the same id (after a lost
    /// answer) is answered with the first outcome instead of being applied twice.
    fn command_id(&self) -> Option<String> {
        None
    }

    /// Checks that need no state (well-formed input).
    fn validate(&self) -> Result<(), Self::Error> {
        Ok(())
    }

    /// Decides the events from the current state, or refuses.
    fn handle(
        &self,
        state: &Self::Aggregate,
    ) -> Result<Vec<<Self::Aggregate as Aggregate>::Event>, Self::Error>;
}

/// What a command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutcome {
    pub stream_id: String,
    /// The aggregate's version after the command.
    pub version: i64,
    /// Global position of the last event written (0 when the command wrote none): wait
    /// for a read model to reach it to read your own write.
    pub position: i64,
    pub events: usize,
    /// The command id was seen before; this is the first outcome, nothing was written.
    pub duplicate: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum CommandError<E: std::error::Error + 'static> {
    #[error("command refused: {0}")]
    Rejected(#[source] E),
    #[error("gave up after {attempts} concurrency conflicts on {stream_id:?}")]
    Contended { stream_id: String, attempts: u32 },
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// Executes commands against aggregates of type `A`.
#[derive(Debug, Clone)]
pub struct CommandBus<A> {
    repository: Repository<A>,
    conflict_attempts: u32,
}

impl<A: Aggregate> CommandBus<A> {
    pub fn new(repository: Repository<A>) -> Self {
        CommandBus {
            repository,
            conflict_attempts: 5,
        }
    }

    /// How many times to decide again after losing a race with another writer.
    pub fn conflict_attempts(mut self, attempts: u32) -> Self {
        self.conflict_attempts = attempts.max(1);
        self
    }

    pub fn repository(&self) -> &Repository<A> {
        &self.repository
    }

    pub async fn execute<C: Command<Aggregate = A>>(
        &self,
        command: &C,
        metadata: &Metadata,
    ) -> Result<CommandOutcome, CommandError<C::Error>> {
        command.validate().map_err(CommandError::Rejected)?;
        let id = command.aggregate_id();
        let command_id = command.command_id();
        if let Some(outcome) = self.earlier_outcome(command_id.as_deref()).await? {
            return Ok(outcome);
        }
        for _ in 0..self.conflict_attempts {
            let mut loaded: Loaded<A> = self.repository.load(&id).await?;
            let events = command
                .handle(&loaded.state)
                .map_err(CommandError::Rejected)?;
            if events.is_empty() {
                return Ok(CommandOutcome {
                    stream_id: loaded.stream_id,
                    version: loaded.version,
                    position: 0,
                    events: 0,
                    duplicate: false,
                });
            }
            let count = events.len();
            let ids = command_id
                .as_ref()
                .map(|command| (0..count).map(|i| event_id(command, i)).collect());
            let mut metadata = metadata.clone();
            if let Some(command) = &command_id {
                metadata.insert("command_id".into(), command.clone());
            }
            match self
                .repository
                .save(&mut loaded, events, ids, &metadata)
                .await
            {
                Ok(appended) => {
                    return Ok(CommandOutcome {
                        stream_id: loaded.stream_id,
                        version: appended.version,
                        position: appended.last_position,
                        events: count,
                        duplicate: appended.duplicate,
                    });
                }
                Err(RepositoryError::Store(StoreError::Conflict { .. })) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(CommandError::Contended {
            stream_id: A::stream_id(&id),
            attempts: self.conflict_attempts,
        })
    }

    /// The outcome of an earlier execution of the command with this id, if there was one.
    async fn earlier_outcome(
        &self,
        command_id: Option<&str>,
    ) -> Result<Option<CommandOutcome>, RepositoryError> {
        let Some(command_id) = command_id else {
            return Ok(None);
        };
        let store = self.repository.store();
        let Some(first) = store.find_event(&event_id(command_id, 0)).await? else {
            return Ok(None);
        };
        let mut last = first.clone();
        let mut events = 1;
        while let Some(next) = store.find_event(&event_id(command_id, events)).await? {
            last = next;
            events += 1;
        }
        Ok(Some(CommandOutcome {
            stream_id: first.stream_id,
            version: last.version,
            position: last.position,
            events,
            duplicate: true,
        }))
    }
}

/// The id of the `index`th event of a command: stable, so a repeat is recognised.
fn event_id(command_id: &str, index: usize) -> String {
    format!("{command_id}/{index}")
}
