//! What a breaker's callers counted: the live callers' counts and the totals of those gone (see
//! [`Caller`](crate::Caller)). Metrics read them under a lock the hot path never takes.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// One caller's counts, on cache lines of their own: its thread writes them on every call.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Counts {
    /// Calls let through, wrapping at 2^32 (the width another runtime can write in one store).
    pub(crate) started: AtomicU32,
    /// Calls reported, exact.
    pub(crate) finished: AtomicU64,
}

impl Counts {
    /// `(started, running)`: `finished` is read first, so `started`, read after it, is at
    /// least as recent and `running` is never negative.
    fn read(&self) -> (u64, u64) {
        let finished = self.finished.load(Acquire);
        let started = self.started.load(Acquire);
        let running = u64::from(started.wrapping_sub(finished as u32));
        // More than 2^31 running is a forged report (more finished than started): none run.
        let running = if running > u64::from(i32::MAX as u32) {
            0
        } else {
            running
        };
        (finished.saturating_add(running), running)
    }
}

/// A breaker's callers: those alive, and the totals of those gone.
#[derive(Debug, Default)]
pub(crate) struct Callers {
    state: Mutex<CallersState>,
}

#[derive(Debug, Default)]
struct CallersState {
    live: Vec<Arc<Counts>>,
    /// Calls let through by callers gone.
    retired: u64,
    /// Of those, calls never reported: their caller went first (its thread ended mid-call).
    abandoned: u64,
}

/// What the callers counted, as metrics read it.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct CallerTotals {
    /// Calls let through by every caller, alive or gone.
    pub(crate) started: u64,
    /// Calls whose caller went before reporting them.
    pub(crate) abandoned: u64,
}

impl Callers {
    fn lock(&self) -> MutexGuard<'_, CallersState> {
        // Nothing panics under this lock; recover anyway rather than spread a poison.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new caller's counts, counted among the live ones.
    pub(crate) fn join(&self) -> Arc<Counts> {
        let counts = Arc::new(Counts::default());
        self.lock().live.push(counts.clone());
        counts
    }

    /// Folds a caller's counts into the totals of callers gone; its calls not reported are
    /// counted as abandoned.
    pub(crate) fn retire(&self, counts: &Arc<Counts>) {
        let mut state = self.lock();
        let (started, running) = counts.read();
        state.live.retain(|c| !Arc::ptr_eq(c, counts));
        state.retired = state.retired.saturating_add(started);
        state.abandoned = state.abandoned.saturating_add(running);
    }

    pub(crate) fn totals(&self) -> CallerTotals {
        let state = self.lock();
        let live = state.live.iter().fold(0u64, |sum, c| sum.saturating_add(c.read().0));
        CallerTotals {
            started: state.retired.saturating_add(live),
            abandoned: state.abandoned,
        }
    }
}
