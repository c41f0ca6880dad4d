//! A consistent-enough snapshot of a breaker's counters, window and latency.

use std::sync::atomic::{AtomicU64, Ordering::*};
use std::time::Duration;

use crate::breaker::Breaker;
use crate::histogram::LatencySummary;
use crate::moves::Moves;
use crate::rules::WindowCounts;
use crate::state::{State, NEVER_MS};
use crate::units::NANOS_PER_MS;

/// What a breaker has seen since it was created. Counters are read one by one while calls go
/// on, so a snapshot taken under load may be off by the calls in flight at that moment; but it
/// is consistent in itself: no count is negative, rates stay within 0..=100 %, and latency
/// percentiles are ordered within min and max.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    /// State now.
    pub state: State,
    /// Since when, in nanoseconds of the breaker's clock.
    pub state_since_nanos: u64,
    /// How long the breaker has been in its state.
    pub time_in_state: Duration,
    /// Open or forced open until a deadline: how long until it lets a probe through (zero once
    /// the deadline has passed and the next call will probe).
    pub retry_after: Option<Duration>,
    /// Every call asked for: `successes + failures + ignored + rejections + in_flight`.
    pub calls: u64,
    /// Calls that succeeded.
    pub successes: u64,
    /// Calls that failed, timeouts included.
    pub failures: u64,
    /// Calls whose outcome was ignored, and calls whose [`Caller`](crate::Caller) went before
    /// they were reported (a thread that ended mid-call).
    pub ignored: u64,
    /// Calls refused.
    pub rejections: u64,
    /// Permitted calls not reported yet, those let through on the state word by a
    /// [`Caller`](crate::Caller) included.
    pub in_flight: u64,
    /// Failures that were timeouts.
    pub timeouts: u64,
    /// Calls at least as slow as the slow-call duration.
    pub slow_calls: u64,
    /// Outcomes reported after the breaker had moved on: counted above, but moved no state.
    pub stale: u64,
    /// Transitions to open or forced open.
    pub times_opened: u64,
    /// Transitions to half-open.
    pub times_half_opened: u64,
    /// Time spent open or forced open, the current stay included.
    pub time_open: Duration,
    /// `successes / (successes + failures)` in percent; 100 before any call.
    pub success_rate: f64,
    /// Failures in a row now.
    pub consecutive_failures: u32,
    /// The sliding window now.
    pub window: WindowCounts,
    /// Failure share of the window, in percent.
    pub window_failure_rate: f64,
    /// Slow-call share of the window, in percent.
    pub window_slow_call_rate: f64,
    /// Latency of every measured call, if the breaker tracks latency.
    pub latency: Option<LatencySummary>,
    /// Compare-and-swap attempts lost to another thread: contention on transitions.
    pub cas_retries: u64,
    /// Transitions made since the breaker was created, `[from][to]` in [`State::ALL`] order.
    pub transitions: [[u64; 5]; 5],
}

impl Breaker {
    /// A snapshot of the breaker's metrics.
    pub fn metrics(&self) -> Metrics {
        // Successes reported through callers' lanes are counted before anything is read.
        self.fold_successes();
        let s = &self.stripes;
        let inner = &self.inner;
        let now = self.clock.now_nanos();
        let word = self.load();
        // Outcomes first, then what was let through: a call is let through before its outcome
        // is counted, so in flight is never made negative by a call reported in between.
        let successes = s.sum(|c| &c.successes);
        let failures = s.sum(|c| &c.failures);
        let callers = inner.callers.totals();
        let moves = inner.moves.get();
        let ignored = s.sum(|c| &c.ignored).saturating_add(callers.abandoned);
        let acquired = s.sum(|c| &c.acquired).saturating_add(callers.started);
        let rejections = s.sum(|c| &c.rejected);
        let since = inner.since_nanos.load(Acquire);
        let open_now = if word.state().is_open() {
            now.saturating_sub(since)
        } else {
            0
        };
        let window = self.window_counts_folded();
        let decided = successes.saturating_add(failures);
        Metrics {
            state: word.state(),
            state_since_nanos: since,
            time_in_state: Duration::from_nanos(now.saturating_sub(since)),
            retry_after: (word.state().is_open() && word.deadline_ms() != NEVER_MS)
                .then(|| Duration::from_nanos((word.deadline_ms() * NANOS_PER_MS).saturating_sub(now))),
            calls: acquired.saturating_add(rejections),
            successes,
            failures,
            ignored,
            rejections,
            in_flight: acquired.saturating_sub(decided.saturating_add(ignored)),
            timeouts: s.sum(|c| &c.timeouts),
            slow_calls: s.sum(|c| &c.slow),
            stale: s.sum(|c| &c.stale),
            times_opened: moved(moves, |m| &m.times_opened),
            times_half_opened: moved(moves, |m| &m.times_half_opened),
            time_open: Duration::from_nanos(moved(moves, |m| &m.open_nanos_total).saturating_add(open_now)),
            success_rate: if decided == 0 {
                100.0
            } else {
                successes as f64 * 100.0 / decided as f64
            },
            consecutive_failures: self.consecutive.load(Relaxed),
            window_failure_rate: window.failure_rate(),
            window_slow_call_rate: window.slow_call_rate(),
            window,
            latency: self.histogram.as_ref().map(|h| h.summary()),
            cas_retries: moved(moves, |m| &m.cas_retries),
            transitions: std::array::from_fn(|from| {
                std::array::from_fn(|to| moved(moves, |m| &m.transition_counts[from * 5 + to]))
            }),
        }
    }
}

/// A count of a breaker's moves: 0 until it has moved.
fn moved(moves: Option<&Moves>, count: impl Fn(&Moves) -> &AtomicU64) -> u64 {
    moves.map_or(0, |m| count(m).load(Relaxed))
}
