//! The console's own records in the store file: the state changes its agents reported
//! ([`ControlEvent`]) and the commands it sent them ([`CommandRecord`]).
//!
//! Written through a connection of their own, not the ingest writer's queue: they are
//! few, and a command must be on record before its answer is shown. SQLite lets this
//! connection and a running `switchyard serve` write the same file in turn.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sqlx::{Row as _, SqlitePool};

use crate::error::Result;
use crate::open;

/// A state change an agent reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlEvent {
    /// Row id (0 before it is stored).
    #[serde(default)]
    pub id: i64,
    /// When the agent says it happened.
    pub at_unix_ms: i64,
    pub cluster: String,
    /// The agent's id.
    pub agent: String,
    /// `breaker`, `saga`, `route`, `fault`, `experiment` or `agent`.
    pub kind: String,
    /// The breaker, saga id, route, fault target, experiment or agent.
    pub name: String,
    pub from_state: Option<String>,
    pub to_state: Option<String>,
    /// Why (a breaker's `threshold`, `manual`…).
    pub reason: Option<String>,
    /// Who, for manual changes.
    pub by: Option<String>,
    /// The command's reason, for manual changes.
    pub note: Option<String>,
    /// Anything else, as JSON.
    pub detail: Option<serde_json::Value>,
}

/// What became of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The agent carried it out.
    Ok,
    /// The agent (or the way to it) answered with an error.
    Error,
    /// Refused by the console before sending (a view-only cluster).
    Refused,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Refused => "refused",
        }
    }

    fn parse(text: &str) -> Outcome {
        match text {
            "ok" => Outcome::Ok,
            "refused" => Outcome::Refused,
            _ => Outcome::Error,
        }
    }
}

/// A command the console sent, or refused to send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandRecord {
    /// Row id (0 before it is stored).
    #[serde(default)]
    pub id: i64,
    pub at_unix_ms: i64,
    pub cluster: String,
    /// The agent it went to, when one was chosen.
    pub agent: Option<String>,
    pub who: String,
    /// `trip`, `reset`, `retry_saga`, `set_weight`…
    pub action: String,
    /// The breaker, saga id or route.
    pub target: String,
    pub reason: String,
    /// The command's arguments, as JSON.
    pub args: Option<serde_json::Value>,
    pub outcome: Outcome,
    /// The error, when the outcome is not `ok`.
    pub error: Option<String>,
    /// The resulting state the agent answered with, as JSON.
    pub result: Option<serde_json::Value>,
    /// The closed loop's verdict, once the telemetry that followed was checked.
    pub verdict: Option<String>,
    pub verdict_at_unix_ms: Option<i64>,
    pub verdict_detail: Option<serde_json::Value>,
}

/// Which commands to list.
#[derive(Debug, Clone, Default)]
pub struct CommandQuery {
    pub cluster: Option<String>,
    pub target: Option<String>,
    /// From this time on (inclusive).
    pub since_unix_ms: Option<i64>,
    /// Only those still without a verdict.
    pub without_verdict: bool,
    /// At most this many, newest first (default 100).
    pub limit: Option<u32>,
}

/// Which events to list.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub cluster: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub since_unix_ms: Option<i64>,
    pub until_unix_ms: Option<i64>,
    /// At most this many, newest first (default 1000).
    pub limit: Option<u32>,
}

/// The console's records in one store file. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Records {
    pool: SqlitePool,
}

fn json(value: &Option<serde_json::Value>) -> Option<String> {
    value.as_ref().map(serde_json::Value::to_string)
}

fn parse_json(text: Option<String>) -> Option<serde_json::Value> {
    text.and_then(|t| serde_json::from_str(&t).ok())
}

