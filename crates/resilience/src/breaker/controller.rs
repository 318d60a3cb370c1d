//! The controller: the breaker's policy, in the style of linkerd2-proxy's
//! `consecutive_failures.rs`. It owns every transition and runs under the breaker's
//! lock, which is never held across an await; the hot path only reads what it
//! publishes to the gate.

use std::time::{Duration, SystemTime};

use switchyard_conventions::breaker::{BreakerState, TransitionReason};

use super::Shared;
use super::config::HalfOpenTransition;
use super::gate::{Mode, NEVER};
use super::state::{Auto, CallTotals, Command, ManualState, Override, Snapshot, Transition};
use super::window::{FAILURE, SLOW, Window, percent};

/// What a permit lets its call do with its outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Recorded in the closed state's window.
    Window,
    /// A half-open probe: decides the next state.
    Probe,
    /// Counted in the totals only (disabled, or let through by observe-only).
    Unrecorded,
}

/// What made the controller look at the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trigger {
    /// A call asked to go through: every timed transition may happen.
    Call,
    /// A timer, snapshot or command: open moves to half-open only when that is automatic.
    Passive,
}

/// Nanoseconds in `d`, saturating.
pub(crate) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[derive(Debug)]
pub(crate) struct Controller {
    auto: Auto,
    manual: Option<ManualState>,
    window: Window,
    /// Consecutive rounds of probes that failed; grows the open wait.
    failed_rounds: u32,
    generation: u32,
    mode: Mode,
    /// What was last published: generation, mode, deadline, bucket end.
    published: (u32, Mode, u64, u64),
    /// When the state in force was entered (ns since the epoch, and wall clock).
    since: u64,
    since_wall: SystemTime,
    success: u64,
    failure: u64,
    slow: u64,
    /// The deadline a timer task is already waiting for.
    timer_at: u64,
}

impl Controller {
    pub(crate) fn new(window: Window, mode: Mode) -> Self {
        Controller {
            auto: Auto::Closed,
            manual: None,
            window,
            failed_rounds: 0,
            generation: 0,
            mode,
            published: (0, mode, NEVER, NEVER),
            since: 0,
            since_wall: SystemTime::now(),
            success: 0,
            failure: 0,
            slow: 0,
            timer_at: NEVER,
        }
    }

    /// The state in force.
    pub(crate) fn effective(&self) -> BreakerState {
        self.manual.as_ref().map_or(self.auto.state(), |m| m.state)
    }

    fn observing(&self) -> bool {
        matches!(&self.manual, Some(m) if m.state == BreakerState::ObserveOnly)
    }

    /// Forced open and disabled stop the automatic state machine where it is.
    fn frozen(&self) -> bool {
        matches!(&self.manual, Some(m) if m.state != BreakerState::ObserveOnly)
    }

    // ---- calls ----

    /// Admits a call that the gate sent here, or says which state rejected it.
    pub(crate) fn acquire(&mut self, sh: &Shared, now: u64) -> Result<(u32, Kind), BreakerState> {
        self.tick(sh, now, Trigger::Call);
        let observing = self.observing();
        let kind = match (self.manual.as_ref().map(|m| m.state), &mut self.auto) {
            (Some(BreakerState::ForcedOpen), _) => Err(BreakerState::ForcedOpen),
            (Some(BreakerState::Disabled), _) => Ok(Kind::Unrecorded),
            (_, Auto::Closed) => Ok(Kind::Window),
            (_, Auto::Open { .. }) => Err(BreakerState::Open),
            (_, Auto::HalfOpen { granted, .. }) => {
                if *granted < sh.config.permitted_probes {
                    *granted += 1;
                    Ok(Kind::Probe)
                } else {
                    Err(BreakerState::HalfOpen)
                }
            }
        };
        match kind {
            Ok(kind) => Ok((self.generation, kind)),
            Err(_) if observing => {
                sh.gate.count_would_reject();
                Ok((self.generation, Kind::Unrecorded))
            }
            Err(state) => {
                sh.gate.count_rejected();
                Err(state)
            }
        }
    }

