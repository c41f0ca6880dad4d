//! What a restart keeps of a breaker: [`Breaker::persisted`] reads it, [`Breaker::restore`]
//! applies it to a breaker of a new process. Options are never part of it: they stay in code.

use std::sync::atomic::Ordering::*;
use std::time::Duration;

use crate::breaker::Breaker;
use crate::config::Window;
use crate::rules::{WindowCounts, FAILURE, OVER_LATENCY, SLOW};
use crate::state::{is_legal, Reason, State, Transition, Word, NEVER_MS};

/// The most calls a restore puts back into a time window: refilling records one call at a time,
/// so a tampered record of 10^15 calls would hang the restore (and overflow a bucket's 32-bit
/// count). Larger counts are scaled down to it, each rate kept.
const MAX_REFILL: u64 = 1 << 20;
use crate::units::{nanos, NANOS_PER_MS};

/// A breaker's state as a new process can take it over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Persisted {
    /// The state.
    pub state: State,
    /// Open or forced open: how long from now until a call may probe; `None` when forced open
    /// until reset, and in the other states.
    pub open_for: Option<Duration>,
    /// Openings since the breaker last closed for real: picks the next open duration (backoff).
    pub reopen_attempt: u32,
    /// The state word's generation (changes on every transition). For the record: a new process
    /// has its own generations, so [`restore`](Breaker::restore) does not apply it.
    pub generation: u32,
    /// Failures in a row (closed).
    pub consecutive_failures: u32,
    /// The sliding window's counts (closed).
    pub window: WindowCounts,
}

impl Breaker {
    /// The breaker's state as [`restore`](Breaker::restore) takes it.
    pub fn persisted(&self) -> Persisted {
        // Successes pending in the callers' lanes reset the failures in a row: count them first.
        self.fold_successes();
        let word = self.load();
        let state = word.state();
        let now_ms = self.clock.now_nanos() / NANOS_PER_MS;
        let open_for = (state.is_open() && word.deadline_ms() != NEVER_MS)
            .then(|| Duration::from_millis(word.deadline_ms().saturating_sub(now_ms)));
        Persisted {
            state,
            open_for,
            reopen_attempt: self.inner.moves.get().map_or(0, |m| m.reopen_attempt.load(Relaxed)),
            generation: word.generation() as u32,
            consecutive_failures: self.consecutive.load(Relaxed),
            window: self.window_counts(),
        }
    }

    /// Takes over `p`, read from a breaker of an earlier process: made for startup, before
    /// traffic. An open or forced-open breaker stays so for the rest of its time (`open_for`
    /// from now); a half-open one comes back open until now, so its next call probes (the
    /// probes in flight died with the old process). A closed one starts from an empty window
    /// refilled with `p`'s counts (each count kept, up to what the window holds: a count window's
    /// last N calls, flagged ones kept first; a time window at most 2^20 calls, larger counts scaled
    /// down with their rates; their order is not kept) and `p`'s failures in a row. An open breaker
    /// takes `p`'s deadline even when it was open already. The backoff attempt is kept, so the next opening lasts as long as it would have.
    /// Lifetime metrics and the generation are not taken over: this process counts its own.
    /// Transitions made here carry [`Reason::Manual`]; the one made, if any, is returned.
    ///
    /// ```
    /// use breakwater::{Breaker, Config, Outcome, State};
    /// use std::time::Duration;
    ///
    /// let old = Breaker::new("quotes", Config { consecutive_failures: Some(1), ..Config::default() })?;
    /// let permit = old.try_acquire().unwrap();
    /// old.record(permit, Outcome::Failure, Duration::from_millis(1));
    /// let saved = old.persisted();
    ///
    /// let new = Breaker::new("quotes", Config { consecutive_failures: Some(1), ..Config::default() })?;
    /// new.restore(&saved);
    /// assert_eq!(new.state(), State::Open);
    /// assert!(new.try_acquire().unwrap_err().retry_after.unwrap() > Duration::from_secs(29));
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn restore(&self, p: &Persisted) -> Option<Transition> {
        let now_ms = self.clock.now_nanos() / NANOS_PER_MS;
        let until = |open_for: Option<Duration>| {
            open_for.map_or(NEVER_MS, |d| {
                now_ms.saturating_add(nanos(d) / NANOS_PER_MS).min(NEVER_MS - 1)
            })
        };
        let (to, deadline_ms) = match p.state {
            State::Closed => (State::Closed, 0),
            State::Open => (State::Open, until(p.open_for.or(Some(Duration::ZERO)))),
            State::HalfOpen => (State::Open, now_ms),
            State::ForcedOpen => (State::ForcedOpen, until(p.open_for)),
            State::Disabled => (State::Disabled, 0),
        };
        let from = self.state();
        if from != to && !is_legal(from, to) {
            // Forced open or disabled -> open passes through closed.
            self.force(State::Closed, 0, Reason::Manual);
        }
        let transition = self.force(to, deadline_ms, Reason::Manual);
        if transition.is_none() && to == State::Open {
            // Open already: forcing open again keeps the old deadline; the record's is the one to keep.
            self.renew_open(deadline_ms);
        }
        // After the move: a move to open counts as an opening of this process's backoff.
        if p.reopen_attempt != 0 || self.inner.moves.get().is_some() {
            self.inner.moves().reopen_attempt.store(p.reopen_attempt, Relaxed);
        }
        if to == State::Closed {
            self.refill(p.window);
            self.consecutive.store(p.consecutive_failures, Relaxed);
        }
        transition
    }

