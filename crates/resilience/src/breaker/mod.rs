//! The circuit breaker: a cheap gate in front of every call, a controller that owns
//! the state machine, manual control through a handle, and a registry of named
//! breakers for the agent's control API.
//!
//! States: closed, open and half-open (automatic), plus forced open, disabled and
//! observe-only (manual). Calls go through [`Breaker::call`] (or the permit API, or
//! the [`CircuitBreakerLayer`] tower layer).

mod config;
mod controller;
mod future;
mod gate;
mod handle;
mod layer;
mod metrics;
mod registry;
mod state;
mod window;

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use tokio::sync::broadcast;
use tokio::time::Instant;

pub use self::config::{BreakerConfig, HalfOpenTransition, OpenBackoff, SlidingWindow};
pub use self::future::ResponseFuture;
pub use self::handle::BreakerHandle;
pub use self::layer::{CircuitBreaker, CircuitBreakerLayer};
pub use self::registry::{Registry, RegistryBuilder};
pub use self::state::{
    BreakerState, CallTotals, Command, Override, Snapshot, Transition, TransitionReason,
};

use self::controller::{Controller, Kind, Trigger, nanos};
use self::gate::{Added, Gate, Mode, NEVER};
use self::window::{FAILURE, SLOW, Window};
use crate::classify::{Classify, ErrorsAreFailures};
use crate::clock::{Clock, default_clock};
use crate::error::{BreakerOpen, CallError, Result};
use crate::telemetry::{BreakerSample, Source, Telemetry};

/// How many transitions a breaker's own channel buffers for slow subscribers.
const EVENT_CAPACITY: usize = 256;

