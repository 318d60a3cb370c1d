//! A small but real in-memory agent: breakers with overrides and transitions, a
//! few sagas, weighted routes, and faults that make a service's breaker open.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use switchyard_control_api::proto::{self, state_change::Change};
use switchyard_control_api::time::{now_unix_ms, unix_ms};
use switchyard_control_api::{
    BackendError, BreakerAction, BreakerControl, Command, ControlBackend, FaultControl,
    JournalControl, RouteControl, SagaControl, SagaFilter, StateBus, StateSource, TtlTimers,
};
use switchyard_conventions::breaker::{BreakerState, TransitionReason};
use tokio::sync::broadcast;

type Result<T> = std::result::Result<T, BackendError>;

/// How long after a fault is injected the service's breaker reacts.
pub const REACTION: Duration = Duration::from_millis(150);
/// The error rate at which a service's breaker opens.
pub const OPENING_RATE: f64 = 0.5;

struct BreakerRec {
    service: String,
    automatic: BreakerState,
    manual: Option<proto::Override>,
    since: SystemTime,
}

impl BreakerRec {
    fn state(&self) -> BreakerState {
        self.manual
            .as_ref()
            .and_then(|m| m.state.parse().ok())
            .unwrap_or(self.automatic)
    }
}

struct SagaRec {
    summary: proto::SagaSummary,
    steps: Vec<String>,
    /// Steps that completed forward, in order.
    done: usize,
    log: Vec<proto::SagaLogEntry>,
}

struct State {
    breakers: BTreeMap<String, BreakerRec>,
    sagas: Vec<SagaRec>,
    routes: BTreeMap<String, proto::Route>,
    faults: BTreeMap<String, proto::Fault>,
    /// Each journal entry with the routes as they were before it (`None`: the first).
    journal: Vec<(proto::JournalEntry, Option<BTreeMap<String, proto::Route>>)>,
}

impl State {
    fn journal(
        &mut self,
        who: &str,
        source: &str,
        reverts_seq: u64,
        before: Option<BTreeMap<String, proto::Route>>,
    ) -> proto::JournalEntry {
        let mut diff = String::new();
        for (name, after) in &self.routes {
            if let Some(old) = before.as_ref().and_then(|b| b.get(name))
                && old.new_percent != after.new_percent
            {
                diff += &format!(
                    "route {name} weight {} → {}\n",
                    old.new_percent, after.new_percent
                );
            }
        }
        let entry = proto::JournalEntry {
            seq: self.journal.len() as u64 + 1,
            at_unix_ms: now_unix_ms(),
            who: who.to_owned(),
            source: source.to_owned(),
            reverts_seq,
            diff,
        };
        self.journal.push((entry.clone(), before));
        entry
    }
}

struct Inner {
    state: Mutex<State>,
    bus: StateBus,
    faults_enabled: bool,
    /// Calls of command methods: proves a refused request never got here.
    commands: AtomicUsize,
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn transition(
        &self,
        name: &str,
        from: BreakerState,
        to: BreakerState,
        reason: TransitionReason,
        cmd: Option<&Command>,
    ) {
        if from == to {
            return;
        }
        self.bus.emit(Change::Breaker(proto::BreakerTransition {
            name: name.to_owned(),
            from: from.to_string(),
            to: to.to_string(),
            reason: reason.to_string(),
            by: cmd.map(|c| c.by.clone()).unwrap_or_default(),
            note: cmd.map(|c| c.reason.clone()).unwrap_or_default(),
        }));
    }

    /// Automatic reaction to a service's fault: opens or closes its breakers.
    fn react(&self, service: &str, error_rate: f64) {
        let to = if error_rate >= OPENING_RATE {
            BreakerState::Open
        } else {
            BreakerState::Closed
        };
        let mut changed = Vec::new();
        {
            let mut st = self.lock();
            for (name, b) in st.breakers.iter_mut().filter(|(_, b)| b.service == service) {
                let before = b.state();
                b.automatic = to;
                b.since = SystemTime::now();
                changed.push((name.clone(), before, b.state()));
            }
        }
        for (name, from, to) in changed {
            self.transition(&name, from, to, TransitionReason::Threshold, None);
        }
    }
}

