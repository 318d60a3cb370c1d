//! The closed loop: every command is checked against the telemetry and state changes
//! that follow it, and the verdict is kept beside the command.
//!
//! - trip: the breaker rejected calls afterwards (`breaker.calls`, outcome `rejected`)
//!   → `confirmed`; forced open but no call came to reject → `no_traffic`.
//! - disable, reset, release: calls went through afterwards and the breaker did not
//!   open again → `confirmed`; it opened again → `reopened`.
//! - retry / compensate a saga: the agent reported it completed / compensated →
//!   `confirmed`; it failed or compensated instead of completing → `failed_again`.
//! - set weight: the route sent requests to the side that gained weight → `confirmed`.
//! - resolve, shadow, faults: the agent's answer is the whole effect → `confirmed`.
//!
//! A command with nothing to show for it after [`PATIENCE`] gets `no_telemetry`.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_conventions::{breaker as breaker_conv, route as route_conv};
use switchyard_store::records::{CommandQuery, CommandRecord, EventQuery, Outcome, Records};
use switchyard_store::{MetricQuery, Reader, StoreError};
use tokio::task::JoinHandle;

use crate::clock::now_unix_ms;
use crate::clusters::LiveState;
use crate::clusters::views::LiveEvent;
use crate::counters::{self, attr};

/// How long a command's effect may take to show before the verdict is `no_telemetry`
/// (agents export metrics every few seconds).
pub const PATIENCE: Duration = Duration::from_secs(120);
/// Commands older than this are not looked at again.
const LOOK_BACK: Duration = Duration::from_secs(3600);

/// A verdict on one command.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub verdict: &'static str,
    pub detail: Value,
}

impl Verdict {
    fn new(verdict: &'static str, detail: Value) -> Option<Verdict> {
        Some(Verdict { verdict, detail })
    }
}

/// Checks commands without a verdict against the store.
#[derive(Debug, Clone)]
pub struct ClosedLoop {
    records: Records,
    reader: Reader,
}

impl ClosedLoop {
    pub fn new(records: Records, reader: Reader) -> ClosedLoop {
        ClosedLoop { records, reader }
    }

    /// Looks at every pending command once; records and returns the verdicts reached.
    pub async fn check_pending(&self) -> Result<Vec<(CommandRecord, Verdict)>, StoreError> {
        let now = now_unix_ms();
        let pending = self
            .records
            .commands(&CommandQuery {
                without_verdict: true,
                since_unix_ms: Some(now - LOOK_BACK.as_millis() as i64),
                limit: Some(500),
                ..CommandQuery::default()
            })
            .await?;
        let mut reached = Vec::new();
        for command in pending.into_iter().filter(|c| c.outcome == Outcome::Ok) {
            let verdict = match self.judge(&command).await? {
                Some(verdict) => verdict,
                None if now - command.at_unix_ms > PATIENCE.as_millis() as i64 => Verdict {
                    verdict: "no_telemetry",
                    detail: json!({"waited_ms": now - command.at_unix_ms}),
                },
                None => continue,
            };
            self.records
                .set_verdict(command.id, verdict.verdict, now, &verdict.detail)
                .await?;
            reached.push((command, verdict));
        }
        Ok(reached)
    }

