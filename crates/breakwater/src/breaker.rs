//! The breaker: its fields and the hot path, `try_acquire` and `record`.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::clock::{Clock, MonotonicClock};
use crate::config::{Config, ConfigError};
use crate::decide::{Answer, Event, ProbeReport};
use crate::events::{Listeners, TransitionEvent};
use crate::histogram::Histogram;
use crate::lazy::{LazyBox, LazyCallers};
use crate::live::{ConfigRef, Live, LiveRules};
use crate::moves::Moves;
use crate::named::check_name;
use crate::permit::{Outcome, Permit, ProbeHolder, Rejected};
use crate::rules::{WindowCounts, FAILURE};
use crate::state::{Reason, State, Transition, Word, NEVER_MS};
use crate::stripe::{Local, Stripes};
use crate::units::{nanos, NANOS_PER_MS};

/// The next breaker's [`id`](Breaker::id).
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The `retry_after` of a refusal in half-open (every probe slot taken), unless the probes
/// expire sooner: a slot frees as soon as a probe reports, which the breaker cannot foresee, so
/// it answers with a short wait instead of the probe expiry (60 s by default).
pub const HALF_OPEN_RETRY_AFTER: Duration = Duration::from_secs(1);

/// A circuit breaker. Share it by `&` or `Arc`: every method takes `&self` and no method locks.
///
/// ```
/// use breakwater::{Breaker, Config, Outcome, State};
/// use std::time::Duration;
///
/// let breaker = Breaker::new("market-data", Config { consecutive_failures: Some(2), ..Config::default() })?;
/// for _ in 0..2 {
///     let permit = breaker.try_acquire().expect("closed breakers permit");
///     breaker.record(permit, Outcome::Failure, Duration::from_millis(3));
/// }
/// assert_eq!(breaker.state(), State::Open);
/// let rejected = breaker.try_acquire().unwrap_err();
/// assert!(rejected.retry_after.unwrap() <= Duration::from_secs(30));
/// # Ok::<(), breakwater::ConfigError>(())
/// ```
#[derive(Debug)]
pub struct Breaker {
    pub(crate) word: AtomicU64,
    pub(crate) stripes: Stripes,
    pub(crate) consecutive: AtomicU32,
    pub(crate) clock: BreakerClock,
    pub(crate) histogram: Option<Box<Histogram>>,
    pub(crate) inner: Inner,
}

/// What the hot path reads rarely or never, kept inline (one allocation per breaker: with the
/// stripes behind one pointer, a box of its own would cost more in malloc headers and rounding
/// than it kept out of the hot fields' cache line, and one load more on each report). What only
/// a breaker that has moved, has a listener, an isolation or a caller needs is boxed apart and
/// allocated then: most breakers of a large fleet never have any.
#[derive(Debug)]
pub(crate) struct Inner {
    /// Shared with the registry's key, when the breaker is in one.
    pub(crate) name: Arc<str>,
    /// Unique in the process: tells apart two breakers of one name (one removed from its
    /// registry, one made after).
    pub(crate) id: u64,
    /// The config and its rules, swapped whole by [`configure`](Breaker::configure).
    pub(crate) rules: LiveRules,
    pub(crate) since_nanos: AtomicU64,
    /// The subscribers of the registry the breaker belongs to, if it belongs to one.
    pub(crate) hub: Option<Arc<Listeners<TransitionEvent>>>,
    /// Allocated at the first transition, listener or isolation (see [`Inner::moves`]).
    pub(crate) moves: LazyBox<Moves>,
    /// Allocated with the first [`Caller`](crate::Caller).
    pub(crate) callers: LazyCallers,
}

/// A breaker's clock in one word instead of two: `None` for the process's monotonic clock (that
/// of every breaker made by `Breaker::new` or a `Registry::new`, read by a direct call instead of
/// a virtual one), else any other clock, boxed (test clocks, mostly).
#[derive(Debug)]
pub(crate) struct BreakerClock(Option<Box<Arc<dyn Clock>>>);