/// The in-memory agent.
#[derive(Clone)]
pub struct MemoryBackend {
    inner: Arc<Inner>,
    timers: TtlTimers,
}

impl std::fmt::Debug for MemoryBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryBackend")
    }
}

fn saga(id: &str, status: &str, steps: &[&str], done: usize, failed_step: &str) -> SagaRec {
    SagaRec {
        summary: proto::SagaSummary {
            id: id.to_owned(),
            name: "checkout".to_owned(),
            status: status.to_owned(),
            failed_step: failed_step.to_owned(),
            started_at_unix_ms: now_unix_ms(),
            updated_at_unix_ms: now_unix_ms(),
        },
        steps: steps.iter().map(|s| (*s).to_owned()).collect(),
        done,
        log: Vec::new(),
    }
}

impl MemoryBackend {
    /// Breakers `payments` and `inventory` (closed), sagas `s-1` (failed at
    /// `charge`) and `s-2` (completed), route `catalogue` (legacy → new, 10 %).
    pub fn new(faults_enabled: bool) -> Self {
        let bus = StateBus::new(256);
        let now = SystemTime::now();
        let breakers = ["payments", "inventory"]
            .into_iter()
            .map(|n| {
                (
                    n.to_owned(),
                    BreakerRec {
                        service: n.to_owned(),
                        automatic: BreakerState::Closed,
                        manual: None,
                        since: now,
                    },
                )
            })
            .collect();
        let steps = ["reserve", "charge", "ship"];
        let routes = [(
            "catalogue".to_owned(),
            proto::Route {
                name: "catalogue".to_owned(),
                primary_target: "legacy".to_owned(),
                new_target: "new".to_owned(),
                new_percent: 10,
                shadow_percent: 0,
                counters: Some(proto::RouteCounters::default()),
            },
        )]
        .into();
        let mut state = State {
            breakers,
            sagas: vec![
                saga("s-1", "failed", &steps, 1, "charge"),
                saga("s-2", "completed", &steps, 3, ""),
            ],
            routes,
            faults: BTreeMap::new(),
            journal: Vec::new(),
        };
        state.journal("local", "file agent.toml", 0, None);
        MemoryBackend {
            inner: Arc::new(Inner {
                state: Mutex::new(state),
                bus: bus.clone(),
                faults_enabled,
                commands: AtomicUsize::new(0),
            }),
            timers: TtlTimers::new(bus),
        }
    }

    /// How many command methods were called.
    pub fn commands(&self) -> usize {
        self.inner.commands.load(Ordering::SeqCst)
    }

    fn count(&self) {
        self.inner.commands.fetch_add(1, Ordering::SeqCst);
    }

    fn breaker_view(name: &str, b: &BreakerRec) -> proto::Breaker {
        proto::Breaker {
            name: name.to_owned(),
            service: b.service.clone(),
            state: b.state().to_string(),
            automatic_state: b.automatic.to_string(),
            failure_rate: if b.automatic == BreakerState::Open {
                80.0
            } else {
                0.0
            },
            slow_call_rate: 0.0,
            window_calls: 0,
            since_unix_ms: unix_ms(b.since),
            manual: b.manual.clone(),
        }
    }

    fn saga_detail(rec: &SagaRec) -> proto::SagaDetail {
        let steps = rec
            .steps
            .iter()
            .enumerate()
            .map(|(i, name)| proto::SagaStep {
                name: name.clone(),
                index: u32::try_from(i).unwrap_or(u32::MAX),
                forward: if i < rec.done { "succeeded" } else { "pending" }.to_owned(),
                ..proto::SagaStep::default()
            })
            .collect();
        proto::SagaDetail {
            saga: Some(rec.summary.clone()),
            steps,
            log: rec.log.clone(),
        }
    }

