//! Loading aggregates (latest or as of a past version or time) and saving their new
//! events under optimistic concurrency, with snapshots.

use std::marker::PhantomData;
use std::time::SystemTime;

use super::{Aggregate, DomainEvent as _, Upcasters};
use crate::store::{
    Appended, EventStore, ExpectedVersion, Metadata, NewEvent, RecordedEvent, Snapshot, StoreError,
};

/// Events read per query while replaying a stream.
const PAGE: usize = 1000;

/// Which state of an aggregate to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    Latest,
    /// The state right after the event with this stream version.
    Version(i64),
    /// The state with every event recorded at or before this time.
    Time(SystemTime),
}

/// An aggregate's state and the stream version it reflects.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded<A> {
    pub id: String,
    pub stream_id: String,
    pub state: A,
    /// 0 for an aggregate with no events yet.
    pub version: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum RepositoryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "cannot read event {version} of stream {stream_id:?} ({event_type} v{schema_version}): {reason}"
    )]
    Decode {
        stream_id: String,
        version: i64,
        event_type: String,
        schema_version: u32,
        reason: String,
    },
    #[error("cannot serialize {what}: {reason}")]
    Encode { what: String, reason: String },
}

/// Loads and saves aggregates of type `A`.
#[derive(Debug, Clone)]
pub struct Repository<A> {
    store: EventStore,
    upcasters: Upcasters,
    _aggregate: PhantomData<fn() -> A>,
}

impl<A: Aggregate> Repository<A> {
    pub fn new(store: EventStore) -> Self {
        Repository {
            store,
            upcasters: Upcasters::new(),
            _aggregate: PhantomData,
        }
    }

    pub fn with_upcasters(mut self, upcasters: Upcasters) -> Self {
        self.upcasters = upcasters;
        self
    }

    pub fn store(&self) -> &EventStore {
        &self.store
    }

    /// The current state of aggregate `id`.
    pub async fn load(&self, id: &str) -> Result<Loaded<A>, RepositoryError> {
        self.load_as_of(id, AsOf::Latest).await
    }

    /// The state of aggregate `id` as it was at a past version or time ("replay to a
    /// point in time"); snapshots up to that version are used.
    pub async fn load_as_of(&self, id: &str, as_of: AsOf) -> Result<Loaded<A>, RepositoryError> {
        let stream_id = A::stream_id(id);
        let until = match as_of {
            AsOf::Latest => i64::MAX,
            AsOf::Version(version) => version,
            AsOf::Time(time) => self.store.stream_version_at(&stream_id, time).await?,
        };
        let mut loaded = Loaded {
            id: id.to_owned(),
            stream_id: stream_id.clone(),
            state: A::default(),
            version: 0,
        };
        if until <= 0 {
            return Ok(loaded);
        }
        if A::SNAPSHOT_EVERY > 0
            && let Some(snapshot) = self
                .store
                .load_snapshot(&stream_id, until, A::STATE_VERSION)
                .await?
        {
            // A snapshot that no longer deserializes (a changed shape without a bumped
            // STATE_VERSION) is skipped: the events are the truth.
            if let Ok(state) = serde_json::from_value(snapshot.state) {
                loaded.state = state;
                loaded.version = snapshot.version;
            }
        }
        loop {
            let events = self
                .store
                .read_stream_until(&stream_id, loaded.version + 1, until, PAGE)
                .await?;
            for recorded in &events {
                let event = self.decode(recorded)?;
                loaded.state.apply(&event);
                loaded.version = recorded.version;
            }
            if events.len() < PAGE {
                return Ok(loaded);
            }
        }
    }

    /// Turns a stored event into `A::Event`, upcasting old formats first.
    pub fn decode(&self, recorded: &RecordedEvent) -> Result<A::Event, RepositoryError> {
        let error = |reason: String| RepositoryError::Decode {
            stream_id: recorded.stream_id.clone(),
            version: recorded.version,
            event_type: recorded.event_type.clone(),
            schema_version: recorded.schema_version,
            reason,
        };
        let (payload, _) = self
            .upcasters
            .upcast(
                &recorded.event_type,
                recorded.schema_version,
                recorded.payload.clone(),
            )
            .map_err(error)?;
        serde_json::from_value(payload).map_err(|e| error(e.to_string()))
    }

    /// Appends `events` to the aggregate if nobody else did since it was loaded, applies
    /// them to `loaded`, and takes a snapshot when the version passes a multiple of
    /// `A::SNAPSHOT_EVERY`. `event_ids`, when given, are the events' ids (one per event),
    /// which makes a repeated save recognisable.
    pub async fn save(
        &self,
        loaded: &mut Loaded<A>,
        events: Vec<A::Event>,
        event_ids: Option<Vec<String>>,
        metadata: &Metadata,
    ) -> Result<Appended, RepositoryError> {
        let mut new_events = Vec::with_capacity(events.len());
        for (index, event) in events.iter().enumerate() {
            let payload = serde_json::to_value(event).map_err(|e| RepositoryError::Encode {
                what: format!("event {}", event.event_type()),
                reason: e.to_string(),
            })?;
            let mut new = NewEvent::new(event.event_type(), payload)
                .with_schema_version(event.schema_version());
            new.metadata
                .extend(metadata.iter().map(|(k, v)| (k.clone(), v.clone())));
            if let Some(id) = event_ids.as_ref().and_then(|ids| ids.get(index)) {
                new.event_id = id.clone();
            }
            new_events.push(new);
        }
        let expected = ExpectedVersion::Exactly(loaded.version);
        let appended = self
            .store
            .append(&loaded.stream_id, expected, new_events)
            .await?;
        if appended.duplicate {
            // Somebody (an earlier try of this very save) stored them: the state in hand is
            // stale, so reload rather than apply them twice.
            *loaded = self.load(&loaded.id).await?;
            return Ok(appended);
        }
        let before = loaded.version;
        for event in &events {
            loaded.state.apply(event);
        }
        loaded.version = appended.version;
        if A::SNAPSHOT_EVERY > 0 && before / A::SNAPSHOT_EVERY != loaded.version / A::SNAPSHOT_EVERY
        {
            let state =
                serde_json::to_value(&loaded.state).map_err(|e| RepositoryError::Encode {
                    what: format!("state of {}", loaded.stream_id),
                    reason: e.to_string(),
                })?;
            let snapshot = Snapshot {
                stream_id: loaded.stream_id.clone(),
                version: loaded.version,
                state_version: A::STATE_VERSION,
                state,
            };
            // The events are stored; a lost snapshot only makes the next load replay more.
            if let Err(error) = self.store.save_snapshot(&snapshot).await {
                tracing::warn!(stream = %loaded.stream_id, %error, "snapshot not saved");
            }
        }
        Ok(appended)
    }
}