/// A circuit breaker. Cheap to clone: clones are the same breaker.
///
/// ```
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use switchyard_resilience::breaker::{Breaker, BreakerConfig};
///
/// let breaker = Breaker::new("payments", BreakerConfig::default().count_window(50))?;
/// let answer = breaker.call(|| async { Ok::<_, std::io::Error>(42) }).await?;
/// assert_eq!(answer, 42);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Breaker {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Breaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Breaker")
            .field("name", &self.shared.name)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Breaker`].
#[derive(Debug)]
pub struct BreakerBuilder {
    name: Arc<str>,
    config: BreakerConfig,
    clock: Option<Arc<dyn Clock>>,
    telemetry: Option<Telemetry>,
    events: Option<broadcast::Sender<Transition>>,
}

impl BreakerBuilder {
    /// The policy (default: [`BreakerConfig::default`]).
    pub fn config(mut self, config: BreakerConfig) -> Self {
        self.config = config;
        self
    }

    /// The clock (default: tokio's).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    pub(crate) fn clock_arc(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Where metrics go (default: [`Telemetry::global`]).
    pub fn telemetry(mut self, telemetry: Telemetry) -> Self {
        self.telemetry = Some(telemetry);
        self
    }

    /// Sends transitions on this channel (default: a channel of the breaker's own).
    pub fn transitions(mut self, sender: broadcast::Sender<Transition>) -> Self {
        self.events = Some(sender);
        self
    }

    /// Validates the configuration and builds the breaker.
    pub fn build(self) -> Result<Breaker> {
        self.config.validate()?;
        let clock = self.clock.unwrap_or_else(default_clock);
        let telemetry = self.telemetry.unwrap_or_else(Telemetry::global);
        let events = self
            .events
            .unwrap_or_else(|| broadcast::channel(EVENT_CAPACITY).0);
        let epoch = clock.now();
        let window = Window::new(self.config.window);
        // An empty window is below any minimum: start exact.
        let shared = Arc::new_cyclic(|weak| Shared {
            name: self.name,
            slow_nanos: self.config.slow_call_duration.map(nanos),
            timed_window: matches!(self.config.window, SlidingWindow::Time { .. }),
            needs_start: self.config.slow_call_duration.is_some(),
            needs_time: self.config.slow_call_duration.is_some()
                || matches!(self.config.window, SlidingWindow::Time { .. }),
            config: self.config,
            clock,
            epoch,
            gate: Gate::new(Mode::ClosedExact),
            controller: Mutex::new(Controller::new(window, Mode::ClosedExact)),
            events,
            weak: weak.clone(),
            _telemetry: telemetry.clone(),
        });
        let source: Weak<dyn Source<BreakerSample>> =
            Arc::downgrade(&shared) as Weak<dyn Source<BreakerSample>>;
        telemetry.register_breaker(source);
        Ok(Breaker { shared })
    }
}

impl Breaker {
    /// Starts building a breaker named `name`.
    pub fn builder(name: impl Into<Arc<str>>) -> BreakerBuilder {
        BreakerBuilder {
            name: name.into(),
            config: BreakerConfig::default(),
            clock: None,
            telemetry: None,
            events: None,
        }
    }

    /// A breaker with this policy, tokio's clock and the global telemetry.
    pub fn new(name: impl Into<Arc<str>>, config: BreakerConfig) -> Result<Self> {
        Self::builder(name).config(config).build()
    }

    /// The breaker's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Its policy.
    pub fn config(&self) -> &BreakerConfig {
        &self.shared.config
    }

    /// Asks to make one call. Report the call's outcome on the permit; dropping the
    /// permit without a report forgets the call (a half-open probe is given back).
    #[inline]
    pub fn try_acquire(&self) -> Result<Permit<'_>, BreakerOpen> {
        let grant = self.shared.acquire();
        match grant.rejected() {
            None => Ok(Permit {
                shared: &self.shared,
                grant,
            }),
            Some(state) => Err(self.shared.rejection(state)),
        }
    }

    /// Runs `f` through the breaker; an `Err` counts as a failure.
    #[inline]
    pub async fn call<F, Fut, T, E>(&self, f: F) -> Result<T, CallError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.call_with(&ErrorsAreFailures, f).await
    }

    /// Runs `f` through the breaker; `classify` says which results are failures.
    #[inline]
    pub async fn call_with<C, F, Fut, T, E>(&self, classify: &C, f: F) -> Result<T, CallError<E>>
    where
        C: Classify<T, E> + ?Sized,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let permit = self.try_acquire()?;
        let result = f().await;
        permit.record(classify.is_failure(&result));
        result.map_err(CallError::Inner)
    }

    /// Runs a blocking `f` through the breaker; an `Err` counts as a failure.
    #[inline]
    pub fn call_sync<F, T, E>(&self, f: F) -> Result<T, CallError<E>>
    where
        F: FnOnce() -> Result<T, E>,
    {
        self.call_sync_with(&ErrorsAreFailures, f)
    }

    /// Runs a blocking `f` through the breaker; `classify` says which results are failures.
    #[inline]
    pub fn call_sync_with<C, F, T, E>(&self, classify: &C, f: F) -> Result<T, CallError<E>>
    where
        C: Classify<T, E> + ?Sized,
        F: FnOnce() -> Result<T, E>,
    {
        let permit = self.try_acquire()?;
        let result = f();
        permit.record(classify.is_failure(&result));
        result.map_err(CallError::Inner)
    }

    /// The state in force.
    pub fn state(&self) -> BreakerState {
        self.shared.snapshot().state
    }

    /// The breaker's state, window and totals now.
    pub fn snapshot(&self) -> Snapshot {
        self.shared.snapshot()
    }

    /// A handle for manual control.
    pub fn handle(&self) -> BreakerHandle {
        BreakerHandle::new(self.shared.clone())
    }

    /// Transitions from now on (of every breaker sharing this breaker's channel).
    pub fn subscribe(&self) -> broadcast::Receiver<Transition> {
        self.shared.events.subscribe()
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }
}

/// The right to make one call through a breaker. Report how it went with
/// [`success`](Permit::success), [`failure`](Permit::failure) or [`record`](Permit::record).
#[derive(Debug)]
#[must_use = "a permit records nothing unless its outcome is reported"]
pub struct Permit<'a> {
    shared: &'a Shared,
    grant: Grant,
}

impl Permit<'_> {
    /// Whether this call is one of half-open's probes.
    #[inline]
    pub fn is_probe(&self) -> bool {
        self.grant.kind() == Some(Kind::Probe)
    }

    /// The call succeeded (it may still count as slow).
    #[inline]
    pub fn success(self) {
        self.record(false);
    }

    /// The call failed.
    #[inline]
    pub fn failure(self) {
        self.record(true);
    }

    /// The call failed if `failed`, else succeeded.
    #[inline]
    pub fn record(mut self, failed: bool) {
        let grant = std::mem::replace(&mut self.grant, Grant::DONE);
        self.shared.complete(grant, failed);
    }
}

impl Drop for Permit<'_> {
    #[inline]
    fn drop(&mut self) {
        if self.grant.kind() == Some(Kind::Probe) {
            self.shared.cancel_probe(self.grant.generation());
        }
    }
}

/// A permit that owns its breaker, for futures that must be `'static`.
#[derive(Debug)]
pub(crate) struct OwnedPermit {
    shared: Arc<Shared>,
    grant: Grant,
}

