//! Every change of state: the one compare-and-swap that makes it and the bookkeeping its winner
//! does.

use std::sync::atomic::Ordering::*;
use std::sync::PoisonError;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::backoff::unit_random;
use crate::breaker::Breaker;
use crate::events::TransitionEvent;
use crate::state::{is_legal, Reason, State, Transition, Word, NEVER_MS};
use crate::units::{nanos, NANOS_PER_MS};

impl Breaker {
    /// One attempt at `from -> to`. Only the winner of the swap reports the transition.
    pub(crate) fn transition(
        &self,
        from: Word,
        to: State,
        deadline_ms: u64,
        reason: Reason,
        now: u64,
    ) -> Result<Transition, Word> {
        let t = self.transition_quietly(from, to, deadline_ms, reason, now)?;
        self.inner.listeners.notify(&t);
        Ok(t)
    }

    /// [`transition`](Breaker::transition) without telling the listeners: for a caller that
    /// holds a lock, and tells them once it has let go.
    pub(crate) fn transition_quietly(
        &self,
        from: Word,
        to: State,
        deadline_ms: u64,
        reason: Reason,
        now: u64,
    ) -> Result<Transition, Word> {
        debug_assert!(is_legal(from.state(), to), "{:?} -> {to:?}", from.state());
        if to == State::Closed {
            // Closed windows start empty. Clearing before the swap is safe: no window is written
            // in the states a breaker closes from.
            self.clear_closed_state();
        }
        self.swap_state(from, from.next(to, deadline_ms), reason, now)
    }

    /// The swap of every transition: `from -> next`. Its winner does the bookkeeping and tells
    /// the registry's subscribers; with anyone subscribed it holds the breaker's order lock from
    /// the swap to the telling, so they hear of its transitions in the order they happened. The
    /// breaker's own listeners are the caller's to tell, outside any loop or lock.
    pub(crate) fn swap_state(&self, from: Word, next: Word, reason: Reason, now: u64) -> Result<Transition, Word> {
        let hub = self.inner.hub.as_deref().filter(|hub| hub.any());
        let _order = hub.map(|_| self.inner.order.lock().unwrap_or_else(PoisonError::into_inner));
        match self.word.compare_exchange(from.0, next.0, AcqRel, Acquire) {
            Ok(_) => {
                let transition = self.bookkeep(from.state(), next.state(), reason, now);
                if let Some(hub) = hub {
                    hub.notify(&TransitionEvent {
                        name: self.inner.name.clone(),
                        breaker_id: self.inner.id,
                        transition,
                        at_unix_ms: SystemTime::now()
                            .duration_since(UNIX_EPOCH)
                            .map_or(0, |d| d.as_millis() as u64),
                        retry_after: retry_after(next, now),
                    });
                }
                Ok(transition)
            }
            Err(actual) => Err(self.lost_swap(actual)),
        }
    }

    /// Counts a swap lost to another thread; the word it found.
    pub(crate) fn lost_swap(&self, actual: u64) -> Word {
        self.inner.cas_retries.fetch_add(1, Relaxed);
        Word(actual)
    }

    /// The winner's bookkeeping of a transition: time open, counts, backoff.
    fn bookkeep(&self, from: State, to: State, reason: Reason, now: u64) -> Transition {
        let inner = &self.inner;
        let since = inner.since_nanos.swap(now, AcqRel);
        if from.is_open() {
            inner.open_nanos_total.fetch_add(now.saturating_sub(since), Relaxed);
        }
        inner.transition_counts[from as usize * 5 + to as usize].fetch_add(1, Relaxed);
        match to {
            State::Open | State::ForcedOpen => inner.times_opened.fetch_add(1, Relaxed),
            State::HalfOpen => inner.times_half_opened.fetch_add(1, Relaxed),
            _ => 0,
        };
        if to == State::Closed {
            inner.reopen_attempt.store(0, Relaxed);
        } else if to == State::Open {
            inner.reopen_attempt.fetch_add(1, Relaxed);
        }
        Transition {
            from,
            to,
            reason,
            at_nanos: now,
        }
    }

    fn clear_closed_state(&self) {
        self.consecutive.store(0, Relaxed);
        for stripe in self.stripes.iter() {
            stripe.window.clear();
        }
    }

    /// The deadline of the next opening: backoff by the reopens so far, with jitter.
    fn open_deadline_ms(&self, now: u64) -> u64 {
        let inner = &self.inner;
        let attempt = inner.reopen_attempt.load(Relaxed);
        let seed = inner.jitter_seed.fetch_add(0x9E37_79B9_7F4A_7C15, Relaxed);
        let open_for = inner.config.open_duration.jittered(attempt, unit_random(seed));
        deadline_ms(now, open_for)
    }