impl Records {
    /// Opens the store file at `path` (creating it, and its schema, if needed).
    pub async fn open(path: impl AsRef<Path>) -> Result<Records> {
        let path = path.as_ref();
        let pool = open::records(path).await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Records { pool })
    }

    /// Stores `event`; returns its id.
    pub async fn add_event(&self, event: &ControlEvent) -> Result<i64> {
        let id = sqlx::query(
            "INSERT INTO control_events (at_unix_ms, cluster, agent, kind, name, from_state, \
             to_state, reason, by_whom, note, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(event.at_unix_ms)
        .bind(&event.cluster)
        .bind(&event.agent)
        .bind(&event.kind)
        .bind(&event.name)
        .bind(&event.from_state)
        .bind(&event.to_state)
        .bind(&event.reason)
        .bind(&event.by)
        .bind(&event.note)
        .bind(json(&event.detail))
        .execute(&self.pool)
        .await?
        .last_insert_rowid();
        Ok(id)
    }

    /// Events, newest first.
    pub async fn events(&self, query: &EventQuery) -> Result<Vec<ControlEvent>> {
        let rows = sqlx::query(
            "SELECT id, at_unix_ms, cluster, agent, kind, name, from_state, to_state, reason, \
             by_whom, note, detail FROM control_events \
             WHERE (?1 IS NULL OR cluster = ?1) AND (?2 IS NULL OR kind = ?2) \
             AND (?3 IS NULL OR name = ?3) AND (?4 IS NULL OR at_unix_ms >= ?4) \
             AND (?5 IS NULL OR at_unix_ms <= ?5) \
             ORDER BY at_unix_ms DESC, id DESC LIMIT ?6",
        )
        .bind(&query.cluster)
        .bind(&query.kind)
        .bind(&query.name)
        .bind(query.since_unix_ms)
        .bind(query.until_unix_ms)
        .bind(i64::from(query.limit.unwrap_or(1000)))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(ControlEvent {
                    id: row.try_get(0)?,
                    at_unix_ms: row.try_get(1)?,
                    cluster: row.try_get(2)?,
                    agent: row.try_get(3)?,
                    kind: row.try_get(4)?,
                    name: row.try_get(5)?,
                    from_state: row.try_get(6)?,
                    to_state: row.try_get(7)?,
                    reason: row.try_get(8)?,
                    by: row.try_get(9)?,
                    note: row.try_get(10)?,
                    detail: parse_json(row.try_get(11)?),
                })
            })
            .collect()
    }

    /// Stores `command`; returns its id.
    pub async fn add_command(&self, command: &CommandRecord) -> Result<i64> {
        let id = sqlx::query(
            "INSERT INTO commands (at_unix_ms, cluster, agent, who, action, target, reason, args, \
             outcome, error, result, verdict, verdict_at_unix_ms, verdict_detail) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(command.at_unix_ms)
        .bind(&command.cluster)
        .bind(&command.agent)
        .bind(&command.who)
        .bind(&command.action)
        .bind(&command.target)
        .bind(&command.reason)
        .bind(json(&command.args))
        .bind(command.outcome.as_str())
        .bind(&command.error)
        .bind(json(&command.result))
        .bind(&command.verdict)
        .bind(command.verdict_at_unix_ms)
        .bind(json(&command.verdict_detail))
        .execute(&self.pool)
        .await?
        .last_insert_rowid();
        Ok(id)
    }

    /// Records the closed loop's verdict on command `id`.
    pub async fn set_verdict(
        &self,
        id: i64,
        verdict: &str,
        at_unix_ms: i64,
        detail: &serde_json::Value,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE commands SET verdict = ?, verdict_at_unix_ms = ?, verdict_detail = ? \
             WHERE id = ?",
        )
        .bind(verdict)
        .bind(at_unix_ms)
        .bind(detail.to_string())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Commands, newest first.
    pub async fn commands(&self, query: &CommandQuery) -> Result<Vec<CommandRecord>> {
        let rows = sqlx::query(
            "SELECT id, at_unix_ms, cluster, agent, who, action, target, reason, args, outcome, \
             error, result, verdict, verdict_at_unix_ms, verdict_detail FROM commands \
             WHERE (?1 IS NULL OR cluster = ?1) AND (?2 IS NULL OR target = ?2) \
             AND (?3 IS NULL OR at_unix_ms >= ?3) AND (?4 = 0 OR verdict IS NULL) \
             ORDER BY at_unix_ms DESC, id DESC LIMIT ?5",
        )
        .bind(&query.cluster)
        .bind(&query.target)
        .bind(query.since_unix_ms)
        .bind(i64::from(query.without_verdict))
        .bind(i64::from(query.limit.unwrap_or(100)))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(CommandRecord {
                    id: row.try_get(0)?,
                    at_unix_ms: row.try_get(1)?,
                    cluster: row.try_get(2)?,
                    agent: row.try_get(3)?,
                    who: row.try_get(4)?,
                    action: row.try_get(5)?,
                    target: row.try_get(6)?,
                    reason: row.try_get(7)?,
                    args: parse_json(row.try_get(8)?),
                    outcome: Outcome::parse(row.try_get::<String, _>(9)?.as_str()),
                    error: row.try_get(10)?,
                    result: parse_json(row.try_get(11)?),
                    verdict: row.try_get(12)?,
                    verdict_at_unix_ms: row.try_get(13)?,
                    verdict_detail: parse_json(row.try_get(14)?),
                })
            })
            .collect()
    }

    /// Closes the connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