/// The process's monotonic clock, the `Arc` that [`MonotonicClock::shared`] hands out.
fn monotonic() -> &'static Arc<dyn Clock> {
    static SHARED: OnceLock<Arc<dyn Clock>> = OnceLock::new();
    SHARED.get_or_init(MonotonicClock::shared)
}

/// The time of a clock other than the monotonic one (test clocks, mostly): cold and out of
/// line, so the hot paths are laid out for the monotonic one.
#[cold]
#[inline(never)]
fn other_now(clock: &Arc<dyn Clock>) -> u64 {
    clock.now_nanos()
}

impl BreakerClock {
    fn new(clock: Arc<dyn Clock>) -> BreakerClock {
        if Arc::ptr_eq(&clock, monotonic()) {
            BreakerClock(None)
        } else {
            BreakerClock(Some(Box::new(clock)))
        }
    }

    /// The clock's time, in nanoseconds.
    #[inline(always)]
    pub(crate) fn now_nanos(&self) -> u64 {
        match &self.0 {
            None => MonotonicClock.now_nanos(),
            Some(clock) => other_now(clock),
        }
    }

    /// The clock itself.
    pub(crate) fn get(&self) -> &Arc<dyn Clock> {
        self.0.as_deref().unwrap_or_else(|| monotonic())
    }
}

/// Whether a report of `permit`, a current probe, may count: a probe not held by a caller may;
/// one held by a caller only if `holder` is that caller, which lets go of it. Checked in
/// half-open only, so the closed path pays nothing for it.
#[inline(always)]
fn let_go(holder: Option<&dyn ProbeHolder>, permit: Permit) -> bool {
    !permit.is_held() || holder.is_some_and(|caller| caller.let_go(permit))
}

/// A stale report of `permit` by `holder`: if `holder` holds it, it lets go of it all the same,
/// so the probe is not reported again when the holder goes.
#[inline(always)]
fn forget(holder: Option<&dyn ProbeHolder>, permit: Permit) {
    if let Some(caller) = holder {
        caller.let_go(permit);
    }
}

impl Breaker {
    /// A breaker on the process's monotonic clock. Fails if the name or any option is invalid.
    pub fn new(name: &str, config: Config) -> Result<Breaker, ConfigError> {
        Self::with_clock(name, config, MonotonicClock::shared())
    }

    /// A breaker on a clock of your choosing, such as a [`FakeClock`](crate::FakeClock) in tests.
    pub fn with_clock(name: &str, config: Config, clock: Arc<dyn Clock>) -> Result<Breaker, ConfigError> {
        check_name(name)?;
        config.validate()?;
        let now = clock.now_nanos();
        Ok(Breaker {
            word: AtomicU64::new(Word::new(State::Closed, 0, 0, 0).0),
            stripes: Stripes::new(),
            consecutive: AtomicU32::new(0),
            histogram: config.tracks_latency().then(|| Box::new(Histogram::new())),
            clock: BreakerClock::new(clock),
            inner: Inner {
                name: name.into(),
                id: NEXT_ID.fetch_add(1, Relaxed),
                since_nanos: AtomicU64::new(now),
                hub: None,
                moves: LazyBox::default(),
                callers: LazyCallers::default(),
                rules: LiveRules::new(Live::shared(config)),
            },
        })
    }

    /// A number no other breaker of the process has, before or after.
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// The breaker's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The configuration in force: the one it was built with, or the last one given to
    /// [`configure`](Breaker::configure).
    pub fn config(&self) -> ConfigRef {
        self.inner.rules.config()
    }

