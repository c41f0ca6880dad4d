//! The manual controls: what a person or a program does to a breaker (reset, disable, force open,
//! hold off, half-open on a health check, isolate), and its transition listeners.

use std::sync::Arc;
use std::time::Duration;

use crate::breaker::Breaker;
use crate::decide::Event;
use crate::events::ListenerId;
use crate::isolation::Isolation;
use crate::state::{Reason, State, Transition, Word, NEVER_MS};
use crate::units::NANOS_PER_MS;

impl Breaker {
    /// Closes the breaker from any state and forgets its window, consecutive failures and
    /// backoff. Lifetime metrics are kept. Returns the transition, if the breaker was not closed.
    pub fn reset(&self) -> Option<Transition> {
        self.force(State::Closed, 0, Reason::Manual)
    }

    /// Lets every call through and counts it, with no rule able to open the breaker, until
    /// [`reset`](Breaker::reset) or [`force_open`](Breaker::force_open).
    pub fn disable(&self) -> Option<Transition> {
        self.force(State::Disabled, 0, Reason::Manual)
    }

    /// Refuses every call, for `duration` if given (then probes, half-open) or until reset. Forcing
    /// a forced-open breaker again sets its deadline; it reports no transition, but ends an
    /// [isolation](Breaker::isolate) in force (the breaker is now forced open by this call).
    pub fn force_open(&self, duration: Option<Duration>) -> Option<Transition> {
        let deadline = duration.map(|d| {
            self.clock
                .now_nanos()
                .saturating_add(d.as_nanos().min(u64::MAX as u128) as u64)
        });
        self.force_open_until(deadline, Reason::Manual)
    }

    /// Refuses every call until `deadline_nanos` of the breaker's clock (`None`: until reset),
    /// giving `reason`: the hook fleet-wide sync uses, with [`Reason::Remote`]. Forcing a
    /// forced-open breaker again moves its deadline and reports no transition.
    pub fn force_open_until(&self, deadline_nanos: Option<u64>, reason: Reason) -> Option<Transition> {
        let deadline_ms = deadline_nanos.map_or(NEVER_MS, |d| d / NANOS_PER_MS);
        self.force(State::ForcedOpen, deadline_ms, reason)
    }

    /// Closes the breaker because the fleet says so ([`Reason::Remote`]: another instance's probe
    /// succeeded, or an operator closed it everywhere); otherwise like [`reset`](Breaker::reset).
    /// Returns the transition, if the breaker was not closed.
    ///
    /// ```
    /// use breakwater::{Breaker, Config, Reason, State};
    ///
    /// let breaker = Breaker::new("quotes", Config::default())?;
    /// breaker.force_open_until(None, Reason::Remote);
    /// let t = breaker.close_remote().unwrap();
    /// assert_eq!((t.from, t.to, t.reason), (State::ForcedOpen, State::Closed, Reason::Remote));
    /// assert!(breaker.close_remote().is_none(), "already closed");
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn close_remote(&self) -> Option<Transition> {
        self.force(State::Closed, 0, Reason::Remote)
    }

    /// Refuses calls until `deadline_nanos` of the breaker's clock because the dependency asked
    /// callers to wait ([`Reason::RetryAfter`], an HTTP `Retry-After`, say). Unlike
    /// [`force_open_until`](Breaker::force_open_until) it only ever makes the wait longer: an
    /// open breaker whose deadline is later, or a disabled one, is left as it is.
    ///
    /// ```
    /// use breakwater::{Breaker, Clock, Config, Reason, State};
    ///
    /// let breaker = Breaker::new("quotes", Config::default())?;
    /// let until = breaker.clock().now_nanos() + 2_000_000_000;
    /// let t = breaker.hold_off_until(until).unwrap();
    /// assert_eq!((t.to, t.reason), (State::ForcedOpen, Reason::RetryAfter));
    /// assert!(breaker.hold_off_until(until - 1_000_000_000).is_none(), "never shortened");
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn hold_off_until(&self, deadline_nanos: u64) -> Option<Transition> {
        let deadline_ms = deadline_nanos / NANOS_PER_MS;
        self.apply(self.load(), Event::HoldOff { deadline_ms }, true).transition
    }

    /// Open or forced open -> half-open now, giving `reason`: traffic resumes with probes before
    /// the open duration has passed, as when a health check found the dependency well again
    /// ([`Reason::HealthCheck`]). In any other state nothing changes and `None` is returned.
    ///
    /// ```
    /// use breakwater::{Breaker, Config, Reason, State};
    ///
    /// let breaker = Breaker::new("broker", Config::default())?;
    /// breaker.force_open(None);
    /// let t = breaker.half_open(Reason::HealthCheck).unwrap();
    /// assert_eq!((t.to, breaker.try_acquire().unwrap().is_probe()), (State::HalfOpen, true));
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    /// An [isolated](Breaker::isolate) breaker is not moved: an isolation ends only when its
    /// holders say so (or by `reset`, `disable` or `force_open`).
    pub fn half_open(&self, reason: Reason) -> Option<Transition> {
        self.apply(self.load(), Event::HealthCheck { reason }, true).transition
    }

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
        let mut s = self.inner.moves().isolation.lock();
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
        let mut s = self.inner.moves().isolation.lock();
        if hold.epoch != s.epoch || s.holds == 0 {
            return None;
        }
        s.holds -= 1;
        if s.holds > 0 || !s.close_at_end {
            return None;
        }
        let word = Word(s.word);
        self.apply(self.load(), Event::EndIsolation { word }, false).transition
    }

    /// Listeners hear of a transition made under the isolation lock once it is let go, so one
    /// may isolate or end an isolation itself.
    fn tell(&self, transition: Option<Transition>) {
        if let Some(t) = &transition {
            self.inner.moves().listeners.notify(t);
        }
    }

    /// Whether an [isolation](Breaker::isolate) is in force: held, and the breaker still in the
    /// forced-open state it put (or found) it in.
    pub fn is_isolated(&self) -> bool {
        self.inner.moves.get().is_some_and(|moves| {
            let s = moves.isolation.lock();
            s.holds > 0 && self.load().0 == s.word
        })
    }

    /// Calls `listener` after every transition, on the thread that made it.
    ///
    /// ```
    /// use breakwater::{Breaker, Config, Reason};
    /// use std::sync::{Arc, Mutex};
    ///
    /// let breaker = Breaker::new("orders", Config::default()).unwrap();
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let sink = seen.clone();
    /// let id = breaker.on_transition(move |t| sink.lock().unwrap().push((t.from, t.to, t.reason)));
    /// breaker.force_open(None);
    /// assert_eq!(seen.lock().unwrap()[0].2, Reason::Manual);
    /// assert!(breaker.remove_listener(id));
    /// ```
    pub fn on_transition(&self, listener: impl Fn(&Transition) + Send + Sync + 'static) -> ListenerId {
        self.inner.moves().listeners.add(Arc::new(listener))
    }

    /// Removes a listener; `false` if it was not registered.
    pub fn remove_listener(&self, id: ListenerId) -> bool {
        self.inner.moves.get().is_some_and(|moves| moves.listeners.remove(id))
    }
}