    /// Applies `change` to saga `id` and publishes its new status.
    fn saga_command(
        &self,
        id: &str,
        kind: &str,
        data: serde_json::Value,
        cmd: &Command,
        change: impl FnOnce(&mut SagaRec) -> Result<()>,
    ) -> Result<proto::SagaDetail> {
        self.count();
        let (detail, event) = {
            let mut st = self.inner.lock();
            let rec = st
                .sagas
                .iter_mut()
                .find(|s| s.summary.id == id)
                .ok_or_else(|| BackendError::not_found("saga", id))?;
            change(rec)?;
            rec.summary.updated_at_unix_ms = now_unix_ms();
            let seq = i64::try_from(rec.log.len()).unwrap_or(i64::MAX) + 1;
            rec.log.push(proto::SagaLogEntry {
                seq,
                at_unix_ms: now_unix_ms(),
                kind: kind.to_owned(),
                data_json: data.to_string(),
                actor: cmd.by.clone(),
                reason: cmd.reason.clone(),
                ..proto::SagaLogEntry::default()
            });
            let s = &rec.summary;
            let event = proto::SagaStatusChange {
                id: s.id.clone(),
                name: s.name.clone(),
                status: s.status.clone(),
                failed_step: s.failed_step.clone(),
            };
            (Self::saga_detail(rec), event)
        };
        self.inner.bus.emit(Change::Saga(event));
        Ok(detail)
    }

    fn route_command(
        &self,
        route: &str,
        cmd: Command,
        change: impl FnOnce(&mut proto::Route),
    ) -> Result<proto::Route> {
        self.count();
        let (updated, entry) = {
            let mut st = self.inner.lock();
            let before = st.routes.clone();
            let r = st
                .routes
                .get_mut(route)
                .ok_or_else(|| BackendError::not_found("route", route))?;
            change(r);
            let updated = r.clone();
            (updated, st.journal(&cmd.by, "api", 0, Some(before)))
        };
        self.inner.bus.emit(Change::Route(proto::RouteChange {
            route: Some(updated.clone()),
            by: cmd.by,
            note: cmd.reason,
        }));
        self.inner
            .bus
            .emit(Change::Config(proto::ConfigChange { entry: Some(entry) }));
        Ok(updated)
    }
}

#[async_trait]
impl BreakerControl for MemoryBackend {
    async fn breakers(&self) -> Result<Vec<proto::Breaker>> {
        let st = self.inner.lock();
        Ok(st
            .breakers
            .iter()
            .map(|(n, b)| Self::breaker_view(n, b))
            .collect())
    }

    async fn breaker_command(
        &self,
        name: &str,
        action: BreakerAction,
        command: Command,
    ) -> Result<proto::Breaker> {
        self.count();
        let (from, view) = {
            let mut st = self.inner.lock();
            let b = st
                .breakers
                .get_mut(name)
                .ok_or_else(|| BackendError::not_found("breaker", name))?;
            let from = b.state();
            let manual_state = match action {
                BreakerAction::Trip => Some(BreakerState::ForcedOpen),
                BreakerAction::Disable => Some(BreakerState::Disabled),
                BreakerAction::Reset | BreakerAction::Release => None,
            };
            b.manual = manual_state.map(|state| proto::Override {
                state: state.to_string(),
                by: command.by.clone(),
                reason: command.reason.clone(),
                set_at_unix_ms: now_unix_ms(),
                expires_at_unix_ms: command.ttl.map(|ttl| unix_ms(SystemTime::now() + ttl)),
            });
            if action == BreakerAction::Reset {
                b.automatic = BreakerState::Closed;
            }
            if b.state() != from {
                b.since = SystemTime::now();
            }
            (from, Self::breaker_view(name, b))
        };
        match command.ttl {
            Some(ttl) if matches!(action, BreakerAction::Trip | BreakerAction::Disable) => {
                let inner = Arc::clone(&self.inner);
                let key = name.to_owned();
                self.timers.schedule(name, ttl, move || async move {
                    let mut st = inner.lock();
                    let b = st.breakers.get_mut(&key)?;
                    let from = b.state();
                    b.manual = None;
                    b.since = SystemTime::now();
                    Some(Change::Breaker(proto::BreakerTransition {
                        name: key,
                        from: from.to_string(),
                        to: b.state().to_string(),
                        reason: TransitionReason::Expired.to_string(),
                        ..proto::BreakerTransition::default()
                    }))
                });
            }
            _ => {
                self.timers.cancel(name);
            }
        }
        let to: BreakerState = view
            .state
            .parse()
            .map_err(|_| BackendError::Internal("state".into()))?;
        self.inner
            .transition(name, from, to, TransitionReason::Manual, Some(&command));
        Ok(view)
    }
}

