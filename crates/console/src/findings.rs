//! Stuck detectors: things that will not get better by themselves, each a finding with
//! the one command that would move it on.
//!
//! - A saga that needs an operator (held after a failed step, or a compensation that
//!   failed past its budget): retry it, compensate it or resolve it.
//! - A saga with no progress for longer than its patience (running or compensating,
//!   no status change since): compensate it.
//! - A breaker open (or half open, or forced open) with no calls to probe it for a
//!   while: it cannot close by itself; reset it (release it, if forced).
//! - A projection lagging behind its events by more than the threshold.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use switchyard_conventions::{breaker as breaker_conv, eventing as eventing_conv};
use switchyard_store::attributes::Value as AttrValue;
use switchyard_store::records::{EventQuery, Records};
use switchyard_store::{Reader, StoreError};

use crate::clock::now_unix_ms;
use crate::clusters::command::Command;
use crate::clusters::live::LiveState;
use crate::counters::{attr, growth_since, latest_gauges};

/// Thresholds of the detectors.
#[derive(Debug, Clone)]
pub struct Thresholds {
    /// A running or compensating saga with no status change for this long is stuck.
    pub saga_quiet: Duration,
    /// An open breaker with no calls for this long cannot probe its way closed.
    pub breaker_quiet: Duration,
    /// Projection lag beyond this many seconds.
    pub projection_lag_seconds: f64,
    /// How far back saga statuses are read.
    pub look_back: Duration,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            saga_quiet: Duration::from_secs(300),
            breaker_quiet: Duration::from_secs(120),
            projection_lag_seconds: 30.0,
            look_back: Duration::from_secs(24 * 3600),
        }
    }
}

/// What kind of trouble.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    SagaNeedsOperator,
    SagaStuck,
    BreakerWithoutTraffic,
    ProjectionLagging,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub cluster: String,
    /// The saga id, breaker or projection.
    pub subject: String,
    /// What is wrong, in words.
    pub summary: String,
    /// Since when (Unix ms).
    pub since_unix_ms: i64,
    /// The command that moves it on, if there is one.
    pub action: Option<Command>,
}

/// Runs every detector; findings oldest first.
pub async fn detect(
    live: &LiveState,
    records: &Records,
    reader: Option<&Reader>,
    thresholds: &Thresholds,
) -> Result<Vec<Finding>, StoreError> {
    let now = now_unix_ms();
    let mut findings = sagas(records, thresholds, now).await?;
    if let Some(reader) = reader {
        findings.extend(breakers(live, reader, thresholds, now).await?);
        findings.extend(projections(reader, thresholds, now).await?);
    }
    findings.sort_by_key(|f| f.since_unix_ms);
    Ok(findings)
}

async fn sagas(
    records: &Records,
    thresholds: &Thresholds,
    now: i64,
) -> Result<Vec<Finding>, StoreError> {
    let events = records
        .events(&EventQuery {
            kind: Some("saga".into()),
            since_unix_ms: Some(now - thresholds.look_back.as_millis() as i64),
            limit: Some(50_000),
            ..EventQuery::default()
        })
        .await?;
    // Newest first: the first status seen per saga is its latest.
    let mut latest = BTreeMap::new();
    for event in events {
        latest
            .entry((event.cluster.clone(), event.name.clone()))
            .or_insert(event);
    }
    let quiet = thresholds.saga_quiet.as_millis() as i64;
    Ok(latest
        .into_values()
        .filter_map(|e| {
            let status = e.to_state.as_deref()?;
            let saga_name = e
                .detail
                .as_ref()
                .and_then(|d| d["saga_name"].as_str())
                .unwrap_or("saga")
                .to_owned();
            let failed_step = e
                .detail
                .as_ref()
                .and_then(|d| d["failed_step"].as_str())
                .map(str::to_owned);
            match status {
                "failed" => Some(Finding {
                    kind: FindingKind::SagaNeedsOperator,
                    summary: format!(
                        "{saga_name} {} is held for an operator{}",
                        e.name,
                        failed_step
                            .map(|s| format!(" (failed at {s})"))
                            .unwrap_or_default()
                    ),
                    action: Some(Command::RetrySaga {
                        saga_id: e.name.clone(),
                        input: None,
                    }),
                    cluster: e.cluster,
                    subject: e.name,
                    since_unix_ms: e.at_unix_ms,
                }),
                "running" | "compensating" if now - e.at_unix_ms > quiet => Some(Finding {
                    kind: FindingKind::SagaStuck,
                    summary: format!(
                        "{saga_name} {} has been {status} with no progress for {}",
                        e.name,
                        humantime::format_duration(Duration::from_secs(
                            ((now - e.at_unix_ms) / 1000) as u64
                        ))
                    ),
                    action: Some(Command::CompensateSaga {
                        saga_id: e.name.clone(),
                    }),
                    cluster: e.cluster,
                    subject: e.name,
                    since_unix_ms: e.at_unix_ms,
                }),
                _ => None,
            }
        })
        .collect())
}

async fn breakers(
    live: &LiveState,
    reader: &Reader,
    thresholds: &Thresholds,
    now: i64,
) -> Result<Vec<Finding>, StoreError> {
    let quiet = thresholds.breaker_quiet.as_millis() as i64;
    let mut findings = Vec::new();
    for breaker in live.breakers(None) {
        let forced = breaker.state == "forced_open";
        let open = matches!(breaker.state.as_str(), "open" | "half_open") || forced;
        if !open || now - breaker.since_unix_ms < quiet {
            continue;
        }
        let calls = growth_since(
            reader,
            breaker_conv::CALLS_METRIC,
            vec![attr(breaker_conv::NAME, &breaker.name)],
            now - quiet,
        )
        .await?;
        // Calls (even rejected ones) mean traffic that will probe it; no exported
        // point at all means the agent does not export here: nothing to say.
        if calls != Some(0.0) {
            continue;
        }
        findings.push(Finding {
            kind: FindingKind::BreakerWithoutTraffic,
            summary: format!(
                "breaker {} has been {} with no calls to probe it",
                breaker.name, breaker.state
            ),
            action: Some(if forced {
                Command::Release {
                    breaker: breaker.name.clone(),
                }
            } else {
                Command::Reset {
                    breaker: breaker.name.clone(),
                }
            }),
            cluster: breaker.cluster,
            subject: breaker.name,
            since_unix_ms: breaker.since_unix_ms,
        });
    }
    Ok(findings)
}

async fn projections(
    reader: &Reader,
    thresholds: &Thresholds,
    now: i64,
) -> Result<Vec<Finding>, StoreError> {
    let since = now - thresholds.breaker_quiet.as_millis() as i64;
    let gauges = latest_gauges(reader, eventing_conv::PROJECTION_LAG_SECONDS_METRIC, since).await?;
    Ok(gauges
        .into_iter()
        .filter(|(_, lag, _)| *lag > thresholds.projection_lag_seconds)
        .map(|(attributes, lag, at)| {
            let name = match attributes.get(eventing_conv::PROJECTION) {
                Some(AttrValue::String(name)) => name.clone(),
                _ => "projection".to_owned(),
            };
            Finding {
                kind: FindingKind::ProjectionLagging,
                cluster: String::new(),
                summary: format!("projection {name} is {lag:.0} s behind its events"),
                subject: name,
                since_unix_ms: at - (lag * 1000.0) as i64,
                action: None,
            }
        })
        .collect())
}
