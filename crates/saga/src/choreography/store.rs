//! The tracker's durable state: one row per instance in `choreography_instances` (the
//! derived status, for lists and the stuck report) and one row per distinct event in
//! `choreography_events` (the facts the status is derived from), both written in one
//! transaction per delivery. Plain SQL that runs on SQLite and PostgreSQL alike.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::any::AnyRow;
use sqlx::{Any, Row as _, Transaction};
use switchyard_eventing::database::Database;

use super::ChoreographyError;
use super::definition::{ChoreographyDefinition, EventRole, Role};
use super::state::{
    ChoreographyInstance, ChoreographyStatus, EventRecord, Fact, InstanceSummary, StepState,
    StuckInstance, derive,
};

const SUMMARY_COLUMNS: &str = "saga_name, saga_id, status, failed_step, last_step, last_event, \
     deadline_us, started_at, last_progress_at, ended_at, events, duplicates";

/// Which instances to list; every field narrows the list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceFilter {
    pub status: Option<ChoreographyStatus>,
    /// The saga definition's name.
    pub name: Option<String>,
    /// Started at or after.
    pub since: Option<SystemTime>,
    /// At most this many, newest first (all when `None`).
    pub limit: Option<u32>,
}

impl InstanceFilter {
    pub fn status(mut self, status: ChoreographyStatus) -> Self {
        self.status = Some(status);
        self
    }

    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    pub fn since(mut self, since: SystemTime) -> Self {
        self.since = Some(since);
        self
    }

    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }
}

/// Reads (and, for the tracker, writes) choreography state in a saga database; several
/// trackers and readers may share one database.
#[derive(Debug, Clone)]
pub struct ChoreographyStore {
    db: Database,
}

/// A delivery the tracker has understood, ready to record.
#[derive(Debug)]
pub(crate) struct Incoming<'a> {
    pub(crate) saga_id: &'a str,
    pub(crate) event_type: &'a str,
    pub(crate) role: &'a Role,
    pub(crate) message_id: &'a str,
    pub(crate) trace_id: Option<&'a str>,
    pub(crate) at: SystemTime,
}

/// What recording a delivery did.
#[derive(Debug)]
pub(crate) enum Recorded {
    /// The instance already had this event type: nothing changed but a counter.
    Duplicate,
    New {
        previous: Option<ChoreographyStatus>,
        summary: Box<InstanceSummary>,
    },
}

