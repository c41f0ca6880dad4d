//! What `try_acquire` hands out and takes back: permits, rejections and outcomes.

use std::time::Duration;

use crate::state::{Reason, State, Transition, Word, PERMIT_BITS, STATE_BITS};

/// Permission for one call. Hand it back with [`Breaker::record`](crate::Breaker::record).
///
/// A permit is a plain value, not a guard, so it can cross an FFI boundary: [`Permit::raw`] and
/// [`Permit::from_raw`] turn it into a `u32` and back. It remembers the breaker's generation, so
/// an outcome reported after the breaker changed state is counted but cannot move the new state.
///
/// A half-open probe taken through a [`Caller`](crate::Caller) is *held* by it: only that
/// caller's [`record_as`](crate::Breaker::record_as), or the caller going, frees its slot;
/// reported any other way (or again) it counts as stale. So a probe whose caller went (its
/// thread ended) frees its slot once, at once, and never a second time.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Permit {
    /// `raw` in bits 0..32; the transition the acquire made, but its time, above: bit 32 set
    /// when there is one, its `from`, `to` and `reason` in bytes 5, 6 and 7. Two plain words,
    /// so a permit comes back from a call in two registers.
    bits: u64,
    /// The time of that transition (0 without one).
    at_nanos: u64,
}
const _: () = assert!(std::mem::size_of::<Permit>() == 16);

const MOVED: u64 = 1 << 32;
/// Never set in a permit handed out: marks the answer "refused" of an out-of-line acquire.
const REFUSED: u64 = 1 << 33;

impl std::fmt::Debug for Permit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Permit")
            .field("raw", &self.raw())
            .field("transition", &self.transition())
            .finish()
    }
}

/// The mark of a probe held by a caller, in a bit the permit does not take from the word (there,
/// the lowest bit of the probes in flight): a report of a marked probe counts only if it is
/// made by the caller that holds it (see [`Caller`](crate::Caller)).
pub(crate) const HELD: u32 = 1 << 3;
const _: () = assert!(HELD as u64 & PERMIT_BITS == 0);

/// Whoever may hold a half-open probe (a [`Caller`](crate::Caller)): a report made by it lets
/// go of a probe it holds.
pub(crate) trait ProbeHolder {
    /// Lets go of `permit` if it is a probe this holder holds; returns whether it did.
    fn let_go(&self, permit: Permit) -> bool;
}

impl Permit {
    /// A permit is the state and generation bits of the word that issued it.
    #[inline]
    pub(crate) fn new(word: Word, transition: Option<Transition>) -> Permit {
        let raw = word.0 & PERMIT_BITS;
        match transition {
            None => Permit { bits: raw, at_nanos: 0 },
            Some(t) => Permit {
                bits: raw | MOVED | (t.from as u64) << 40 | (t.to as u64) << 48 | (t.reason as u64) << 56,
                at_nanos: t.at_nanos,
            },
        }
    }

    /// The answer "refused" of an out-of-line acquire: never handed out.
    #[inline]
    pub(crate) const fn refused() -> Permit {
        Permit {
            bits: REFUSED,
            at_nanos: 0,
        }
    }

    /// Whether this is [`refused`](Permit::refused).
    #[inline]
    pub(crate) const fn is_refused(&self) -> bool {
        self.bits & REFUSED != 0
    }

    /// The permit as a number, for FFI.
    #[inline]
    pub const fn raw(&self) -> u32 {
        self.bits as u32
    }

    /// A permit from [`Permit::raw`]. Any number is accepted: one that no acquire produced is
    /// treated as stale.
    #[inline]
    pub const fn from_raw(raw: u32) -> Permit {
        Permit {
            bits: raw as u64,
            at_nanos: 0,
        }
    }

    /// The state the permit was issued in.
    #[inline]
    pub const fn state(&self) -> State {
        State::from_bits(self.bits)
    }

    /// Whether this is a half-open probe.
    #[inline]
    pub const fn is_probe(&self) -> bool {
        matches!(self.state(), State::HalfOpen)
    }

