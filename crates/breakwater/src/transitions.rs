//! Every change of state: the one compare-and-swap loop that applies the decisions of
//! [`decide`](crate::decide), the swap of a transition, and the bookkeeping its winner does.

use std::sync::atomic::Ordering::*;
use std::sync::PoisonError;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::backoff::unit_random;
use crate::breaker::{Breaker, Inner};
use crate::decide::{decide, Answer, Change, Event, Limits, ProbeReport, Step};
use crate::events::TransitionEvent;
use crate::moves::Moves;
use crate::state::{is_legal, Reason, State, Transition, Word, NEVER_MS};
use crate::units::{nanos, NANOS_PER_MS};

impl Inner {
    /// The breaker's [`Moves`], allocated on the first call. Its jitter seed is the one the
    /// breaker was made with: the creation time (its `since`, unchanged until this first
    /// transition) and the name's length.
    pub(crate) fn moves(&self) -> &Moves {
        self.moves.get_or_init(|| {
            let seed = self.since_nanos.load(Acquire) ^ (self.name.len() as u64).rotate_left(32);
            Moves::new(seed)
        })
    }
}

/// What [`Breaker::apply`] did.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Applied {
    /// What the caller gets.
    pub(crate) answer: Answer,
    /// The word the last swap installed, or the word read when the decision was to stay.
    pub(crate) word: Word,
    /// The last transition made, if any.
    pub(crate) transition: Option<Transition>,
    /// The time of the last decision (nanoseconds of the clock; 0 if it read none).
    pub(crate) now: u64,
}

impl Breaker {
    #[inline(always)]
    fn limits(&self) -> Limits {
        Limits {
            max_probes: self.inner.rules.max_probes(),
            probe_ms: self.inner.rules.probe_ms(),
        }
    }

    /// The one loop that changes the state word: decides `event` on `word`, swaps, and on a lost
    /// swap decides again on the word found. Only the winner of a swap runs its side effects
    /// (bookkeeping and the hub in [`swap_state`](Breaker::swap_state), then the breaker's own
    /// listeners, outside any lock, when `tell`; a caller holding a lock tells them itself).
    #[inline(always)]
    pub(crate) fn apply(&self, mut word: Word, mut event: Event, tell: bool) -> Applied {
        let (mut resume, mut made, mut now) = (None, None, 0);
        loop {
            // An isolated breaker is not moved by a health check: checked on every attempt, as
            // an isolation may begin while it runs.
            if matches!(event, Event::HealthCheck { .. }) && word.state().is_open() && self.is_isolated() {
                return Applied {
                    answer: Answer::Done,
                    word,
                    transition: made,
                    now,
                };
            }
            if event.reads_clock() {
                now = self.clock.now_nanos();
            }
            let (change, then) = match decide(word, event, now, self.limits()) {
                Step::Swap { change, then } => (change, then),
                Step::First { first, then } => {
                    (event, resume) = (first, Some(then));
                    continue;
                }
                Step::Stay(answer) => match resume.take() {
                    Some(back) => {
                        (event, word) = (back, self.load());
                        continue;
                    }
                    None => {
                        return Applied {
                            answer,
                            word,
                            transition: made,
                            now,
                        }
                    }
                },
            };
            match self.change(word, change, now) {
                Ok((next, transition)) => {
                    if let Some(t) = &transition {
                        made = transition;
                        if tell {
                            self.inner.moves().listeners.notify(t);
                        }
                    }
                    match resume.take() {
                        Some(back) => (event, word) = (back, self.load()),
                        None => {
                            return Applied {
                                answer: then,
                                word: next,
                                transition: made,
                                now,
                            }
                        }
                    }
                }
                Err(actual) => word = actual,
            }
        }
    }

    /// One attempt at `change` on `word`: the new word and the transition, or the word found.
    #[inline(always)]
    fn change(&self, word: Word, change: Change, now: u64) -> Result<(Word, Option<Transition>), Word> {
        match change {
            Change::Transition { to, reason, .. } => {
                debug_assert!(is_legal(word.state(), to), "{:?} -> {to:?}", word.state());
                if to == State::Closed {
                    // Closed windows start empty. Clearing before the swap is safe: no window is
                    // written in the states a breaker closes from (after it, a call of the new
                    // closed period could be counted and then cleared).
                    self.clear_closed_state();
                }
                let next = change.apply(word, || self.open_deadline_ms(now));
                self.swap_state(word, next, reason, now).map(|t| (next, Some(t)))
            }
            Change::Renew { .. } => {
                let next = change.apply(word, || NEVER_MS);
                if word.state() == State::Closed {
                    self.clear_closed_state();
                    if let Some(moves) = self.inner.moves.get() {
                        moves.reopen_attempt.store(0, Relaxed);
                    }
                }
                let swapped = self.word.compare_exchange(word.0, next.0, AcqRel, Acquire);
                swapped.map(|_| (next, None)).map_err(Word)
            }
            Change::TakeProbe { .. } => {
                let next = change.apply(word, || NEVER_MS);
                let swapped = self.word.compare_exchange_weak(word.0, next.0, AcqRel, Acquire);
                swapped.map(|_| (next, None)).map_err(|actual| self.lost_swap(actual))
            }
            Change::ReleaseProbe => {
                let next = change.apply(word, || NEVER_MS);
                let swapped = self.word.compare_exchange_weak(word.0, next.0, AcqRel, Acquire);
                swapped.map(|_| (next, None)).map_err(Word)
            }
        }
    }