impl OwnedPermit {
    #[inline]
    pub(crate) fn acquire(shared: &Arc<Shared>) -> Result<Self, BreakerOpen> {
        let grant = shared.acquire();
        match grant.rejected() {
            None => Ok(OwnedPermit {
                shared: shared.clone(),
                grant,
            }),
            Some(state) => Err(shared.rejection(state)),
        }
    }

    #[inline]
    pub(crate) fn record(mut self, failed: bool) {
        let grant = std::mem::replace(&mut self.grant, Grant::DONE);
        self.shared.complete(grant, failed);
    }
}

impl Drop for OwnedPermit {
    #[inline]
    fn drop(&mut self) {
        if self.grant.kind() == Some(Kind::Probe) {
            self.shared.cancel_probe(self.grant.generation());
        }
    }
}

/// What the breaker decided for one call, in two words so that it travels in
/// registers: `token` is `generation << 32 | state << 8 | kind`, `start` when the call
/// started (ns since the epoch; 0 unless slow calls are detected).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Grant {
    token: u64,
    start: u64,
}

/// `kind` values beyond [`Kind`]'s.
const REJECTED: u64 = 3;
const DONE: u64 = 4;

impl Grant {
    /// A permit whose outcome was reported.
    const DONE: Grant = Grant {
        token: DONE,
        start: 0,
    };

    #[inline(always)]
    fn admit(generation: u32, kind: Kind, start: u64) -> Self {
        let kind = match kind {
            Kind::Window => 0,
            Kind::Probe => 1,
            Kind::Unrecorded => 2,
        };
        Grant {
            token: u64::from(generation) << 32 | kind,
            start,
        }
    }

    #[inline(always)]
    fn reject(state: BreakerState) -> Self {
        Grant {
            token: (state.code() as u64) << 8 | REJECTED,
            start: 0,
        }
    }

    #[inline(always)]
    fn generation(self) -> u32 {
        (self.token >> 32) as u32
    }

    /// The kind of an admitted call; `None` if rejected or done.
    #[inline(always)]
    fn kind(self) -> Option<Kind> {
        match self.token & 0xff {
            0 => Some(Kind::Window),
            1 => Some(Kind::Probe),
            2 => Some(Kind::Unrecorded),
            _ => None,
        }
    }

    /// The state that rejected the call, if it was rejected.
    #[inline(always)]
    fn rejected(self) -> Option<BreakerState> {
        if self.token & 0xff == REJECTED {
            BreakerState::from_code(((self.token >> 8) & 0xff) as i64)
        } else {
            None
        }
    }
}

/// Everything a breaker's clones share.
pub(crate) struct Shared {
    pub(crate) name: Arc<str>,
    pub(crate) config: BreakerConfig,
    clock: Arc<dyn Clock>,
    epoch: Instant,
    pub(crate) gate: Gate,
    controller: Mutex<Controller>,
    pub(crate) events: broadcast::Sender<Transition>,
    weak: Weak<Shared>,
    slow_nanos: Option<u64>,
    timed_window: bool,
    /// Calls record when they start (slow-call detection is on).
    needs_start: bool,
    /// Outcomes need the time (slow calls or a time window).
    needs_time: bool,
    _telemetry: Telemetry,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Now, in nanoseconds since the breaker's epoch.
    fn now(&self) -> u64 {
        nanos(self.clock.now().saturating_duration_since(self.epoch))
    }

    fn lock(&self) -> MutexGuard<'_, Controller> {
        // The controller's invariants hold between statements that can panic, so a
        // poisoned lock still guards a usable state machine.
        self.controller
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The hot path: admits a call from the gate alone when it can. Kept small so it
    /// inlines into the caller; everything else is out of line.
    #[inline(always)]
    fn acquire(&self) -> Grant {
        let (generation, mode) = self.gate.load();
        if matches!(mode, Mode::Closed | Mode::ClosedExact)
            && !self.needs_start
            && self.gate.deadline() == NEVER
        {
            return Grant::admit(generation, Kind::Window, 0);
        }
        self.acquire_other(generation, mode)
    }

