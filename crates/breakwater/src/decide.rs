//! Every decision about the state word, in one pure function: given the word, what happened and
//! the time, [`decide`] says what the word becomes and what the caller gets. It reads and writes
//! nothing; the one compare-and-swap loop that applies it (`Breaker::apply`, in `transitions.rs`)
//! does the swap, and its winner the side effects (bookkeeping, backoff, telling listeners).
//!
//! The closed hot path does not come here: a closed (or disabled) breaker lets a call through on
//! one load of the word, and a report there only comes here when a rule trips.

use crate::state::{Reason, State, Word};
use crate::units::NANOS_PER_MS;

/// What happened to a breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    /// A call asks for a permit.
    Acquire,
    /// A trip rule fired on a report made in the closed period `generation`.
    Trip {
        /// The generation of the word the report was counted in.
        generation: u64,
        /// The rule that fired.
        reason: Reason,
    },
    /// A probe of the half-open period `generation` reported.
    Probe {
        /// The generation of the probe's half-open period.
        generation: u64,
        /// How it went.
        report: ProbeReport,
    },
    /// Every probe slot of the half-open period `generation` was held past the probe expiry.
    Expire {
        /// The generation of the half-open period.
        generation: u64,
    },
    /// Reset, disable, force open (until a deadline or not): move to `to` whatever the state.
    Force {
        /// The state to move to: closed, disabled or forced open.
        to: State,
        /// The deadline of the new word (forced open: `NEVER_MS` for none).
        deadline_ms: u64,
        /// Why.
        reason: Reason,
    },
    /// The dependency asked callers to wait until `deadline_ms`: forced open until then, unless
    /// the breaker is disabled or already open until as late.
    HoldOff {
        /// The end of the wait.
        deadline_ms: u64,
    },
    /// A health check (or another `reason`) moves an open breaker to half-open now.
    HealthCheck {
        /// Why.
        reason: Reason,
    },
    /// The last hold of an isolation closes the breaker, if it is still in exactly `word`.
    EndIsolation {
        /// The word the isolation put (or found) the breaker in.
        word: Word,
    },
}

/// How a probe went, as the half-open logic sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProbeReport {
    /// Failed or slow: the breaker reopens.
    Unhealthy,
    /// Succeeded, and with it enough probes of the period have: the breaker closes.
    Enough,
    /// Succeeded, but more successes are needed; or ignored: either way its slot frees.
    Release,
}

/// The configuration numbers a decision needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// `half_open_max_probes`.
    pub(crate) max_probes: u32,
    /// The probe expiry, in milliseconds.
    pub(crate) probe_ms: u64,
}

/// The deadline of a word that opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Deadline {
    /// This one, in milliseconds of the clock.
    At(u64),
    /// The open duration of the backoff, from now: the applier draws it (jitter, reopen count)
    /// only when it tries the swap.
    Backoff,
}

/// A change of the word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    /// A transition to `to`: a new generation with `probes` in flight (1 when the acquire that
    /// half-opens a breaker takes the first probe, else 0).
    Transition {
        /// The state after.
        to: State,
        /// Its deadline.
        deadline: Deadline,
        /// Probes in flight after it.
        probes: u32,
        /// Why.
        reason: Reason,
    },
    /// The same state in a new generation, not a transition: a closed breaker reset (its
    /// window, consecutive failures and backoff are cleared) or a forced-open one forced again.
    Renew {
        /// The new deadline.
        deadline_ms: u64,
    },
    /// A probe slot taken: one more in flight, the probe expiry moved to `deadline_ms`.
    TakeProbe {
        /// The new probe expiry.
        deadline_ms: u64,
    },
    /// A probe slot freed.
    ReleaseProbe,
}

/// What the caller gets once the word is settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// A permit on the word (the one installed, or the one read).
    Permit,
    /// A refusal, with the word read.
    Reject,
    /// Nothing to hand out: the event is applied (or had nothing to change).
    Done,
}

/// The decision for one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Leave the word as it is and answer.
    Stay(Answer),
    /// Swap the word for `change` applied to it, then answer; on a lost swap, decide again
    /// with the word found.
    Swap {
        /// The change.
        change: Change,
        /// The answer once it is made.
        then: Answer,
    },
    /// Apply `first` (until it is made or has nothing left to change), then decide `then`
    /// again on the word found.
    First {
        /// The event to apply first.
        first: Event,
        /// The event to come back to.
        then: Event,
    },
}

impl Event {
    /// Whether a decision on this event reads the time (a freed slot does not).
    #[inline(always)]
    pub(crate) fn reads_clock(self) -> bool {
        !matches!(
            self,
            Event::Probe {
                report: ProbeReport::Release,
                ..
            }
        )
    }
}