    /// The swap of every transition: `from -> next`. Its winner does the bookkeeping and tells
    /// the registry's subscribers; with anyone subscribed it holds the breaker's order lock from
    /// the swap to the telling, so they hear of its transitions in the order they happened. The
    /// breaker's own listeners are the caller's to tell, outside any loop or lock.
    pub(crate) fn swap_state(&self, from: Word, next: Word, reason: Reason, now: u64) -> Result<Transition, Word> {
        let hub = self.inner.hub.as_deref().filter(|hub| hub.any());
        let _order = hub.map(|_| self.inner.moves().order.lock().unwrap_or_else(PoisonError::into_inner));
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
        self.inner.moves().cas_retries.fetch_add(1, Relaxed);
        Word(actual)
    }

    /// The winner's bookkeeping of a transition: time open, counts, backoff.
    fn bookkeep(&self, from: State, to: State, reason: Reason, now: u64) -> Transition {
        let moves = self.inner.moves();
        let since = self.inner.since_nanos.swap(now, AcqRel);
        if from.is_open() {
            moves.open_nanos_total.fetch_add(now.saturating_sub(since), Relaxed);
        }
        moves.transition_counts[from as usize * 5 + to as usize].fetch_add(1, Relaxed);
        match to {
            State::Open | State::ForcedOpen => moves.times_opened.fetch_add(1, Relaxed),
            State::HalfOpen => moves.times_half_opened.fetch_add(1, Relaxed),
            _ => 0,
        };
        if to == State::Closed {
            moves.reopen_attempt.store(0, Relaxed);
        } else if to == State::Open {
            moves.reopen_attempt.fetch_add(1, Relaxed);
        }
        Transition {
            from,
            to,
            reason,
            at_nanos: now,
        }
    }

    fn clear_closed_state(&self) {
        // Successes still pending in callers' lanes belong to the window being cleared.
        self.discard_pending();
        self.consecutive.store(0, Relaxed);
        for stripe in self.stripes.iter() {
            stripe.window.clear();
        }
    }

    /// The deadline of the next opening: backoff by the reopens so far, with jitter.
    fn open_deadline_ms(&self, now: u64) -> u64 {
        let moves = self.inner.moves();
        let attempt = moves.reopen_attempt.load(Relaxed);
        let seed = moves.jitter_seed.fetch_add(0x9E37_79B9_7F4A_7C15, Relaxed);
        let open_for = self
            .inner
            .rules
            .load()
            .config
            .open_duration
            .jittered(attempt, unit_random(seed));
        deadline_ms(now, open_for)
    }

    /// Closed -> Open on a rule of `reason`, if the closed period of `word` lasts.
    pub(crate) fn trip(&self, word: Word, reason: Reason) -> Option<Transition> {
        let generation = word.generation();
        self.apply(word, Event::Trip { generation, reason }, true).transition
    }

    /// A probe of the half-open period of `word` reported: reopen, close or free its slot.
    pub(crate) fn probe_reported(&self, word: Word, report: ProbeReport) -> Option<Transition> {
        let generation = word.generation();
        self.apply(word, Event::Probe { generation, report }, true).transition
    }

    /// A probe succeeded: counted in its half-open period; whether enough of them have.
    pub(crate) fn enough_probes(&self, word: Word) -> ProbeReport {
        let generation = word.generation();
        let counted = self
            .inner
            .moves()
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
        if counted < u64::from(self.inner.rules.half_open_successes()) {
            ProbeReport::Release
        } else {
            ProbeReport::Enough
        }
    }

    /// Moves to `to` whatever the state (see [`Event::Force`]), telling the listeners.
    pub(crate) fn force(&self, to: State, deadline_ms: u64, reason: Reason) -> Option<Transition> {
        let event = Event::Force {
            to,
            deadline_ms,
            reason,
        };
        self.apply(self.load(), event, true).transition
    }

    /// [`force`](Breaker::force) without telling the listeners; returns the transition, if it
    /// was one, and the word installed (or found, when nothing changed).
    pub(crate) fn force_word(&self, to: State, deadline_ms: u64, reason: Reason) -> (Option<Transition>, Word) {
        let applied = self.apply(
            self.load(),
            Event::Force {
                to,
                deadline_ms,
                reason,
            },
            false,
        );
        (applied.transition, applied.word)
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use crate::{Breaker, Config, Outcome, State};

    #[test]
    fn a_breaker_allocates_its_moves_at_its_first_transition_and_its_callers_with_its_first_caller() {
        let config = Config {
            consecutive_failures: Some(2),
            ..Config::default()
        };
        let breaker = Arc::new(Breaker::new("lazy", config).unwrap());
        let call = |outcome| {
            let permit = breaker.try_acquire().unwrap();
            breaker.record(permit, outcome, Duration::from_millis(1))
        };
        call(Outcome::Success);
        call(Outcome::Failure);
        let m = breaker.metrics();
        assert_eq!(
            (m.calls, m.times_opened, m.cas_retries, breaker.is_isolated()),
            (2, 0, 0, false)
        );
        assert_eq!(breaker.persisted().reopen_attempt, 0);
        assert!(
            breaker.inner.moves.get().is_none(),
            "closed calls and reads never make them"
        );
        assert_eq!(call(Outcome::Failure).map(|t| t.to), Some(State::Open));
        assert!(breaker.inner.moves.get().is_some());
        assert_eq!(breaker.metrics().times_opened, 1);

        assert_eq!(breaker.metrics().in_flight, 0);
        assert!(breaker.inner.callers.is_empty(), "no caller yet");
        let caller = breaker.caller();
        assert!(!breaker.inner.callers.is_empty());
        drop(caller);
    }

    #[test]
    fn what_every_breaker_keeps_off_its_hot_line_fits_in_104_bytes() {
        // Inner is its own allocation: 104 bytes take a 112-byte malloc chunk; a field more
        // takes the next size (examples/memory.rs prints the sizes).
        let size = std::mem::size_of::<crate::breaker::Inner>();
        assert!(size <= 104, "{size}");
    }
}