    /// An open breaker's deadline set to `deadline_ms` (a new generation, as any renewal).
    fn renew_open(&self, deadline_ms: u64) {
        let mut word = self.load();
        while word.state() == State::Open {
            let next = word.next(State::Open, deadline_ms);
            match self.word.compare_exchange(word.0, next.0, AcqRel, Acquire) {
                Ok(_) => return,
                Err(actual) => word = Word(actual),
            }
        }
    }

    /// Records `counts` into the (cleared) window: unflagged calls first, so that the flagged
    /// ones are the ones kept if the window is now smaller. Only as many calls as the window
    /// can hold are recorded (a count window's size; `MAX_REFILL` in a time window, scaled).
    fn refill(&self, counts: WindowCounts) {
        let (counts, kept) = match self.inner.rules.load().config.window {
            Window::Count(n) => (counts, u64::from(n)),
            Window::Time { .. } => (scaled(counts, MAX_REFILL), MAX_REFILL),
        };
        let local = self.local();
        let now = self.clock.now_nanos();
        let calls = counts.calls;
        for i in (0..calls.min(kept)).rev() {
            let flag = |count: u64, bit: u8| if i < count.min(calls) { bit } else { 0 };
            let flags =
                flag(counts.failures, FAILURE) | flag(counts.slow, SLOW) | flag(counts.over_latency, OVER_LATENCY);
            local.stripe.window.record(flags, || now, local.exclusive);
        }
    }
}