/// The decision on `event` for a breaker in `word` at `now` (nanoseconds of its clock).
#[inline(always)]
pub(crate) fn decide(word: Word, event: Event, now: u64, limits: Limits) -> Step {
    let state = word.state();
    let now_ms = now / NANOS_PER_MS;
    let of_period = |generation: u64| word.generation() == generation;
    match event {
        Event::Acquire => acquire(word, now_ms, limits),
        Event::Trip { generation, reason } if state == State::Closed && of_period(generation) => {
            transition(State::Open, Deadline::Backoff, reason)
        }
        Event::Probe { generation, report } if state == State::HalfOpen && of_period(generation) => match report {
            ProbeReport::Unhealthy => transition(State::Open, Deadline::Backoff, Reason::ProbeFailed),
            ProbeReport::Enough => transition(State::Closed, Deadline::At(0), Reason::ProbesSucceeded),
            ProbeReport::Release if word.in_flight() > 0 => Step::Swap {
                change: Change::ReleaseProbe,
                then: Answer::Done,
            },
            ProbeReport::Release => Step::Stay(Answer::Done),
        },
        Event::Expire { generation } if state == State::HalfOpen && of_period(generation) => {
            transition(State::Open, Deadline::Backoff, Reason::ProbeTimedOut)
        }
        Event::Force {
            to,
            deadline_ms,
            reason,
        } => force(state, to, deadline_ms, reason),
        Event::HoldOff { deadline_ms } => {
            let later = state.is_open() && word.deadline_ms() >= deadline_ms;
            if later || state == State::Disabled {
                return Step::Stay(Answer::Done);
            }
            force(state, State::ForcedOpen, deadline_ms, Reason::RetryAfter)
        }
        Event::HealthCheck { reason } if state.is_open() => {
            transition(State::HalfOpen, Deadline::At(now_ms + limits.probe_ms), reason)
        }
        Event::EndIsolation { word: isolated } if word == isolated => {
            transition(State::Closed, Deadline::At(0), Reason::Manual)
        }
        _ => Step::Stay(Answer::Done),
    }
}

#[inline(always)]
fn transition(to: State, deadline: Deadline, reason: Reason) -> Step {
    Step::Swap {
        change: Change::Transition {
            to,
            deadline,
            probes: 0,
            reason,
        },
        then: Answer::Done,
    }
}

/// An acquire in any state: closed and disabled let it through, open and forced open refuse it
/// until their deadline and then probe, half-open hands out its probe slots.
#[inline(always)]
fn acquire(word: Word, now_ms: u64, limits: Limits) -> Step {
    let probe_deadline = now_ms + limits.probe_ms;
    let probe = |reason| Step::Swap {
        change: Change::Transition {
            to: State::HalfOpen,
            deadline: Deadline::At(probe_deadline),
            probes: 1,
            reason,
        },
        then: Answer::Permit,
    };
    match word.state() {
        State::Closed | State::Disabled => Step::Stay(Answer::Permit),
        State::Open | State::ForcedOpen if now_ms < word.deadline_ms() => Step::Stay(Answer::Reject),
        State::Open => probe(Reason::OpenElapsed),
        State::ForcedOpen => probe(Reason::ForcedOpenElapsed),
        State::HalfOpen if word.in_flight() < limits.max_probes => Step::Swap {
            change: Change::TakeProbe {
                deadline_ms: probe_deadline,
            },
            then: Answer::Permit,
        },
        // Every probe slot is held past its expiry: treat the probes as failed.
        State::HalfOpen if now_ms >= word.deadline_ms() => Step::First {
            first: Event::Expire {
                generation: word.generation(),
            },
            then: Event::Acquire,
        },
        State::HalfOpen => Step::Stay(Answer::Reject),
    }
}

/// A move to `to` whatever the state; to the same state, a new generation where that means
/// something (a reset closed breaker, a forced-open one forced again).
#[inline(always)]
fn force(from: State, to: State, deadline_ms: u64, reason: Reason) -> Step {
    if from != to {
        return transition(to, Deadline::At(deadline_ms), reason);
    }
    match to {
        State::Closed | State::ForcedOpen => Step::Swap {
            change: Change::Renew { deadline_ms },
            then: Answer::Done,
        },
        _ => Step::Stay(Answer::Done),
    }
}

