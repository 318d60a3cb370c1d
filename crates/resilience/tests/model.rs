//! Property test: the breaker against a small reference model of its state machine.
//!
//! The model is the specification written as plainly as possible — a list of outcomes,
//! evaluated after every call — with none of the breaker's machinery (gate, stripes,
//! generations, batching, lazy evaluation). Random sequences of calls, clock advances
//! and manual commands must give the same admissions, states, windows, totals and
//! transition events.

use std::collections::VecDeque;
use std::time::Duration;

use proptest::prelude::*;
use switchyard_resilience::breaker::{
    Breaker, BreakerConfig, BreakerState, Command, HalfOpenTransition, SlidingWindow, Transition,
    TransitionReason,
};
use switchyard_resilience::clock::ManualClock;
use tokio::sync::broadcast;

const MS: u64 = 1_000_000;

fn nanos(d: Duration) -> u64 {
    d.as_nanos() as u64
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Auto {
    Closed,
    Open {
        until: u64,
    },
    HalfOpen {
        since: u64,
        granted: u32,
        done: u32,
        failures: u32,
        slow: u32,
    },
}

impl Auto {
    fn state(&self) -> BreakerState {
        match self {
            Auto::Closed => BreakerState::Closed,
            Auto::Open { .. } => BreakerState::Open,
            Auto::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Admit {
    Window,
    Probe,
    Unrecorded,
}

type Event = (BreakerState, BreakerState, TransitionReason, bool);

/// The reference model.
#[derive(Debug)]
struct Model {
    p: Params,
    config: BreakerConfig,
    now: u64,
    auto: Auto,
    manual: Option<(BreakerState, Option<u64>)>,
    /// Closed-state outcomes: (time, failed, slow), oldest first.
    window: VecDeque<(u64, bool, bool)>,
    failed_rounds: u32,
    totals: [u64; 5], // success, failure, slow, rejected, would_reject
    events: Vec<Event>,
}

impl Model {
    fn new(p: Params) -> Self {
        Model {
            config: p.config(),
            p,
            now: 0,
            auto: Auto::Closed,
            manual: None,
            window: VecDeque::new(),
            failed_rounds: 0,
            totals: [0; 5],
            events: Vec::new(),
        }
    }

    fn effective(&self) -> BreakerState {
        self.manual.map_or(self.auto.state(), |(s, _)| s)
    }

    fn observing(&self) -> bool {
        matches!(self.manual, Some((BreakerState::ObserveOnly, _)))
    }

    fn frozen(&self) -> bool {
        matches!(self.manual, Some((s, _)) if s != BreakerState::ObserveOnly)
    }

    fn slow_enabled(&self) -> bool {
        self.p.slow.map(|s| s.0).is_some()
    }

    /// (calls, failures, slow) in the window at time `t`.
    fn counts(&self, t: u64) -> (u64, u64, u64) {
        let in_window: Vec<&(u64, bool, bool)> = match self.config.window() {
            SlidingWindow::Count { .. } => self.window.iter().collect(),
            SlidingWindow::Time { length, buckets } => {
                let bucket = nanos(length / buckets);
                let current = t / bucket;
                self.window
                    .iter()
                    .filter(|(at, _, _)| at / bucket + u64::from(buckets) > current)
                    .collect()
            }
        };
        (
            in_window.len() as u64,
            in_window.iter().filter(|e| e.1).count() as u64,
            in_window.iter().filter(|e| e.2).count() as u64,
        )
    }

    fn over(&self, failures: u64, slow: u64, calls: u64) -> bool {
        let pct = |x: u64| {
            if calls == 0 {
                0.0
            } else {
                x as f64 * 100.0 / calls as f64
            }
        };
        pct(failures) >= self.p.failure_threshold
            || (self.slow_enabled() && pct(slow) >= self.p.slow.map_or(100.0, |s| s.1))
    }

    fn set_auto(&mut self, next: Auto, reason: TransitionReason) {
        let (from, from_auto) = (self.effective(), self.auto.state());
        self.auto = next;
        if next == Auto::Closed {
            self.window.clear();
        }
        let to = self.effective();
        if from != to {
            self.events.push((from, to, reason, false));
        } else if self.observing() && from_auto != next.state() {
            self.events.push((from_auto, next.state(), reason, true));
        }
    }

    fn open_until(&self) -> u64 {
        self.now + nanos(self.config.open_wait(self.failed_rounds))
    }

    fn tick(&mut self, call: bool) {
        loop {
            if let Some((_, Some(at))) = self.manual
                && self.now >= at
            {
                let from = self.effective();
                self.manual = None;
                let to = self.effective();
                if from != to {
                    self.events
                        .push((from, to, TransitionReason::Expired, false));
                }
                continue;
            }
            if self.frozen() {
                return;
            }
            let automatic = self.p.transition == HalfOpenTransition::Automatic;
            match self.auto {
                Auto::Open { until } if self.now >= until && (call || automatic) => {
                    let since = self.now;
                    self.set_auto(
                        Auto::HalfOpen {
                            since,
                            granted: 0,
                            done: 0,
                            failures: 0,
                            slow: 0,
                        },
                        TransitionReason::Timeout,
                    );
                }
                Auto::HalfOpen { since, .. }
                    if self
                        .p
                        .max_half_open
                        .is_some_and(|w| self.now >= since + nanos(w)) =>
                {
                    self.failed_rounds += 1;
                    let until = self.open_until();
                    self.set_auto(Auto::Open { until }, TransitionReason::Timeout);
                }
                _ => return,
            }
        }
    }

    fn acquire(&mut self) -> Result<Admit, BreakerState> {
        self.tick(true);
        let probes = self.p.probes;
        let decision = match (self.manual.map(|m| m.0), &mut self.auto) {
            (Some(BreakerState::ForcedOpen), _) => Err(BreakerState::ForcedOpen),
            (Some(BreakerState::Disabled), _) => Ok(Admit::Unrecorded),
            (_, Auto::Closed) => Ok(Admit::Window),
            (_, Auto::Open { .. }) => Err(BreakerState::Open),
            (_, Auto::HalfOpen { granted, .. }) if *granted < probes => {
                *granted += 1;
                Ok(Admit::Probe)
            }
            (_, Auto::HalfOpen { .. }) => Err(BreakerState::HalfOpen),
        };
        match decision {
            Err(_) if self.observing() => {
                self.totals[4] += 1;
                Ok(Admit::Unrecorded)
            }
            Err(state) => {
                self.totals[3] += 1;
                Err(state)
            }
            ok => ok,
        }
    }

    fn record(&mut self, admit: Admit, failed: bool, duration: u64) {
        let slow = self
            .p
            .slow
            .map(|s| s.0)
            .is_some_and(|d| duration >= nanos(d));
        self.totals[if failed {
            1
        } else if slow {
            2
        } else {
            0
        }] += 1;
        match admit {
            Admit::Window => {
                self.window.push_back((self.now, failed, slow));
                if let SlidingWindow::Count { calls } = self.config.window() {
                    while self.window.len() > calls as usize {
                        self.window.pop_front();
                    }
                }
                let (calls, failures, slows) = self.counts(self.now);
                let min = match self.p.window {
                    SlidingWindow::Count { calls } => u64::from(self.p.minimum_calls.min(calls)),
                    SlidingWindow::Time { .. } => u64::from(self.p.minimum_calls),
                };
                if calls >= min && self.over(failures, slows, calls) {
                    let until = self.open_until();
                    self.set_auto(Auto::Open { until }, TransitionReason::Threshold);
                }
            }
            Admit::Probe => {
                let probes = self.p.probes;
                if let Auto::HalfOpen {
                    done,
                    failures,
                    slow: s,
                    ..
                } = &mut self.auto
                {
                    *done += 1;
                    *failures += u32::from(failed);
                    *s += u32::from(slow);
                    if *done >= probes {
                        let (d, f, sl) = (*done, *failures, *s);
                        if self.over(u64::from(f), u64::from(sl), u64::from(d)) {
                            self.failed_rounds += 1;
                            let until = self.open_until();
                            self.set_auto(Auto::Open { until }, TransitionReason::Probe);
                        } else {
                            self.failed_rounds = 0;
                            self.set_auto(Auto::Closed, TransitionReason::Probe);
                        }
                    }
                }
            }
            Admit::Unrecorded => {}
        }
    }

    fn set_manual(&mut self, state: BreakerState, ttl: Option<u64>) {
        let from = self.effective();
        self.manual = Some((state, ttl.map(|t| self.now + t)));
        if from != state {
            self.events
                .push((from, state, TransitionReason::Manual, false));
        }
        self.tick(false);
    }

    fn release(&mut self) {
        if self.manual.is_some() {
            let from = self.effective();
            self.manual = None;
            let to = self.effective();
            if from != to {
                self.events
                    .push((from, to, TransitionReason::Manual, false));
            }
            self.tick(false);
        }
    }

    fn reset(&mut self) {
        let from = self.effective();
        self.manual = None;
        self.auto = Auto::Closed;
        self.window.clear();
        self.failed_rounds = 0;
        if from != BreakerState::Closed {
            self.events
                .push((from, BreakerState::Closed, TransitionReason::Manual, false));
        }
    }
}

/// The parameters a generated config was built from; the model reads these, the
/// breaker gets the [`BreakerConfig`] built from them.
#[derive(Debug, Clone)]
struct Params {
    window: SlidingWindow,
    failure_threshold: f64,
    slow: Option<(Duration, f64)>,
    minimum_calls: u32,
    wait: Duration,
    backoff: bool,
    probes: u32,
    max_half_open: Option<Duration>,
    transition: HalfOpenTransition,
}

impl Params {
    fn config(&self) -> BreakerConfig {
        let mut c = match self.window {
            SlidingWindow::Count { calls } => BreakerConfig::default().count_window(calls),
            SlidingWindow::Time { length, buckets } => {
                BreakerConfig::default().time_window(length, buckets)
            }
        }
        .failure_rate_threshold(self.failure_threshold)
        .minimum_calls(self.minimum_calls)
        .wait_in_open(self.wait)
        .permitted_probes(self.probes)
        .half_open_transition(self.transition);
        if let Some((d, pct)) = self.slow {
            c = c.slow_calls(d, pct);
        }
        if self.backoff {
            c = c.open_backoff(2.0, self.wait * 5);
        }
        if let Some(w) = self.max_half_open {
            c = c.max_wait_in_half_open(w);
        }
        c
    }
}

#[derive(Debug, Clone)]
enum Op {
    Call { fail: bool, ms: u64 },
    Advance { ms: u64 },
    Trip { ttl_ms: Option<u64> },
    Disable { ttl_ms: Option<u64> },
    Observe { ttl_ms: Option<u64> },
    Release,
    Reset,
    Check,
}

fn params_strategy() -> impl Strategy<Value = Params> {
    let window = prop_oneof![
        (1u32..12).prop_map(|calls| SlidingWindow::Count { calls }),
        (1u64..6, 1u32..6).prop_map(|(s, buckets)| SlidingWindow::Time {
            length: Duration::from_secs(s),
            buckets
        }),
    ];
    (
        window,
        prop::sample::select(vec![20.0, 50.0, 75.0, 100.0]),
        prop::option::of((10u64..40, prop::sample::select(vec![50.0, 80.0, 100.0]))),
        1u32..8,
        100u64..2_000,
        any::<bool>(),
        1u32..4,
        prop::option::of(200u64..3_000),
        prop_oneof![
            Just(HalfOpenTransition::Automatic),
            Just(HalfOpenTransition::OnNextCall)
        ],
    )
        .prop_map(
            |(
                window,
                failure_threshold,
                slow,
                minimum_calls,
                wait,
                backoff,
                probes,
                max_half_open,
                transition,
            )| Params {
                window,
                failure_threshold,
                slow: slow.map(|(ms, pct)| (Duration::from_millis(ms), pct)),
                minimum_calls,
                wait: Duration::from_millis(wait),
                backoff,
                probes,
                max_half_open: max_half_open.map(Duration::from_millis),
                transition,
            },
        )
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let ttl = prop::option::of(100u64..5_000);
    prop_oneof![
        12 => (prop::bool::weighted(0.4), 0u64..60).prop_map(|(fail, ms)| Op::Call { fail, ms }),
        4 => prop_oneof![0u64..300, 300u64..4_000].prop_map(|ms| Op::Advance { ms }),
        1 => ttl.clone().prop_map(|ttl_ms| Op::Trip { ttl_ms }),
        1 => ttl.clone().prop_map(|ttl_ms| Op::Disable { ttl_ms }),
        1 => ttl.prop_map(|ttl_ms| Op::Observe { ttl_ms }),
        1 => Just(Op::Release),
        1 => Just(Op::Reset),
        3 => Just(Op::Check),
    ]
}

fn received(rx: &mut broadcast::Receiver<Transition>) -> Vec<Event> {
    let mut out = Vec::new();
    while let Ok(t) = rx.try_recv() {
        out.push((t.from, t.to, t.reason, t.dry_run));
    }
    out
}

fn run(p: Params, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let config = p.config();
    let clock = ManualClock::new();
    let (tx, mut rx) = broadcast::channel(4096);
    let breaker = Breaker::builder("model")
        .config(config)
        .clock(clock.clone())
        .transitions(tx)
        .build()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let handle = breaker.handle();
    let mut model = Model::new(p);
    let cmd = |ttl: Option<u64>| {
        let c = Command::new("prop", "test");
        match ttl {
            Some(ms) => c.ttl(Duration::from_millis(ms)),
            None => c,
        }
    };
    for (step, op) in ops.iter().enumerate() {
        match *op {
            Op::Call { fail, ms } => {
                let expected = model.acquire();
                let actual = breaker.try_acquire();
                match (&expected, actual) {
                    (Ok(admit), Ok(permit)) => {
                        prop_assert_eq!(
                            permit.is_probe(),
                            *admit == Admit::Probe,
                            "step {}: {:?}",
                            step,
                            op
                        );
                        clock.advance(Duration::from_millis(ms));
                        model.now += ms * MS;
                        permit.record(fail);
                        model.record(*admit, fail, ms * MS);
                    }
                    (Err(state), Err(rejected)) => {
                        prop_assert_eq!(rejected.state, *state, "step {}: {:?}", step, op);
                    }
                    (expected, actual) => {
                        return Err(TestCaseError::fail(format!(
                            "step {step}: {op:?}: model {expected:?}, breaker {:?}",
                            actual.map(|p| p.is_probe())
                        )));
                    }
                }
            }
            Op::Advance { ms } => {
                clock.advance(Duration::from_millis(ms));
                model.now += ms * MS;
            }
            Op::Trip { ttl_ms } => {
                handle.trip(cmd(ttl_ms));
                model.set_manual(BreakerState::ForcedOpen, ttl_ms.map(|t| t * MS));
                model.tick(false); // the handle answers with a snapshot, which ticks
            }
            Op::Disable { ttl_ms } => {
                handle.disable(cmd(ttl_ms));
                model.set_manual(BreakerState::Disabled, ttl_ms.map(|t| t * MS));
                model.tick(false);
            }
            Op::Observe { ttl_ms } => {
                handle.observe(cmd(ttl_ms));
                model.set_manual(BreakerState::ObserveOnly, ttl_ms.map(|t| t * MS));
                model.tick(false);
            }
            Op::Release => {
                handle.release("prop", "test");
                model.release();
                model.tick(false);
            }
            Op::Reset => {
                handle.reset("prop", "test");
                model.reset();
                model.tick(false);
            }
            Op::Check => {
                let s = breaker.snapshot();
                model.tick(false);
                let (calls, failures, slow) = model.counts(model.now);
                prop_assert_eq!(s.state, model.effective(), "step {}: {:#?}", step, s);
                prop_assert_eq!(s.automatic_state, model.auto.state(), "step {}", step);
                prop_assert_eq!(
                    (s.window_calls, s.window_failures, s.window_slow),
                    (calls, failures, slow),
                    "step {}",
                    step
                );
                let t = s.totals;
                prop_assert_eq!(
                    [t.success, t.failure, t.slow, t.rejected, t.would_reject],
                    model.totals,
                    "step {}",
                    step
                );
                prop_assert_eq!(
                    s.manual.map(|m| m.state),
                    model.manual.map(|m| m.0),
                    "step {}",
                    step
                );
                let next_probe = match model.auto {
                    Auto::Open { until } => {
                        Some(Duration::from_nanos(until.saturating_sub(model.now)))
                    }
                    _ => None,
                };
                prop_assert_eq!(s.next_probe_in, next_probe, "step {}", step);
            }
        }
        let events = received(&mut rx);
        prop_assert_eq!(&events, &model.events, "step {}: {:?}", step, op);
        model.events.clear();
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn breaker_matches_the_reference_model(p in params_strategy(), ops in prop::collection::vec(op_strategy(), 1..160)) {
        run(p, ops)?;
    }
}

/// A fixed scenario through the same harness, so a regression in the harness itself
/// shows up as a plain failure too.
#[test]
fn model_harness_runs_a_known_scenario() {
    let p = Params {
        window: SlidingWindow::Count { calls: 4 },
        failure_threshold: 50.0,
        slow: None,
        minimum_calls: 4,
        wait: Duration::from_millis(500),
        backoff: true,
        probes: 1,
        max_half_open: None,
        transition: HalfOpenTransition::OnNextCall,
    };
    let mut ops = vec![
        Op::Call { fail: false, ms: 1 },
        Op::Call { fail: false, ms: 1 },
    ];
    ops.extend([
        Op::Call { fail: true, ms: 1 },
        Op::Call { fail: true, ms: 1 },
        Op::Check,
    ]);
    ops.extend([
        Op::Advance { ms: 600 },
        Op::Call { fail: true, ms: 1 },
        Op::Check,
    ]);
    ops.extend([
        Op::Advance { ms: 1_100 },
        Op::Call { fail: false, ms: 1 },
        Op::Check,
    ]);
    run(p, ops).unwrap();
}