#[async_trait]
impl SagaControl for MemoryBackend {
    async fn saga_definitions(&self) -> Result<Vec<proto::SagaDefinition>> {
        let steps = ["reserve", "charge", "ship"]
            .into_iter()
            .map(|s| proto::SagaStepDefinition {
                name: s.to_owned(),
                compensable: true,
            })
            .collect();
        Ok(vec![proto::SagaDefinition {
            name: "checkout".to_owned(),
            steps,
        }])
    }

    async fn saga_counts(&self) -> Result<Vec<proto::SagaCount>> {
        let st = self.inner.lock();
        let mut counts: BTreeMap<(String, String), u64> = BTreeMap::new();
        for s in &st.sagas {
            *counts
                .entry((s.summary.name.clone(), s.summary.status.clone()))
                .or_default() += 1;
        }
        Ok(counts
            .into_iter()
            .map(|((name, status), count)| proto::SagaCount {
                name,
                status,
                count,
            })
            .collect())
    }

    async fn list_sagas(&self, filter: SagaFilter) -> Result<Vec<proto::SagaSummary>> {
        let st = self.inner.lock();
        Ok(st
            .sagas
            .iter()
            .rev()
            .map(|s| &s.summary)
            .filter(|s| filter.status.as_ref().is_none_or(|v| &s.status == v))
            .filter(|s| filter.name.as_ref().is_none_or(|v| &s.name == v))
            .take(filter.limit)
            .cloned()
            .collect())
    }

    async fn get_saga(&self, id: &str) -> Result<proto::SagaDetail> {
        let st = self.inner.lock();
        st.sagas
            .iter()
            .find(|s| s.summary.id == id)
            .map(Self::saga_detail)
            .ok_or_else(|| BackendError::not_found("saga", id))
    }

    async fn retry_saga(
        &self,
        id: &str,
        step_input: Option<serde_json::Value>,
        command: Command,
    ) -> Result<proto::SagaDetail> {
        let data = serde_json::json!({ "step_input": step_input });
        self.saga_command(id, "retry_requested", data, &command, |rec| {
            if rec.summary.status != "failed" {
                return Err(BackendError::NotAllowed(format!(
                    "saga {id} is {}, only failed sagas can be retried",
                    rec.summary.status
                )));
            }
            rec.summary.status = "running".to_owned();
            rec.summary.failed_step.clear();
            Ok(())
        })
    }

    async fn compensate_saga(&self, id: &str, command: Command) -> Result<proto::SagaDetail> {
        self.saga_command(
            id,
            "compensate_requested",
            serde_json::Value::Null,
            &command,
            |rec| {
                if rec.summary.status == "compensated" {
                    return Ok(()); // idempotent
                }
                rec.summary.status = "compensated".to_owned();
                rec.done = 0;
                Ok(())
            },
        )
    }

    async fn resolve_saga(
        &self,
        id: &str,
        comment: &str,
        command: Command,
    ) -> Result<proto::SagaDetail> {
        let data = serde_json::json!({ "comment": comment });
        self.saga_command(id, "resolved", data, &command, |rec| {
            match rec.summary.status.as_str() {
                "resolved" => Ok(()),
                "failed" => {
                    rec.summary.status = "resolved".to_owned();
                    Ok(())
                }
                other => Err(BackendError::NotAllowed(format!(
                    "saga {id} is {other}, only failed sagas can be resolved"
                ))),
            }
        })
    }