    /// Closed -> Open, if `word` is still current.
    pub(crate) fn trip(&self, word: Word, reason: Reason) -> Option<Transition> {
        let now = self.clock.now_nanos();
        self.transition(word, State::Open, self.open_deadline_ms(now), reason, now)
            .ok()
    }

    /// HalfOpen -> Open, for as long as the half-open period of `word` lasts.
    pub(crate) fn reopen(&self, mut word: Word, reason: Reason, now: u64) -> Option<Transition> {
        let generation = word.generation();
        while word.state() == State::HalfOpen && word.generation() == generation {
            match self.transition(word, State::Open, self.open_deadline_ms(now), reason, now) {
                Ok(t) => return Some(t),
                Err(actual) => word = actual,
            }
        }
        None
    }

    /// A probe succeeded: close after enough of them, else free its slot.
    pub(crate) fn probe_succeeded(&self, word: Word) -> Option<Transition> {
        let generation = word.generation();
        let counted = self
            .inner
            .probe_successes
            .fetch_update(AcqRel, Acquire, |packed| {
                let count = if packed >> 32 == generation {
                    packed & 0xffff_ffff
                } else {
                    0
                };
                Some((generation << 32) | (count + 1))
            })
            .map_or(1, |packed| {
                if packed >> 32 == generation {
                    (packed & 0xffff_ffff) + 1
                } else {
                    1
                }
            });
        if counted < u64::from(self.inner.config.half_open_successes) {
            self.release_probe(word);
            return None;
        }
        let now = self.clock.now_nanos();
        let mut word = word;
        while word.state() == State::HalfOpen && word.generation() == generation {
            match self.transition(word, State::Closed, 0, Reason::ProbesSucceeded, now) {
                Ok(t) => return Some(t),
                Err(actual) => word = actual,
            }
        }
        None
    }

    /// Frees one probe slot of the half-open period of `word`.
    pub(crate) fn release_probe(&self, mut word: Word) {
        let generation = word.generation();
        while word.state() == State::HalfOpen && word.generation() == generation && word.in_flight() > 0 {
            let next = word.with_probes(word.in_flight() - 1, word.deadline_ms());
            match self.word.compare_exchange_weak(word.0, next.0, AcqRel, Acquire) {
                Ok(_) => return,
                Err(actual) => word = Word(actual),
            }
        }
    }

    pub(crate) fn force(&self, to: State, deadline_ms: u64, reason: Reason) -> Option<Transition> {
        let (transition, _) = self.force_word(to, deadline_ms, reason);
        if let Some(t) = &transition {
            self.inner.listeners.notify(t);
        }
        transition
    }

    /// Moves to `to` whatever the state, without telling the listeners; returns the transition,
    /// if it was one, and the word installed (or found, when nothing changed).
    pub(crate) fn force_word(&self, to: State, deadline_ms: u64, reason: Reason) -> (Option<Transition>, Word) {
        loop {
            let word = self.load();
            let now = self.clock.now_nanos();
            if word.state() != to {
                match self.transition_quietly(word, to, deadline_ms, reason, now) {
                    Ok(t) => return (Some(t), word.next(to, deadline_ms)),
                    Err(_) => continue,
                }
            }
            // Not a transition, but a new generation: a reset of a closed breaker so that permits
            // taken before it cannot count in the cleared window, a forced-open breaker forced
            // again so that whoever forced it before can tell (an isolation ends with it).
            let next = match to {
                State::Closed | State::ForcedOpen => word.next(to, deadline_ms),
                _ => return (None, word),
            };
            if to == State::Closed {
                self.clear_closed_state();
                self.inner.reopen_attempt.store(0, Relaxed);
            }
            if self.word.compare_exchange(word.0, next.0, AcqRel, Acquire).is_ok() {
                return (None, next);
            }
        }
    }
}

/// Deadlines are kept in whole milliseconds, rounded down: a breaker may probe up to 1 ms early
/// (finer than the coarse clock), but never reports a `retry_after` above its open duration.
fn deadline_ms(now: u64, after: Duration) -> u64 {
    now.saturating_add(nanos(after)) / NANOS_PER_MS
}

/// How long after `now` a breaker moved to `next` lets a probe through, if it opened until a
/// deadline.
fn retry_after(next: Word, now: u64) -> Option<Duration> {
    let deadline = next.deadline_ms();
    (next.state().is_open() && deadline != NEVER_MS)
        .then(|| Duration::from_nanos((deadline * NANOS_PER_MS).saturating_sub(now)))
}