    /// Records the outcome of a call admitted in `generation`.
    pub(crate) fn record(&mut self, sh: &Shared, generation: u32, kind: Kind, bits: u8, now: u64) {
        self.flush(sh);
        if bits & FAILURE != 0 {
            self.failure += 1;
        } else if bits & SLOW != 0 {
            self.slow += 1;
        } else {
            self.success += 1;
        }
        if generation != self.generation {
            // Admitted before a transition: it says nothing about the state we are in now.
            return;
        }
        match kind {
            Kind::Window => {
                self.window.advance(now);
                self.window.push(bits, 1);
                if !self.evaluate(sh, now) {
                    self.publish(sh);
                }
            }
            Kind::Probe => {
                let permitted = sh.config.permitted_probes;
                let Auto::HalfOpen {
                    done,
                    failures,
                    slow,
                    ..
                } = &mut self.auto
                else {
                    return;
                };
                *done += 1;
                *failures += u32::from(bits & FAILURE != 0);
                *slow += u32::from(bits & SLOW != 0);
                if *done >= permitted {
                    let (done, failures, slow) = (*done, *failures, *slow);
                    if self.over_threshold(
                        sh,
                        u64::from(failures),
                        u64::from(slow),
                        u64::from(done),
                    ) {
                        self.failed_rounds = self.failed_rounds.saturating_add(1);
                        let until =
                            now.saturating_add(nanos(sh.config.open_wait(self.failed_rounds)));
                        self.set_auto(sh, now, Auto::Open { until }, TransitionReason::Probe);
                    } else {
                        self.failed_rounds = 0;
                        self.set_auto(sh, now, Auto::Closed, TransitionReason::Probe);
                    }
                }
            }
            Kind::Unrecorded => {}
        }
    }

    /// A probe's call was dropped before it finished: its place goes to the next caller.
    pub(crate) fn cancel_probe(&mut self, generation: u32) {
        if generation == self.generation
            && let Auto::HalfOpen { granted, .. } = &mut self.auto
        {
            *granted = granted.saturating_sub(1);
        }
    }

    fn over_threshold(&self, sh: &Shared, failures: u64, slow: u64, calls: u64) -> bool {
        let config = &sh.config;
        percent(failures, calls) >= config.failure_rate_threshold
            || (config.slow_call_duration.is_some()
                && percent(slow, calls) >= config.slow_call_rate_threshold)
    }

    /// Opens the breaker if the closed window crossed a threshold.
    fn evaluate(&mut self, sh: &Shared, now: u64) -> bool {
        let counts = self.window.counts();
        if counts.calls >= sh.config.effective_minimum_calls()
            && self.over_threshold(sh, counts.failures, counts.slow, counts.calls)
        {
            let until = now.saturating_add(nanos(sh.config.open_wait(self.failed_rounds)));
            self.set_auto(sh, now, Auto::Open { until }, TransitionReason::Threshold);
            true
        } else {
            false
        }
    }

    /// Takes the successes waiting in the gate's stripes.
    pub(crate) fn flush(&mut self, sh: &Shared) {
        let n = sh.gate.drain(
            self.generation,
            self.generation,
            self.mode.batches_successes(),
        );
        self.apply_successes(n);
    }

    fn apply_successes(&mut self, n: u64) {
        if n == 0 {
            return;
        }
        self.success += n;
        if matches!(self.mode, Mode::Closed | Mode::ClosedExact) {
            self.window.push(0, n);
        }
    }

    /// Starts a new generation, settling the old one's successes first.
    fn bump(&mut self, sh: &Shared) {
        let next = self.generation.wrapping_add(1);
        // Blocked until `publish` says how the new state counts.
        let n = sh.gate.drain(self.generation, next, false);
        self.apply_successes(n);
        self.generation = next;
    }

    // ---- time ----