    /// The transition this acquire made (open -> half-open), if it made one.
    pub const fn transition(&self) -> Option<Transition> {
        if self.bits & MOVED == 0 {
            return None;
        }
        Some(Transition {
            from: State::ALL[byte(self.bits, 40)],
            to: State::ALL[byte(self.bits, 48)],
            reason: Reason::ALL[byte(self.bits, 56)],
            at_nanos: self.at_nanos,
        })
    }

    /// The permit marked as held by a caller.
    #[inline]
    pub(crate) const fn held(self) -> Permit {
        Permit {
            bits: self.bits | HELD as u64,
            at_nanos: self.at_nanos,
        }
    }

    /// Whether the permit is a probe held by a caller.
    #[inline]
    pub(crate) const fn is_held(&self) -> bool {
        self.bits & HELD as u64 != 0
    }

    /// Whether the breaker is still in the state and generation that issued the permit (a held
    /// probe's report counts only if its holder lets go of it, besides).
    #[inline]
    pub(crate) fn is_current(&self, word: Word) -> bool {
        (word.0 ^ self.bits) & PERMIT_BITS == 0
    }

    /// [`is_current`](Permit::is_current) in a closed `word`: the case of every report on a
    /// healthy breaker, in one test.
    #[inline]
    pub(crate) fn is_closed_in(&self, word: Word) -> bool {
        ((word.0 ^ self.bits) & PERMIT_BITS) | (word.0 & STATE_BITS) == 0
    }
}

/// The byte of `bits` from bit `at`.
const fn byte(bits: u64, at: u32) -> usize {
    ((bits >> at) & 0xff) as usize
}

/// A refused call: the breaker's state and how long until a call may be let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejected {
    /// Open, forced open, or half-open with every probe slot taken.
    pub state: State,
    /// Time until a call may be let through: open or forced open, until the deadline (`None`
    /// when forced open without one); half-open, at most
    /// [`HALF_OPEN_RETRY_AFTER`](crate::HALF_OPEN_RETRY_AFTER) (a probe slot frees when a probe
    /// reports), or less when the probes expire sooner.
    pub retry_after: Option<Duration>,
    /// A transition this acquire made before refusing (half-open -> open on expired probes).
    pub transition: Option<Transition>,
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "circuit breaker is {}", self.state)?;
        match self.retry_after {
            Some(d) => write!(f, "; retry after {} ms", d.as_millis()),
            None => Ok(()),
        }
    }
}

impl std::error::Error for Rejected {}

/// How a permitted call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// It worked. A slow success still counts toward the slow-call and latency rules.
    Success,
    /// It failed in a way that says the dependency is unwell.
    Failure,
    /// It ran out of time: a failure, also counted as a timeout.
    Timeout,
    /// It ended in a way that says nothing about the dependency (the caller cancelled, a
    /// validation error): counted, but not in windows or rules; a probe's slot is freed.
    Ignored,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_permit_keeps_every_transition_whole_beside_its_raw_bits() {
        let word = Word::new(State::HalfOpen, 8191, 3, 12_345);
        for from in State::ALL {
            for to in State::ALL {
                for reason in Reason::ALL {
                    let made = Transition {
                        from,
                        to,
                        reason,
                        at_nanos: u64::MAX - 7,
                    };
                    let permit = Permit::new(word, Some(made));
                    assert_eq!(permit.transition(), Some(made));
                    assert_eq!(permit.raw(), (word.0 & PERMIT_BITS) as u32);
                    assert!(!permit.is_refused() && !permit.is_held());
                    assert_eq!(permit.held().transition(), Some(made));
                }
            }
        }
    }

    #[test]
    fn a_permit_without_a_transition_is_its_raw_bits_and_nothing_else() {
        for raw in [0, 1, HELD, 0x00ff_f807, u32::MAX] {
            let permit = Permit::from_raw(raw);
            assert_eq!((permit.raw(), permit.transition()), (raw, None));
            assert!(!permit.is_refused());
            assert_eq!(Permit::from_raw(permit.raw()), permit);
        }
        let closed = Permit::new(Word::new(State::Closed, 7, 0, 0), None);
        assert_eq!(Permit::from_raw(closed.raw()), closed);
        assert_eq!(
            format!("{closed:?}"),
            format!("Permit {{ raw: {}, transition: None }}", closed.raw())
        );
        assert!(Permit::refused().is_refused());
    }
}