impl Change {
    /// The word after the change.
    #[inline(always)]
    pub(crate) fn apply(self, word: Word, open_until_ms: impl FnOnce() -> u64) -> Word {
        match self {
            Change::Transition {
                to, deadline, probes, ..
            } => {
                let deadline_ms = match deadline {
                    Deadline::At(ms) => ms,
                    Deadline::Backoff => open_until_ms(),
                };
                word.next(to, deadline_ms).with_probes(probes, deadline_ms)
            }
            Change::Renew { deadline_ms } => word.next(word.state(), deadline_ms),
            Change::TakeProbe { deadline_ms } => word.with_probes(word.in_flight() + 1, deadline_ms),
            Change::ReleaseProbe => word.with_probes(word.in_flight() - 1, word.deadline_ms()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_probes: 2,
        probe_ms: 60_000,
    };
    const MS: u64 = NANOS_PER_MS;

    #[test]
    fn an_open_breaker_refuses_until_its_deadline_then_probes() {
        let open = Word::new(State::Open, 3, 0, 100);
        assert_eq!(
            decide(open, Event::Acquire, 99 * MS, LIMITS),
            Step::Stay(Answer::Reject)
        );
        let Step::Swap { change, then } = decide(open, Event::Acquire, 100 * MS, LIMITS) else {
            panic!()
        };
        assert_eq!(then, Answer::Permit);
        let next = change.apply(open, || unreachable!());
        assert_eq!(
            (next.state(), next.generation(), next.in_flight(), next.deadline_ms()),
            (State::HalfOpen, 4, 1, 60_100)
        );
    }

    #[test]
    fn a_full_half_open_period_past_its_expiry_expires_first() {
        let full = Word::new(State::HalfOpen, 7, 2, 500);
        assert_eq!(
            decide(full, Event::Acquire, 499 * MS, LIMITS),
            Step::Stay(Answer::Reject)
        );
        let expire = Event::Expire { generation: 7 };
        assert_eq!(
            decide(full, Event::Acquire, 500 * MS, LIMITS),
            Step::First {
                first: expire,
                then: Event::Acquire
            }
        );
        assert_eq!(
            decide(full, expire, 500 * MS, LIMITS),
            transition(State::Open, Deadline::Backoff, Reason::ProbeTimedOut)
        );
        let later = Word::new(State::HalfOpen, 8, 2, 500);
        assert_eq!(decide(later, expire, 500 * MS, LIMITS), Step::Stay(Answer::Done));
    }

    #[test]
    fn probe_reports_count_only_in_their_own_half_open_period() {
        let half_open = Word::new(State::HalfOpen, 5, 1, 900);
        let report = |generation, report| Event::Probe { generation, report };
        let released = decide(half_open, report(5, ProbeReport::Release), 0, LIMITS);
        assert_eq!(
            released,
            Step::Swap {
                change: Change::ReleaseProbe,
                then: Answer::Done
            }
        );
        for r in [ProbeReport::Unhealthy, ProbeReport::Enough, ProbeReport::Release] {
            assert_eq!(decide(half_open, report(4, r), 0, LIMITS), Step::Stay(Answer::Done));
        }
        let idle = Word::new(State::HalfOpen, 5, 0, 900);
        assert_eq!(
            decide(idle, report(5, ProbeReport::Release), 0, LIMITS),
            Step::Stay(Answer::Done)
        );
    }

    #[test]
    fn hold_off_never_shortens_a_wait_nor_touches_a_disabled_breaker() {
        let open_until_900 = Word::new(State::Open, 1, 0, 900);
        let hold = |deadline_ms| Event::HoldOff { deadline_ms };
        assert_eq!(decide(open_until_900, hold(800), 0, LIMITS), Step::Stay(Answer::Done));
        assert_eq!(
            decide(open_until_900, hold(1000), 0, LIMITS),
            transition(State::ForcedOpen, Deadline::At(1000), Reason::RetryAfter)
        );
        let disabled = Word::new(State::Disabled, 1, 0, 0);
        assert_eq!(decide(disabled, hold(1000), 0, LIMITS), Step::Stay(Answer::Done));
    }

    #[test]
    fn forcing_the_state_a_breaker_is_in_renews_closed_and_forced_open_only() {
        let force = |to| Event::Force {
            to,
            deadline_ms: 0,
            reason: Reason::Manual,
        };
        for (state, step) in [
            (
                State::Closed,
                Step::Swap {
                    change: Change::Renew { deadline_ms: 0 },
                    then: Answer::Done,
                },
            ),
            (
                State::ForcedOpen,
                Step::Swap {
                    change: Change::Renew { deadline_ms: 0 },
                    then: Answer::Done,
                },
            ),
            (State::Disabled, Step::Stay(Answer::Done)),
        ] {
            assert_eq!(
                decide(Word::new(state, 1, 0, 0), force(state), 0, LIMITS),
                step,
                "{state}"
            );
        }
    }
}