    /// Applies every timed transition that is due at `now`.
    pub(crate) fn tick(&mut self, sh: &Shared, now: u64, trigger: Trigger) {
        // Each step moves a deadline past `now` (waits are at least 1 ms), so a few suffice.
        for _ in 0..8 {
            if let Some(ManualState {
                expires_at: Some(at),
                ..
            }) = &self.manual
                && now >= *at
            {
                self.clear_manual(sh, now, TransitionReason::Expired, None, None);
                continue;
            }
            if self.frozen() {
                return;
            }
            match self.auto {
                Auto::Open { until }
                    if now >= until
                        && (trigger == Trigger::Call
                            || sh.config.half_open_transition == HalfOpenTransition::Automatic) =>
                {
                    self.set_auto(sh, now, Auto::half_open(now), TransitionReason::Timeout);
                }
                Auto::HalfOpen { since, .. }
                    if sh
                        .config
                        .max_wait_in_half_open
                        .is_some_and(|w| now >= since.saturating_add(nanos(w))) =>
                {
                    // The probes did not answer in time: as bad as failing.
                    self.failed_rounds = self.failed_rounds.saturating_add(1);
                    let until = now.saturating_add(nanos(sh.config.open_wait(self.failed_rounds)));
                    self.set_auto(sh, now, Auto::Open { until }, TransitionReason::Timeout);
                }
                _ => return,
            }
        }
    }

    // ---- transitions ----

    fn set_auto(&mut self, sh: &Shared, now: u64, next: Auto, reason: TransitionReason) {
        let from_auto = self.auto.state();
        let from = self.effective();
        self.bump(sh);
        self.auto = next;
        if next == Auto::Closed {
            self.window.clear();
        }
        let to = self.effective();
        if from != to {
            self.entered(sh, now, from, to, reason, None, None);
        } else if self.observing() && from_auto != next.state() {
            let t = self.transition(sh, from_auto, next.state(), reason, true, None, None);
            sh.emit(t);
        }
        self.publish(sh);
    }

    pub(crate) fn set_manual(
        &mut self,
        sh: &Shared,
        now: u64,
        state: BreakerState,
        command: Command,
    ) {
        let from = self.effective();
        self.bump(sh);
        self.manual = Some(ManualState {
            state,
            by: command.by.clone(),
            reason: command.reason.clone(),
            set_at: SystemTime::now(),
            expires_at: command.ttl.map(|ttl| now.saturating_add(nanos(ttl))),
        });
        if from != state {
            self.entered(
                sh,
                now,
                from,
                state,
                TransitionReason::Manual,
                Some(command.by),
                Some(command.reason),
            );
        }
        self.publish(sh);
        self.tick(sh, now, Trigger::Passive);
    }

    /// Back to automatic from a manual state.
    pub(crate) fn release(&mut self, sh: &Shared, now: u64, by: String, note: String) {
        if self.manual.is_some() {
            self.clear_manual(sh, now, TransitionReason::Manual, Some(by), Some(note));
            self.tick(sh, now, Trigger::Passive);
        }
    }

    fn clear_manual(
        &mut self,
        sh: &Shared,
        now: u64,
        reason: TransitionReason,
        by: Option<String>,
        note: Option<String>,
    ) {
        let from = self.effective();
        self.bump(sh);
        self.manual = None;
        let to = self.effective();
        if from != to {
            self.entered(sh, now, from, to, reason, by, note);
        }
        self.publish(sh);
    }

    /// Closes the breaker, clears its window and forgets any override.
    pub(crate) fn reset(&mut self, sh: &Shared, now: u64, by: String, note: String) {
        let from = self.effective();
        self.bump(sh);
        self.manual = None;
        self.auto = Auto::Closed;
        self.window.clear();
        self.failed_rounds = 0;
        if from != BreakerState::Closed {
            self.entered(
                sh,
                now,
                from,
                BreakerState::Closed,
                TransitionReason::Manual,
                Some(by),
                Some(note),
            );
        }
        self.publish(sh);
    }

    #[allow(clippy::too_many_arguments)] // a transition is these seven facts; a struct would only rename them
    fn entered(
        &mut self,
        sh: &Shared,
        now: u64,
        from: BreakerState,
        to: BreakerState,
        reason: TransitionReason,
        by: Option<String>,
        note: Option<String>,
    ) {
        self.since = now;
        self.since_wall = SystemTime::now();
        let t = self.transition(sh, from, to, reason, false, by, note);
        sh.emit(t);
    }

