//! Isolation: a breaker forced open for as long as anyone holds it (reference-counted).
//!
//! An isolation is one stay in forced open that [`Breaker::isolate`] put the breaker in. Every
//! `isolate` takes a hold on it (starting it if none is in force); [`Breaker::end_isolation`]
//! gives a hold back, and the last one closes the breaker, but only if it is still in that very
//! forced-open state: anything else that changed the breaker in the meantime (`reset`, `disable`,
//! `force_open`, a new forced-open deadline) ended the isolation, its holds release nothing, and
//! the state is left as that change made it.

use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::breaker::Breaker;
use crate::state::{Reason, State, Transition, Word, NEVER_MS};

/// A breaker's isolation, changed only under its lock (never on the hot path).
#[derive(Debug, Default)]
pub(crate) struct Isolations {
    state: Mutex<IsolationState>,
}

#[derive(Debug, Default)]
struct IsolationState {
    /// Which isolation the holds belong to; a hold of an earlier one releases nothing.
    epoch: u64,
    /// Holds not given back.
    holds: u64,
    /// The state word the isolation put (or found) the breaker in: while the breaker still has
    /// exactly this word, the isolation is in force.
    word: u64,
    /// Whether the last hold closes the breaker: not when the isolation began on a breaker that
    /// someone had already forced open until reset, which only a reset ends.
    close_at_end: bool,
}

/// One hold on a breaker's isolation, from [`Breaker::isolate`]: give it back to
/// [`Breaker::end_isolation`]. Dropped without that, the isolation lasts until `reset`.
#[must_use = "the breaker stays forced open until the hold is given back to end_isolation"]
#[derive(Debug, PartialEq, Eq)]
pub struct Isolation {
    epoch: u64,
}

impl Isolations {
    fn lock(&self) -> MutexGuard<'_, IsolationState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Breaker {
    /// Forces the breaker open, without a deadline, until every hold taken this way is given
    /// back to [`end_isolation`](Breaker::end_isolation); the last one closes it. Returns the
    /// hold, and the transition if this call made one.
    ///
    /// Holds join the isolation in force; if none is (or something else changed the breaker
    /// since), this call starts one. A breaker that someone had already forced open until reset
    /// is left as it is, and so is it when the isolation ends. While isolated,
    /// [`half_open`](Breaker::half_open) does not move the breaker.
    ///
    /// ```
    /// use breakwater::{Breaker, Config, State};
    ///
    /// let breaker = Breaker::new("orders", Config::default())?;
    /// let (mine, _) = breaker.isolate();
    /// let (theirs, _) = breaker.isolate();
    /// assert!(breaker.end_isolation(mine).is_none(), "another hold keeps it isolated");
    /// assert_eq!(breaker.state(), State::ForcedOpen);
    /// assert_eq!(breaker.end_isolation(theirs).unwrap().to, State::Closed);
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn isolate(&self) -> (Isolation, Option<Transition>) {
        let (hold, transition) = self.isolate_quietly();
        self.tell(transition);
        (hold, transition)
    }

    fn isolate_quietly(&self) -> (Isolation, Option<Transition>) {
        let mut s = self.inner.isolation.lock();
        let word = self.load();
        if s.holds > 0 && word.0 == s.word {
            s.holds += 1;
            return (Isolation { epoch: s.epoch }, None);
        }
        s.epoch += 1;
        s.holds = 1;
        let forced_until_reset = word.state() == State::ForcedOpen && word.deadline_ms() == NEVER_MS;
        let (transition, word) = if forced_until_reset {
            (None, word)
        } else {
            self.force_word(State::ForcedOpen, NEVER_MS, Reason::Manual)
        };
        s.word = word.0;
        s.close_at_end = !forced_until_reset;
        (Isolation { epoch: s.epoch }, transition)
    }

    /// Gives back a hold from [`isolate`](Breaker::isolate). The last hold of the isolation in
    /// force closes the breaker (reason `Manual`) if nothing else changed it since; returns that
    /// transition. A hold of an isolation that already ended releases nothing.
    pub fn end_isolation(&self, hold: Isolation) -> Option<Transition> {
        let transition = self.end_isolation_quietly(hold);
        self.tell(transition);
        transition
    }

    fn end_isolation_quietly(&self, hold: Isolation) -> Option<Transition> {
        let mut s = self.inner.isolation.lock();
        if hold.epoch != s.epoch || s.holds == 0 {
            return None;
        }
        s.holds -= 1;
        if s.holds > 0 || !s.close_at_end {
            return None;
        }
        let word = Word(s.word);
        if self.load() != word {
            return None;
        }
        self.transition_quietly(word, State::Closed, 0, Reason::Manual, self.clock.now_nanos())
            .ok()
    }

    /// Listeners hear of a transition made under the isolation lock once it is let go, so one
    /// may isolate or end an isolation itself.
    fn tell(&self, transition: Option<Transition>) {
        if let Some(t) = &transition {
            self.inner.listeners.notify(t);
        }
    }

    /// Whether an [isolation](Breaker::isolate) is in force: held, and the breaker still in the
    /// forced-open state it put (or found) it in.
    pub fn is_isolated(&self) -> bool {
        let s = self.inner.isolation.lock();
        s.holds > 0 && self.load().0 == s.word
    }
}