    /// The clock it reads.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        self.clock.get()
    }

    /// The state now. An open breaker whose open duration has passed still reads `Open` until
    /// the next call moves it to half-open: transitions are made by calls, not timers.
    #[inline]
    pub fn state(&self) -> State {
        Word(self.word.load(Acquire)).state()
    }

    /// The calling thread's stripe (see [`Stripes::local`]).
    #[inline(always)]
    pub(crate) fn local(&self) -> Local<'_> {
        self.stripes.local(&self.inner.rules)
    }

    #[inline]
    pub(crate) fn load(&self) -> Word {
        Word(self.word.load(Acquire))
    }

    /// Asks to make a call. On `Ok`, make it and report how it went with [`Breaker::record`].
    #[inline(always)]
    pub fn try_acquire(&self) -> Result<Permit, Rejected> {
        let word = self.load();
        if word.is_closed() {
            self.local().bump(|c| &c.acquired);
            return Ok(Permit::new(word, None));
        }
        self.acquire_unclosed(word, |permit| {
            self.local().bump(|c| &c.acquired);
            permit
        })
    }

    /// An acquire in any state but closed: `count` counts the permit where it belongs (the
    /// thread's stripe, or a [`Caller`](crate::Caller)) and may mark it. An open breaker before
    /// its deadline refuses inline, its refusal built in registers; everything else is out of
    /// line and answers a permit (two words: two registers) or writes the refusal aside, so no
    /// answer goes through memory to meet another.
    #[inline(always)]
    pub(crate) fn acquire_unclosed(
        &self,
        word: Word,
        count: impl FnOnce(Permit) -> Permit,
    ) -> Result<Permit, Rejected> {
        if word.is_open() {
            let now = self.clock.now_nanos();
            if now / NANOS_PER_MS < word.deadline_ms() {
                return Err(self.reject(word, now, None));
            }
        }
        let mut refusal = Rejected {
            state: State::Open,
            retry_after: None,
            transition: None,
        };
        let permit = self.acquire_contested(word, count, &mut refusal);
        if permit.is_refused() {
            return Err(refusal);
        }
        Ok(permit)
    }

    /// The state word itself, for a binding that reads it without a call (through memory it
    /// shares with another runtime). Read it, never write it. Its low 32 bits hold the state (bits
    /// 0..3) and the permit bits: when the state is closed (0), `Permit::from_raw(low & 0xFF_F807)`
    /// is the permit [`try_acquire`](Breaker::try_acquire) would give, and such a call is
    /// reported with [`record_unacquired`](Breaker::record_unacquired).
    #[inline]
    pub fn state_word(&self) -> &AtomicU64 {
        &self.word
    }

    /// Reports a call let through without [`try_acquire`](Breaker::try_acquire), on a permit made
    /// from a closed [`state_word`](Breaker::state_word): counts it as acquired, then records it
    /// as [`record`](Breaker::record) does. A permit from a word that has moved on counts as stale.
    #[inline]
    pub fn record_unacquired(&self, permit: Permit, outcome: Outcome, elapsed: Duration) -> Option<Transition> {
        self.local().bump(|c| &c.acquired);
        self.record(permit, outcome, elapsed)
    }

    /// Whether a call would be let through now, without taking a permit or moving any state.
    #[inline]
    pub fn is_call_permitted(&self) -> bool {
        let word = self.load();
        match word.state() {
            State::Closed | State::Disabled => true,
            State::HalfOpen => word.in_flight() < self.inner.rules.max_probes(),
            State::Open | State::ForcedOpen => self.clock.now_nanos() / NANOS_PER_MS >= word.deadline_ms(),
        }
    }

    /// Acquire in a state that may refuse, or may move: open or forced open past the deadline,
    /// half-open; or that lets every call through: disabled. A refusal is written to `refusal`
    /// and answers [`Permit::refused`].
    #[inline(never)]
    fn acquire_contested(&self, word: Word, count: impl FnOnce(Permit) -> Permit, refusal: &mut Rejected) -> Permit {
        if word.state() == State::Disabled {
            return count(Permit::new(word, None));
        }
        let applied = self.apply(word, Event::Acquire, true);
        match applied.answer {
            Answer::Permit => count(Permit::new(applied.word, applied.transition)),
            _ => {
                *refusal = self.reject(applied.word, applied.now, applied.transition);
                Permit::refused()
            }
        }
    }

    #[inline]
    fn reject(&self, word: Word, now: u64, transition: Option<Transition>) -> Rejected {
        self.local().bump(|c| &c.rejected);
        let deadline = word.deadline_ms();
        let until_deadline = Duration::from_nanos((deadline * NANOS_PER_MS).saturating_sub(now));
        Rejected {
            state: word.state(),
            retry_after: match word.state() {
                // Every probe slot is taken: one frees when a probe reports, which cannot be
                // foreseen, or at the latest when the probes expire (the deadline).
                State::HalfOpen => Some(until_deadline.min(HALF_OPEN_RETRY_AFTER)),
                _ => (deadline != NEVER_MS).then_some(until_deadline),
            },
            transition,
        }
    }

    /// Reports how a permitted call ended and how long it took. Returns the transition this
    /// report made, if it made one (the same one listeners are told of).
    #[inline]
    pub fn record(&self, permit: Permit, outcome: Outcome, elapsed: Duration) -> Option<Transition> {
        self.record_by(None, permit, outcome, elapsed)
    }

    /// [`record`](Breaker::record), made by `holder` when a caller reports: a probe it holds is
    /// let go of (see [`Caller`](crate::Caller)). Inlined into both: `record` pays nothing for `holder`, and
    /// the closed path of either nothing for held probes.
    #[inline(always)]
    pub(crate) fn record_by(
        &self,
        holder: Option<&dyn ProbeHolder>,
        permit: Permit,
        outcome: Outcome,
        elapsed: Duration,
    ) -> Option<Transition> {
        let local = self.local();
        let elapsed = nanos(elapsed);
        if outcome == Outcome::Success && self.is_plain(elapsed) {
            // A fast success without a histogram: no flags, nothing slow, nothing to time.
            local.bump(|c| &c.successes);
            let word = self.load();
            if permit.is_closed_in(word) {
                self.record_plain_success(local);
                return None;
            }
            return self.judge(holder, permit, word, local, 0);
        }
        self.record_counted(holder, permit, outcome, elapsed, local)
    }

    /// [`record`](Breaker::record) of anything but a plain success: counted, flagged, timed,
    /// then judged. Out of line, so the plain success inlined into a caller stays small.
    #[inline(never)]
    fn record_counted(
        &self,
        holder: Option<&dyn ProbeHolder>,
        permit: Permit,
        outcome: Outcome,
        elapsed: u64,
        local: Local<'_>,
    ) -> Option<Transition> {
        match outcome {
            Outcome::Success => local.bump(|c| &c.successes),
            Outcome::Failure => local.bump(|c| &c.failures),
            Outcome::Timeout => {
                local.bump(|c| &c.failures);
                local.bump(|c| &c.timeouts);
            }
            Outcome::Ignored => return self.record_ignored(holder, permit, local),
        }
        let flags = self.inner.rules.flags(outcome != Outcome::Success, elapsed);
        if flags & crate::rules::SLOW != 0 {
            local.bump(|c| &c.slow);
        }
        if let Some(h) = &self.histogram {
            h.record(elapsed);
        }
        let word = self.load();
        self.judge(holder, permit, word, local, flags)
    }

    /// Whether a success that took `elapsed_nanos` counts as nothing more than a success: no
    /// window flag and no histogram to feed.
    #[inline(always)]
    fn is_plain(&self, elapsed_nanos: u64) -> bool {
        elapsed_nanos < self.inner.rules.healthy_below() && self.histogram.is_none()
    }

    /// A plain success (see [`is_plain`](Breaker::is_plain)) on a current closed permit, once
    /// counted: into the window, and the failures in a row reset. A success never trips a rule.
    #[inline(always)]
    pub(crate) fn record_plain_success(&self, local: Local<'_>) {
        local
            .stripe
            .window
            .record(0, || self.clock.now_nanos(), local.exclusive);
        if self.consecutive.load(Relaxed) != 0 {
            self.consecutive.store(0, Relaxed);
        }
    }

    /// The rest of [`record`](Breaker::record) once the outcome is counted: what the report
    /// does in `word`, given the call's window flags (a failure carries [`FAILURE`]).
    #[inline(never)]
    fn judge(
        &self,
        holder: Option<&dyn ProbeHolder>,
        permit: Permit,
        word: Word,
        local: Local<'_>,
        flags: u8,
    ) -> Option<Transition> {
        if !permit.is_current(word) {
            forget(holder, permit);
            local.bump(|c| &c.stale);
            return None;
        }
        match word.state() {
            State::Closed => self.record_closed(word, local, flags),
            State::HalfOpen if !let_go(holder, permit) => {
                local.bump(|c| &c.stale);
                None
            }
            State::HalfOpen if flags != 0 => self.probe_reported(word, ProbeReport::Unhealthy),
            State::HalfOpen => self.probe_reported(word, self.enough_probes(word)),
            _ => None,
        }
    }

    /// [`record`](Breaker::record) of an ignored outcome: counted, and a current probe's slot
    /// freed. Its own function, so that a caller that goes, reporting the probes it holds, adds
    /// no call site to `record`, which a binding then inlines into its hot path.
    pub(crate) fn record_ignored(
        &self,
        holder: Option<&dyn ProbeHolder>,
        permit: Permit,
        local: Local<'_>,
    ) -> Option<Transition> {
        local.bump(|c| &c.ignored);
        let word = self.load();
        if !permit.is_current(word) {
            forget(holder, permit);
            local.bump(|c| &c.stale);
        } else if word.state() == State::HalfOpen {
            if let_go(holder, permit) {
                self.probe_reported(word, ProbeReport::Release);
            } else {
                local.bump(|c| &c.stale);
            }
        }
        None
    }

    #[inline]
    fn record_closed(&self, word: Word, local: Local<'_>, flags: u8) -> Option<Transition> {
        if flags != 0 {
            // Successes reported through callers' lanes came first: in the window before this
            // call, and resetting the failures in a row.
            self.fold_successes();
        }
        local
            .stripe
            .window
            .record(flags, || self.clock.now_nanos(), local.exclusive);
        let rules = &self.inner.rules;
        if flags & FAILURE != 0 {
            let in_a_row = self.consecutive.fetch_add(1, Relaxed).saturating_add(1);
            let threshold = rules.consecutive_failures();
            if threshold > 0 && in_a_row >= threshold {
                return self.trip(word, Reason::ConsecutiveFailures);
            }
        } else if self.consecutive.load(Relaxed) != 0 {
            self.consecutive.store(0, Relaxed);
        }
        // Rules are checked when an unhealthy call is recorded: a success never opens a breaker.
        if flags != 0 {
            let counts = self.window_counts_folded();
            if let Some(reason) = rules.window_trip(counts) {
                return self.trip(word, reason);
            }
        }
        None
    }

    /// The current window, summed over stripes. Read while calls are recorded, a count of
    /// failures (or slow calls) may include a call whose entry in `calls` is not read yet: each
    /// is capped at `calls`, so a rate never exceeds 100 %.
    pub fn window_counts(&self) -> WindowCounts {
        self.fold_successes();
        self.window_counts_folded()
    }

    /// [`window_counts`](Breaker::window_counts) once pending successes are folded in.
    pub(crate) fn window_counts_folded(&self) -> WindowCounts {
        let now = self.clock.now_nanos();
        let mut counts = WindowCounts::default();
        for stripe in self.stripes.iter() {
            stripe.window.add_counts(now, &mut counts);
        }
        counts.failures = counts.failures.min(counts.calls);
        counts.slow = counts.slow.min(counts.calls);
        counts.over_latency = counts.over_latency.min(counts.calls);
        counts
    }
}