    /// Admission in every other case: a call to time, a deadline to check, or a state
    /// other than closed.
    #[inline(never)]
    fn acquire_other(&self, generation: u32, mode: Mode) -> Grant {
        let deadline = self.gate.deadline();
        let mut now = None;
        if deadline != NEVER {
            let t = self.now();
            if t >= deadline {
                return self.acquire_slow(t);
            }
            now = Some(t);
        }
        let start = if self.needs_start {
            now.unwrap_or_else(|| self.now())
        } else {
            0
        };
        match mode {
            Mode::Closed | Mode::ClosedExact => Grant::admit(generation, Kind::Window, start),
            Mode::Disabled => Grant::admit(generation, Kind::Unrecorded, start),
            Mode::ObserveOpen => {
                self.gate.count_would_reject();
                Grant::admit(generation, Kind::Unrecorded, start)
            }
            Mode::Open => {
                self.gate.count_rejected();
                Grant::reject(BreakerState::Open)
            }
            Mode::ForcedOpen => {
                self.gate.count_rejected();
                Grant::reject(BreakerState::ForcedOpen)
            }
            Mode::Slow => self.acquire_slow(now.unwrap_or_else(|| self.now())),
        }
    }

    #[cold]
    #[inline(never)]
    fn acquire_slow(&self, now: u64) -> Grant {
        match self.lock().acquire(self, now) {
            Ok((generation, kind)) => {
                let start = if self.needs_start { now } else { 0 };
                Grant::admit(generation, kind, start)
            }
            Err(state) => Grant::reject(state),
        }
    }

    #[cold]
    #[inline(never)]
    fn rejection(&self, state: BreakerState) -> BreakerOpen {
        BreakerOpen {
            breaker: self.name.clone(),
            state,
        }
    }

    /// Records a call's outcome. The hot path: a plain success, with no clock to
    /// read, in a mode that batches successes, only bumps its stripe's counter.
    #[inline(always)]
    fn complete(&self, grant: Grant, failed: bool) {
        let Some(kind) = grant.kind() else { return };
        if !failed
            && !self.needs_time
            && kind != Kind::Probe
            && self.gate.add_success(grant.generation()) == Added::Yes
        {
            return;
        }
        self.complete_other(grant.generation(), kind, grant.start, failed);
    }

    /// Every other outcome: failures, probes, timed calls, a changed generation.
    #[inline(never)]
    fn complete_other(&self, generation: u32, kind: Kind, start: u64, failed: bool) {
        let now = self.now();
        let slow = self
            .slow_nanos
            .is_some_and(|slow| now.saturating_sub(start) >= slow);
        if !failed && !slow && kind != Kind::Probe {
            let (current, mode) = self.gate.load();
            // A success in a later bucket than the gate's rotates the window: that
            // must go through the controller, which evaluates after rotating.
            let in_bucket =
                !self.timed_window || mode != Mode::Closed || now < self.gate.bucket_end();
            if current == generation && in_bucket && self.gate.add_success(generation) == Added::Yes
            {
                return;
            }
        }
        let bits = if failed { FAILURE } else { 0 } | if slow { SLOW } else { 0 };
        self.lock().record(self, generation, kind, bits, now);
    }

    /// A probe's call was dropped before reporting: its place goes to the next caller.
    #[cold]
    #[inline(never)]
    fn cancel_probe(&self, generation: u32) {
        self.lock().cancel_probe(generation);
    }

    pub(crate) fn snapshot(&self) -> Snapshot {
        let now = self.now();
        self.lock().snapshot(self, now)
    }

    /// Applies any timed transition that is due; what the timer task runs.
    fn tick(&self) {
        let now = self.now();
        self.lock().tick(self, now, Trigger::Passive);
    }

    pub(crate) fn with_controller<R>(
        &self,
        f: impl FnOnce(&mut Controller, &Shared, u64) -> R,
    ) -> R {
        let now = self.now();
        f(&mut self.lock(), self, now)
    }

    /// Wakes the breaker at `at` (ns since the epoch) on a tokio timer, if the clock
    /// is tokio's and a runtime is running. Returns whether a timer was set.
    fn schedule(&self, at: u64) -> bool {
        if !self.clock.drives_tokio_timers() {
            return false;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return false;
        };
        let weak = self.weak.clone();
        let when = self.epoch + std::time::Duration::from_nanos(at);
        // The task holds the breaker weakly: a dropped breaker needs no waking.
        runtime.spawn(async move {
            tokio::time::sleep_until(when).await;
            if let Some(shared) = weak.upgrade() {
                shared.tick();
            }
        });
        true
    }
}