    async fn preview_compensation(&self, id: &str) -> Result<Vec<String>> {
        let st = self.inner.lock();
        let rec = st
            .sagas
            .iter()
            .find(|s| s.summary.id == id)
            .ok_or_else(|| BackendError::not_found("saga", id))?;
        Ok(rec.steps[..rec.done].iter().rev().cloned().collect())
    }
}

#[async_trait]
impl RouteControl for MemoryBackend {
    async fn routes(&self) -> Result<Vec<proto::Route>> {
        Ok(self.inner.lock().routes.values().cloned().collect())
    }

    async fn set_route_weight(
        &self,
        route: &str,
        percent: u32,
        command: Command,
    ) -> Result<proto::Route> {
        self.route_command(route, command, |r| r.new_percent = percent)
    }

    async fn set_shadow(
        &self,
        route: &str,
        percent: u32,
        command: Command,
    ) -> Result<proto::Route> {
        self.route_command(route, command, |r| r.shadow_percent = percent)
    }
}

#[async_trait]
impl JournalControl for MemoryBackend {
    async fn journal(&self) -> Result<Vec<proto::JournalEntry>> {
        Ok(self
            .inner
            .lock()
            .journal
            .iter()
            .map(|(e, _)| e.clone())
            .collect())
    }

    async fn revert_journal(&self, seq: u64, command: Command) -> Result<proto::JournalEntry> {
        self.count();
        let entry = {
            let mut st = self.inner.lock();
            let (_, before) = st
                .journal
                .iter()
                .find(|(e, _)| e.seq == seq)
                .ok_or_else(|| BackendError::not_found("journal entry", format!("#{seq}")))?;
            let routes = before.clone().ok_or_else(|| {
                BackendError::NotAllowed(format!("journal entry #{seq} is the first configuration"))
            })?;
            let now = std::mem::replace(&mut st.routes, routes);
            st.journal(&command.by, &format!("revert of #{seq}"), seq, Some(now))
        };
        self.inner.bus.emit(Change::Config(proto::ConfigChange {
            entry: Some(entry.clone()),
        }));
        Ok(entry)
    }
}

#[async_trait]
impl FaultControl for MemoryBackend {
    fn faults_enabled(&self) -> bool {
        self.inner.faults_enabled
    }

    async fn faults(&self) -> Result<Vec<proto::Fault>> {
        Ok(self.inner.lock().faults.values().cloned().collect())
    }

    async fn set_fault(&self, fault: proto::Fault, command: Command) -> Result<proto::Fault> {
        self.count();
        {
            let mut st = self.inner.lock();
            if !st.breakers.values().any(|b| b.service == fault.service) {
                return Err(BackendError::not_found("service", fault.service.clone()));
            }
            st.faults.insert(fault.service.clone(), fault.clone());
        }
        self.inner.bus.emit(Change::Fault(proto::FaultChange {
            fault: Some(fault.clone()),
            by: command.by,
            note: command.reason,
        }));
        // The service's breaker reacts a little later, as a real one would.
        let inner = Arc::clone(&self.inner);
        let (service, rate) = (fault.service.clone(), fault.error_rate);
        tokio::spawn(async move {
            tokio::time::sleep(REACTION).await;
            inner.react(&service, rate);
        });
        Ok(fault)
    }
}

impl StateSource for MemoryBackend {
    fn subscribe(&self) -> broadcast::Receiver<proto::StateChange> {
        self.inner.bus.subscribe()
    }

    fn publish(&self, change: proto::StateChange) {
        self.inner.bus.publish(change);
    }
}

#[async_trait]
impl ControlBackend for MemoryBackend {
    fn identity(&self) -> proto::Identity {
        proto::Identity {
            agent_id: "test-agent".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            started_at_unix_ms: 1,
        }
    }

    async fn services(&self) -> Result<Vec<proto::Service>> {
        Ok(["payments", "inventory"]
            .into_iter()
            .map(|n| proto::Service {
                name: n.to_owned(),
                kind: "demo".to_owned(),
                address: "127.0.0.1:0".to_owned(),
            })
            .collect())
    }
}