impl ChoreographyStore {
    /// The database must have been opened with [`crate::MIGRATIONS`].
    pub fn new(db: Database) -> Self {
        ChoreographyStore { db }
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Records one event for an instance and re-derives its status, in one transaction
    /// that excludes other writers of the same instance (status is derived from all of
    /// its events, so two concurrent deliveries must not each miss the other's).
    pub(crate) async fn record(
        &self,
        definition: &ChoreographyDefinition,
        incoming: &Incoming<'_>,
    ) -> Result<Recorded, ChoreographyError> {
        let name = definition.name.as_str();
        let id = incoming.saga_id;
        let p = |n| self.db.placeholder(n);
        let mut tx = self.db.begin_exclusive(lock_key(name, id)).await?;

        let previous = summary_in(&mut tx, &self.db, name, id).await?;
        let seq = previous.as_ref().map_or(0, |s| s.events) + 1;
        let (step_index, step_name) = match &incoming.role.step {
            Some((index, step)) => (Some(to_i64(*index)), Some(step.as_str())),
            None => (None, None),
        };
        let inserted = sqlx::query(&format!(
            "INSERT INTO choreography_events (saga_name, saga_id, event_type, seq, role, step, \
             step_index, message_id, trace_id, received_at, duplicates) \
             VALUES ({}, 0) \
             ON CONFLICT (saga_name, saga_id, event_type) DO NOTHING",
            self.db.placeholders(1, 10),
        ))
        .bind(name)
        .bind(id)
        .bind(incoming.event_type)
        .bind(to_i64_u(seq))
        .bind(incoming.role.role.as_str())
        .bind(step_name)
        .bind(step_index)
        .bind(incoming.message_id)
        .bind(incoming.trace_id)
        .bind(to_micros(incoming.at))
        .execute(&mut *tx)
        .await?
        .rows_affected();

        if inserted == 0 {
            let key = format!(
                "WHERE saga_name = {} AND saga_id = {} AND event_type = {}",
                p(1),
                p(2),
                p(3)
            );
            sqlx::query(&format!(
                "UPDATE choreography_events SET duplicates = duplicates + 1 {key}"
            ))
            .bind(name)
            .bind(id)
            .bind(incoming.event_type)
            .execute(&mut *tx)
            .await?;
            sqlx::query(&format!(
                "UPDATE choreography_instances SET duplicates = duplicates + 1 \
                 WHERE saga_name = {} AND saga_id = {}",
                p(1),
                p(2)
            ))
            .bind(name)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(Recorded::Duplicate);
        }

        let facts = sqlx::query(&format!(
            "SELECT role, step FROM choreography_events \
             WHERE saga_name = {} AND saga_id = {} ORDER BY seq",
            p(1),
            p(2)
        ))
        .bind(name)
        .bind(id)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|row| {
            let role: String = row.try_get("role")?;
            Ok(Fact {
                role: parse_role(&role)?,
                step: row.try_get("step")?,
            })
        })
        .collect::<Result<Vec<_>, ChoreographyError>>()?;
        let (status, failed_step) = derive(definition, &facts);

        let was_finished = previous.as_ref().is_some_and(|s| s.status.is_finished());
        let summary = InstanceSummary {
            saga_name: name.to_owned(),
            saga_id: id.to_owned(),
            status,
            failed_step,
            last_step: step_name
                .map(str::to_owned)
                .or_else(|| previous.as_ref().and_then(|s| s.last_step.clone())),
            last_event: Some(incoming.event_type.to_owned()),
            progress_deadline: definition.progress_deadline,
            started_at: previous.as_ref().map_or(incoming.at, |s| s.started_at),
            // Never backwards, should the clock step back.
            last_progress_at: previous
                .as_ref()
                .map_or(incoming.at, |s| s.last_progress_at.max(incoming.at)),
            ended_at: if !status.is_finished() {
                None
            } else if was_finished {
                previous.as_ref().and_then(|s| s.ended_at)
            } else {
                Some(incoming.at)
            },
            events: seq,
            duplicates: previous.as_ref().map_or(0, |s| s.duplicates),
        };
        sqlx::query(&format!(
            "INSERT INTO choreography_instances ({SUMMARY_COLUMNS}) \
             VALUES ({}) \
             ON CONFLICT (saga_name, saga_id) DO UPDATE SET \
             status = excluded.status, failed_step = excluded.failed_step, \
             last_step = excluded.last_step, last_event = excluded.last_event, \
             deadline_us = excluded.deadline_us, last_progress_at = excluded.last_progress_at, \
             ended_at = excluded.ended_at, events = excluded.events",
            self.db.placeholders(1, 12),
        ))
        .bind(name)
        .bind(id)
        .bind(summary.status.as_str())
        .bind(summary.failed_step.as_deref())
        .bind(summary.last_step.as_deref())
        .bind(summary.last_event.as_deref())
        .bind(duration_micros(summary.progress_deadline))
        .bind(to_micros(summary.started_at))
        .bind(to_micros(summary.last_progress_at))
        .bind(summary.ended_at.map(to_micros))
        .bind(to_i64_u(summary.events))
        .bind(to_i64_u(summary.duplicates))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Recorded::New {
            previous: previous.map(|s| s.status),
            summary: Box::new(summary),
        })
    }

    /// One instance with its events; steps are those with events (see
    /// [`crate::choreography::ChoreographyTracker::instance`] for every step).
    pub async fn instance(
        &self,
        saga_name: &str,
        saga_id: &str,
    ) -> Result<Option<ChoreographyInstance>, ChoreographyError> {
        let p = |n| self.db.placeholder(n);
        let Some(row) = sqlx::query(&format!(
            "SELECT {SUMMARY_COLUMNS} FROM choreography_instances \
             WHERE saga_name = {} AND saga_id = {}",
            p(1),
            p(2)
        ))
        .bind(saga_name)
        .bind(saga_id)
        .fetch_optional(self.db.read_pool())
        .await?
        else {
            return Ok(None);
        };
        let summary = summary_from(&row)?;
        let rows = sqlx::query(&format!(
            "SELECT event_type, role, step, step_index, message_id, trace_id, received_at, \
             duplicates FROM choreography_events \
             WHERE saga_name = {} AND saga_id = {} ORDER BY seq",
            p(1),
            p(2)
        ))
        .bind(saga_name)
        .bind(saga_id)
        .fetch_all(self.db.read_pool())
        .await?;

        let mut started = None;
        let mut completed = None;
        let mut steps: BTreeMap<usize, StepState> = BTreeMap::new();
        for row in rows {
            let role = parse_role(&row.try_get::<String, _>("role")?)?;
            let record = EventRecord {
                event_type: row.try_get("event_type")?,
                message_id: row.try_get("message_id")?,
                trace_id: row.try_get("trace_id")?,
                at: from_micros(row.try_get("received_at")?),
                duplicates: to_u64(row.try_get("duplicates")?),
            };
            let step = match (
                row.try_get::<Option<i64>, _>("step_index")?,
                row.try_get::<Option<String>, _>("step")?,
            ) {
                (Some(index), Some(name)) => {
                    let index = usize::try_from(index).map_err(|_| {
                        ChoreographyError::Corrupt(format!("negative step index {index}"))
                    })?;
                    Some(
                        steps
                            .entry(index)
                            .or_insert_with(|| StepState::pending(&name, index)),
                    )
                }
                _ => None,
            };
            let slot = match (role, step) {
                (EventRole::Started, _) => &mut started,
                (EventRole::Completed, _) => &mut completed,
                (EventRole::StepDone, Some(step)) => &mut step.done,
                (EventRole::StepFailed, Some(step)) => &mut step.failed,
                (EventRole::StepCompensated, Some(step)) => &mut step.compensated,
                (EventRole::CompensationFailed, Some(step)) => &mut step.compensation_failed,
                (role, None) => {
                    return Err(ChoreographyError::Corrupt(format!(
                        "event {:?} of saga {saga_id:?} is a step's `{}` without a step",
                        record.event_type,
                        role.as_str()
                    )));
                }
            };
            // The first of several event types for the same slot wins.
            slot.get_or_insert(record);
        }
        Ok(Some(ChoreographyInstance {
            summary,
            started,
            completed,
            steps: steps.into_values().collect(),
        }))
    }

    /// Instances matching `filter`, most recently started first.
    pub async fn instances(
        &self,
        filter: &InstanceFilter,
    ) -> Result<Vec<InstanceSummary>, ChoreographyError> {
        let mut conditions = Vec::new();
        let mut n = 0;
        let mut next = || {
            n += 1;
            self.db.placeholder(n)
        };
        if filter.status.is_some() {
            conditions.push(format!("status = {}", next()));
        }
        if filter.name.is_some() {
            conditions.push(format!("saga_name = {}", next()));
        }
        if filter.since.is_some() {
            conditions.push(format!("started_at >= {}", next()));
        }
        let limit = match filter.limit {
            Some(_) => format!(" LIMIT {}", next()),
            None => String::new(),
        };
        let conditions = if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        };
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS} FROM choreography_instances{conditions} \
             ORDER BY started_at DESC, saga_name, saga_id{limit}"
        );
        let mut query = sqlx::query(&sql);
        if let Some(status) = filter.status {
            query = query.bind(status.as_str());
        }
        if let Some(name) = &filter.name {
            query = query.bind(name.as_str());
        }
        if let Some(since) = filter.since {
            query = query.bind(to_micros(since));
        }
        if let Some(limit) = filter.limit {
            query = query.bind(i64::from(limit));
        }
        query
            .fetch_all(self.db.read_pool())
            .await?
            .iter()
            .map(summary_from)
            .collect()
    }

    /// Unfinished instances (of `saga_name`, or of every saga) whose last progress is
    /// older than their deadline at `now`, quietest first.
    pub async fn stuck(
        &self,
        now: SystemTime,
        saga_name: Option<&str>,
    ) -> Result<Vec<StuckInstance>, ChoreographyError> {
        let p = |n| self.db.placeholder(n);
        let by_name = match saga_name {
            Some(_) => format!(" AND saga_name = {}", p(2)),
            None => String::new(),
        };
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS} FROM choreography_instances \
             WHERE status IN ('{}', '{}') AND last_progress_at + deadline_us < {}{by_name} \
             ORDER BY last_progress_at, saga_name, saga_id",
            ChoreographyStatus::Running.as_str(),
            ChoreographyStatus::Compensating.as_str(),
            p(1),
        );
        let mut query = sqlx::query(&sql).bind(to_micros(now));
        if let Some(name) = saga_name {
            query = query.bind(name);
        }
        query
            .fetch_all(self.db.read_pool())
            .await?
            .iter()
            .map(|row| {
                let summary = summary_from(row)?;
                Ok(StuckInstance {
                    quiet_for: summary.quiet_for(now),
                    last_step: summary.last_step.clone(),
                    summary,
                })
            })
            .collect()
    }
}

