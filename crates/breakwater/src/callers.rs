//! What a breaker's callers counted: the live callers' counts and the totals of those gone (see
//! [`Caller`](crate::Caller)). Metrics read them under a lock the hot path never takes.
//!
//! A caller's successes reported through memory (its [`Lane`]) are *pending* until the breaker
//! folds them in: into its counters, window and consecutive failures, as a success reported
//! with a call would have been. The breaker folds before it judges a failure, before every read
//! (metrics, window counts), and when a caller goes; it drops them from the window (counting them
//! still) when it clears the window.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::*};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// The part of a caller's counts that another runtime (JavaScript, through a typed array over
/// these 12 bytes) reads and writes, in this order: three little-endian `u32`s.
#[derive(Debug, Default)]
#[repr(C)]
pub struct Lane {
    /// Calls let through, wrapping at 2^32 (the width another runtime can write in one store).
    /// Written by the caller's thread only.
    pub started: AtomicU32,
    /// Successes reported through memory instead of a call, wrapping at 2^32: add 1 for a call
    /// let through on a closed state word when the word still holds the same permit and `fast`
    /// is 1. Written by the caller's thread only.
    pub succeeded: AtomicU32,
    /// 1 when the breaker takes successes through `succeeded` (a count window, and no rule that
    /// reads a call's duration: a success then always counts the same); 0 when every outcome must
    /// be reported with a call. Written by the core.
    pub fast: AtomicU32,
}

/// One caller's counts, on cache lines of their own: its thread writes them on every call.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Counts {
    pub(crate) lane: Lane,
    /// Calls reported with a call, exact.
    pub(crate) finished: AtomicU64,
    /// Of the lane's successes, those folded into the breaker, exact. Advanced by whoever folds
    /// (any thread) with a compare-and-swap, so each success is folded once.
    folded: AtomicU64,
}

impl Counts {
    /// Successes reported through the lane, exact: the folded ones and those pending.
    pub(crate) fn succeeded(&self) -> u64 {
        let folded = self.folded.load(Acquire);
        let lane = self.lane.succeeded.load(Acquire);
        folded.wrapping_add(u64::from(lane.wrapping_sub(folded as u32)))
    }

    /// Takes the successes pending (not folded yet) for the caller to fold in; 0 if none.
    #[inline]
    pub(crate) fn claim(&self) -> u64 {
        let mut folded = self.folded.load(Acquire);
        loop {
            let pending = u64::from(self.lane.succeeded.load(Acquire).wrapping_sub(folded as u32));
            // More than 2^31 pending is a forged count (the lane ran backwards): nothing to fold.
            if pending == 0 || pending > u64::from(i32::MAX as u32) {
                return 0;
            }
            match self
                .folded
                .compare_exchange_weak(folded, folded + pending, AcqRel, Acquire)
            {
                Ok(_) => return pending,
                Err(now) => folded = now,
            }
        }
    }

    /// `(started, running)`: what is reported is read first, so `started`, read after it, is
    /// at least as recent and `running` is never negative.
    fn read(&self) -> (u64, u64) {
        let finished = self.finished.load(Acquire).wrapping_add(self.succeeded());
        let started = self.lane.started.load(Acquire);
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
    /// Whether any caller's lane was handed out, so successes may be pending: until then folding
    /// costs one load and no lock.
    lanes: AtomicBool,
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

    /// Marks that a caller's lane was handed out: from now on, folding looks at the callers.
    pub(crate) fn lane_opened(&self) {
        self.lanes.store(true, Release);
    }

    /// Calls `fold` with each live caller's pending successes, taken so no one folds them again.
    #[inline]
    pub(crate) fn claim_pending(&self, mut fold: impl FnMut(u64)) {
        if !self.lanes.load(Acquire) {
            return;
        }
        let state = self.lock();
        for counts in &state.live {
            let pending = counts.claim();
            if pending != 0 {
                fold(pending);
            }
        }
    }

    /// Sets every live caller's `fast` flag (see [`Lane`]).
    pub(crate) fn set_fast(&self, fast: bool) {
        for counts in &self.lock().live {
            counts.lane.fast.store(u32::from(fast), Release);
        }
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
