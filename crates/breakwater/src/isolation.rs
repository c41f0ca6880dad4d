//! Isolation: a breaker forced open for as long as anyone holds it (reference-counted).
//!
//! An isolation is one stay in forced open that [`Breaker::isolate`](crate::Breaker::isolate) put the breaker in. Every
//! `isolate` takes a hold on it (starting it if none is in force); [`Breaker::end_isolation`](crate::Breaker::end_isolation)
//! gives a hold back, and the last one closes the breaker, but only if it is still in that very
//! forced-open state: anything else that changed the breaker in the meantime (`reset`, `disable`,
//! `force_open`, a new forced-open deadline) ended the isolation, its holds release nothing, and
//! the state is left as that change made it.
//!
//! This module holds the isolation's record; the controls that change it are in `controls.rs`.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// A breaker's isolation, changed only under its lock (never on the hot path).
#[derive(Debug, Default)]
pub(crate) struct Isolations {
    state: Mutex<IsolationState>,
}

#[derive(Debug, Default)]
pub(crate) struct IsolationState {
    /// Which isolation the holds belong to; a hold of an earlier one releases nothing.
    pub(crate) epoch: u64,
    /// Holds not given back.
    pub(crate) holds: u64,
    /// The state word the isolation put (or found) the breaker in: while the breaker still has
    /// exactly this word, the isolation is in force.
    pub(crate) word: u64,
    /// Whether the last hold closes the breaker: not when the isolation began on a breaker that
    /// someone had already forced open until reset, which only a reset ends.
    pub(crate) close_at_end: bool,
}

/// One hold on a breaker's isolation, from [`Breaker::isolate`](crate::Breaker::isolate): give it back to
/// [`Breaker::end_isolation`](crate::Breaker::end_isolation). Dropped without that, the isolation lasts until `reset`.
#[must_use = "the breaker stays forced open until the hold is given back to end_isolation"]
#[derive(Debug, PartialEq, Eq)]
pub struct Isolation {
    pub(crate) epoch: u64,
}

impl Isolations {
    pub(crate) fn lock(&self) -> MutexGuard<'_, IsolationState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