async fn summary_in(
    tx: &mut Transaction<'static, Any>,
    db: &Database,
    saga_name: &str,
    saga_id: &str,
) -> Result<Option<InstanceSummary>, ChoreographyError> {
    sqlx::query(&format!(
        "SELECT {SUMMARY_COLUMNS} FROM choreography_instances \
         WHERE saga_name = {} AND saga_id = {}",
        db.placeholder(1),
        db.placeholder(2)
    ))
    .bind(saga_name)
    .bind(saga_id)
    .fetch_optional(&mut **tx)
    .await?
    .as_ref()
    .map(summary_from)
    .transpose()
}

fn summary_from(row: &AnyRow) -> Result<InstanceSummary, ChoreographyError> {
    let status: String = row.try_get("status")?;
    Ok(InstanceSummary {
        saga_name: row.try_get("saga_name")?,
        saga_id: row.try_get("saga_id")?,
        status: status
            .parse()
            .map_err(|err| ChoreographyError::Corrupt(format!("{err}")))?,
        failed_step: row.try_get("failed_step")?,
        last_step: row.try_get("last_step")?,
        last_event: row.try_get("last_event")?,
        progress_deadline: Duration::from_micros(to_u64(row.try_get("deadline_us")?)),
        started_at: from_micros(row.try_get("started_at")?),
        last_progress_at: from_micros(row.try_get("last_progress_at")?),
        ended_at: row.try_get::<Option<i64>, _>("ended_at")?.map(from_micros),
        events: to_u64(row.try_get("events")?),
        duplicates: to_u64(row.try_get("duplicates")?),
    })
}

fn parse_role(text: &str) -> Result<EventRole, ChoreographyError> {
    EventRole::parse(text)
        .ok_or_else(|| ChoreographyError::Corrupt(format!("unknown event role {text:?}")))
}

/// PostgreSQL advisory lock key of one instance (a stable hash; a collision only makes
/// two instances wait for each other).
fn lock_key(saga_name: &str, saga_id: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325; // FNV-1a
    for byte in "switchyard.choreography"
        .bytes()
        .chain([0])
        .chain(saga_name.bytes())
        .chain([0])
        .chain(saga_id.bytes())
    {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}

fn to_micros(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).map_or(0, duration_micros)
}

fn from_micros(micros: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(to_u64(micros))
}

fn duration_micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_i64_u(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}