    /// Checks pending commands every `every` until aborted, publishing verdicts.
    pub fn spawn(self, live: LiveState, every: Duration) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                match self.check_pending().await {
                    Ok(reached) => {
                        for (mut command, verdict) in reached {
                            command.verdict = Some(verdict.verdict.to_owned());
                            command.verdict_detail = Some(verdict.detail);
                            live.publish(LiveEvent::Command(command));
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "closed loop: cannot read the store"),
                }
            }
        })
    }

    /// The verdict on `command` if the telemetry decides it yet.
    pub async fn judge(&self, command: &CommandRecord) -> Result<Option<Verdict>, StoreError> {
        let at = command.at_unix_ms;
        let target = command.target.as_str();
        Ok(match command.action.as_str() {
            "trip" => {
                let rejected = self
                    .calls_since(target, "rejected", at)
                    .await?
                    .unwrap_or(0.0);
                if rejected > 0.0 {
                    Verdict::new("confirmed", json!({"rejected_calls": rejected}))
                } else if self.exported_since(target, at, 2).await? {
                    // Its agent kept exporting, and no call came to be rejected.
                    Verdict::new("no_traffic", json!({"rejected_calls": 0}))
                } else {
                    None
                }
            }
            "disable" | "reset" | "release" => {
                if let Some(to) = self.reopened_since(&command.cluster, target, at).await? {
                    Verdict::new("reopened", json!({"state": to}))
                } else {
                    let passed = self.calls_since(target, "success", at).await?;
                    match passed {
                        Some(p) if p > 0.0 => {
                            Verdict::new("confirmed", json!({"successful_calls": p}))
                        }
                        _ => None,
                    }
                }
            }
            "retry_saga" | "compensate_saga" => {
                let wanted = if command.action == "retry_saga" {
                    "completed"
                } else {
                    "compensated"
                };
                let events = self
                    .records
                    .events(&EventQuery {
                        cluster: Some(command.cluster.clone()),
                        kind: Some("saga".into()),
                        name: Some(target.to_owned()),
                        since_unix_ms: Some(at),
                        ..EventQuery::default()
                    })
                    .await?;
                let ended = events.iter().rev().find_map(|e| {
                    let status = e.to_state.as_deref()?;
                    matches!(status, "completed" | "compensated" | "failed").then_some(status)
                });
                match ended {
                    Some(status) if status == wanted => {
                        Verdict::new("confirmed", json!({"status": status}))
                    }
                    Some(status) => Verdict::new("failed_again", json!({"status": status})),
                    None => None,
                }
            }
            "set_weight" => {
                let percent = command
                    .args
                    .as_ref()
                    .and_then(|a| a["new_percent"].as_u64())
                    .unwrap_or(0);
                let side = if percent > 0 { "new" } else { "legacy" };
                let requests = self.route_requests_since(target, side, at).await?;
                match requests {
                    Some(n) if n > 0.0 => {
                        Verdict::new("confirmed", json!({"side": side, "requests": n}))
                    }
                    _ => None,
                }
            }
            _ => Verdict::new("confirmed", json!({"by": "the agent's answer"})),
        })
    }

    async fn calls_since(
        &self,
        breaker: &str,
        outcome: &str,
        at: i64,
    ) -> Result<Option<f64>, StoreError> {
        counters::growth_since(
            &self.reader,
            breaker_conv::CALLS_METRIC,
            vec![
                attr(breaker_conv::NAME, breaker),
                attr(breaker_conv::OUTCOME, outcome),
            ],
            at,
        )
        .await
    }

    /// Whether the breaker's state gauge was exported at least `times` times after
    /// `at`: its agent is exporting, so silence about calls means no calls.
    async fn exported_since(&self, breaker: &str, at: i64, times: u64) -> Result<bool, StoreError> {
        let series = self
            .reader
            .metric_series(&MetricQuery {
                name: breaker_conv::STATE_METRIC.to_owned(),
                attributes: vec![attr(breaker_conv::NAME, breaker)],
                service: None,
                since_unix_nano: at * 1_000_000,
                until_unix_nano: (now_unix_ms() + 60_000) * 1_000_000,
                buckets: 60,
            })
            .await?;
        let samples: u64 = series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.samples))
            .sum();
        Ok(samples >= times)
    }

    /// The state the breaker opened into after `at`, from its agent's transitions.
    async fn reopened_since(
        &self,
        cluster: &str,
        breaker: &str,
        at: i64,
    ) -> Result<Option<String>, StoreError> {
        let events = self
            .records
            .events(&EventQuery {
                cluster: Some(cluster.to_owned()),
                kind: Some("breaker".into()),
                name: Some(breaker.to_owned()),
                since_unix_ms: Some(at),
                ..EventQuery::default()
            })
            .await?;
        // Only transitions the automatic machine made: an operator's later trip is a
        // command of its own.
        Ok(events
            .into_iter()
            .find(|e| {
                e.to_state.as_deref() == Some("open") && e.reason.as_deref() != Some("manual")
            })
            .and_then(|e| e.to_state))
    }

    async fn route_requests_since(
        &self,
        route: &str,
        side: &str,
        at: i64,
    ) -> Result<Option<f64>, StoreError> {
        counters::growth_since(
            &self.reader,
            route_conv::REQUESTS_METRIC,
            vec![
                attr(route_conv::NAME, route),
                attr(route_conv::TARGET, side),
            ],
            at,
        )
        .await
    }
}