    #[allow(clippy::too_many_arguments)] // as above
    fn transition(
        &self,
        sh: &Shared,
        from: BreakerState,
        to: BreakerState,
        reason: TransitionReason,
        dry_run: bool,
        by: Option<String>,
        note: Option<String>,
    ) -> Transition {
        Transition {
            breaker: sh.name.clone(),
            from,
            to,
            reason,
            dry_run,
            by,
            note,
            at: SystemTime::now(),
        }
    }

    /// Tells the gate how to admit calls now, and schedules the next timed transition.
    fn publish(&mut self, sh: &Shared) {
        let expiry = self
            .manual
            .as_ref()
            .and_then(|m| m.expires_at)
            .unwrap_or(NEVER);
        let automatic = sh.config.half_open_transition == HalfOpenTransition::Automatic;
        let half_open_end = |since: u64| {
            sh.config
                .max_wait_in_half_open
                .map_or(NEVER, |w| since.saturating_add(nanos(w)))
        };
        let (mode, deadline, timer) = match (self.manual.as_ref().map(|m| m.state), self.auto) {
            (Some(BreakerState::ForcedOpen), _) => (Mode::ForcedOpen, expiry, expiry),
            (Some(BreakerState::Disabled), _) => (Mode::Disabled, expiry, expiry),
            (_, Auto::Closed) => {
                let exact = self.window.counts().calls < sh.config.effective_minimum_calls();
                (
                    if exact {
                        Mode::ClosedExact
                    } else {
                        Mode::Closed
                    },
                    expiry,
                    expiry,
                )
            }
            (_, Auto::Open { until }) => {
                let mode = if self.observing() {
                    Mode::ObserveOpen
                } else {
                    Mode::Open
                };
                let timer = if automatic { until.min(expiry) } else { expiry };
                (mode, until.min(expiry), timer)
            }
            (_, Auto::HalfOpen { since, .. }) => {
                let end = half_open_end(since).min(expiry);
                (Mode::Slow, end, end)
            }
        };
        let bucket_end = match mode {
            Mode::Closed | Mode::ClosedExact => self.window.bucket_end().unwrap_or(NEVER),
            _ => NEVER,
        };
        let decision = (self.generation, mode, deadline, bucket_end);
        if decision != self.published {
            if (self.published.0, self.published.1) != (self.generation, mode) {
                // Open or block the stripes for the new mode; what they held was
                // counted under the old one.
                let n = sh
                    .gate
                    .drain(self.generation, self.generation, mode.batches_successes());
                self.apply_successes(n);
            }
            self.mode = mode;
            sh.gate.publish(self.generation, mode, deadline, bucket_end);
            self.published = decision;
        }
        if timer != NEVER && timer != self.timer_at && sh.schedule(timer) {
            self.timer_at = timer;
        }
    }

    // ---- reading ----

    fn totals(&self, sh: &Shared) -> CallTotals {
        CallTotals {
            success: self.success,
            failure: self.failure,
            slow: self.slow,
            rejected: sh.gate.rejected(),
            would_reject: sh.gate.would_reject(),
        }
    }

    pub(crate) fn snapshot(&mut self, sh: &Shared, now: u64) -> Snapshot {
        self.tick(sh, now, Trigger::Passive);
        self.flush(sh);
        let counts = self.window.counts_at(now);
        let wall = SystemTime::now();
        let manual = self.manual.as_ref().map(|m| {
            let expires_in = m
                .expires_at
                .map(|at| Duration::from_nanos(at.saturating_sub(now)));
            Override {
                state: m.state,
                by: m.by.clone(),
                reason: m.reason.clone(),
                set_at: m.set_at,
                expires_at: expires_in.map(|d| wall + d),
                expires_in,
            }
        });
        let next_probe_in = match self.auto {
            Auto::Open { until } => Some(Duration::from_nanos(until.saturating_sub(now))),
            _ => None,
        };
        Snapshot {
            name: sh.name.clone(),
            state: self.effective(),
            automatic_state: self.auto.state(),
            window_calls: counts.calls,
            window_failures: counts.failures,
            window_slow: counts.slow,
            failure_rate: counts.failure_rate(),
            slow_call_rate: counts.slow_rate(),
            since: self.since_wall,
            in_state_for: Duration::from_nanos(now.saturating_sub(self.since)),
            next_probe_in,
            manual,
            totals: self.totals(sh),
        }
    }
}