/// `counts` with at most `max` calls: larger counts are scaled down together (a flagged count
/// that was not 0 stays at least 1).
fn scaled(counts: WindowCounts, max: u64) -> WindowCounts {
    if counts.calls <= max {
        return counts;
    }
    let scale = |n: u64| {
        let n = n.min(counts.calls);
        ((u128::from(n) * u128::from(max)).div_ceil(u128::from(counts.calls)) as u64).min(max)
    };
    WindowCounts {
        calls: max,
        failures: scale(counts.failures),
        slow: scale(counts.slow),
        over_latency: scale(counts.over_latency),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, FakeClock, Outcome};
    use std::sync::Arc;

    fn pair(config: Config) -> (Breaker, Breaker, FakeClock) {
        let clock = FakeClock::new();
        let shared: Arc<FakeClock> = Arc::new(clock.clone());
        let a = Breaker::with_clock("a", config.clone(), shared.clone()).unwrap();
        let b = Breaker::with_clock("a", config, shared).unwrap();
        (a, b, clock)
    }

    fn call(b: &Breaker, outcome: Outcome) {
        let permit = b.try_acquire().unwrap();
        b.record(permit, outcome, Duration::from_millis(1));
    }

    #[test]
    fn an_open_breaker_stays_open_for_the_rest_of_its_time_and_keeps_its_backoff() {
        let (old, new, clock) = pair(Config {
            consecutive_failures: Some(1),
            ..Config::default()
        });
        call(&old, Outcome::Failure);
        clock.advance(Duration::from_secs(10));
        let saved = old.persisted();
        assert_eq!(
            (saved.state, saved.open_for, saved.reopen_attempt),
            (State::Open, Some(Duration::from_secs(20)), 1)
        );
        let t = new.restore(&saved).unwrap();
        assert_eq!((t.to, t.reason), (State::Open, Reason::Manual));
        assert_eq!(
            new.try_acquire().unwrap_err().retry_after,
            Some(Duration::from_secs(20))
        );
        clock.advance(Duration::from_secs(20));
        let probe = new.try_acquire().unwrap();
        new.record(probe, Outcome::Failure, Duration::from_millis(1));
        assert_eq!(
            new.try_acquire().unwrap_err().retry_after,
            Some(Duration::from_secs(60)),
            "the second opening of the backoff: 30 s x 2"
        );
    }

    #[test]
    fn a_closed_breaker_keeps_its_window_counts_and_failures_in_a_row() {
        let (old, new, _) = pair(Config {
            consecutive_failures: Some(5),
            ..Config::default()
        });
        for outcome in [
            Outcome::Success,
            Outcome::Failure,
            Outcome::Success,
            Outcome::Failure,
            Outcome::Failure,
        ] {
            call(&old, outcome);
        }
        let saved = old.persisted();
        assert_eq!(new.restore(&saved), None);
        assert_eq!(new.window_counts(), old.window_counts());
        assert_eq!(new.persisted().consecutive_failures, 2);
        call(&new, Outcome::Failure);
        call(&new, Outcome::Failure);
        call(&new, Outcome::Failure);
        assert_eq!(new.state(), State::Open, "2 in a row before the restart + 3 after");
    }

    #[test]
    fn a_half_open_breaker_comes_back_open_until_now_and_forced_open_keeps_no_deadline() {
        let (old, new, _) = pair(Config::default());
        old.force_open(None);
        let saved = old.persisted();
        assert_eq!(saved.open_for, None);
        new.restore(&saved);
        assert_eq!(
            (new.state(), new.try_acquire().unwrap_err().retry_after),
            (State::ForcedOpen, None)
        );
        let half = Persisted {
            state: State::HalfOpen,
            ..saved
        };
        new.restore(&half);
        assert_eq!(new.state(), State::Open);
        assert!(new.try_acquire().unwrap().is_probe(), "its next call probes");
    }

    #[test]
    fn a_record_of_more_calls_than_a_window_holds_restores_at_once() {
        let (_, new, _) = pair(Config::default());
        let huge = Persisted {
            state: State::Closed,
            open_for: None,
            reopen_attempt: 0,
            generation: 0,
            consecutive_failures: 0,
            window: WindowCounts {
                calls: 1 << 50,
                failures: 1 << 40,
                slow: 0,
                over_latency: 0,
            },
        };
        new.restore(&huge);
        assert_eq!(
            new.window_counts().calls,
            100,
            "a count window of 100 keeps the last 100 calls"
        );
        assert_eq!(new.window_counts().failures, 100, "the flagged calls are the ones kept");
        let (_, timed, _) = pair(Config {
            consecutive_failures: None,
            failure_rate: None,
            window: crate::Window::Time {
                length: Duration::from_secs(10),
                buckets: 10,
            },
            ..Config::default()
        });
        timed.restore(&huge);
        let w = timed.window_counts();
        assert_eq!(
            (w.calls, w.failures),
            (MAX_REFILL, MAX_REFILL >> 10),
            "scaled, the rate kept"
        );
    }

    #[test]
    fn restoring_an_open_record_into_an_open_breaker_takes_the_record_s_deadline() {
        let (old, new, clock) = pair(Config {
            consecutive_failures: Some(1),
            ..Config::default()
        });
        call(&old, Outcome::Failure);
        call(&new, Outcome::Failure);
        clock.advance(Duration::from_secs(25));
        let saved = Persisted {
            open_for: Some(Duration::from_secs(200)),
            ..old.persisted()
        };
        new.restore(&saved);
        assert_eq!(
            new.try_acquire().unwrap_err().retry_after,
            Some(Duration::from_secs(200)),
            "not the 5 s left of its own opening"
        );
    }
}
