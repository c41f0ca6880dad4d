//! Callers: one thread's handle on a breaker, counting the calls it lets through, so a call let
//! through on the state word alone (without `try_acquire`) is seen in metrics while it runs.
//!
//! A caller's `started` count is written by its thread alone, through memory it may share with
//! another runtime (a JavaScript typed array over it); `finished` by the same thread when the call
//! is recorded. Metrics sum the callers alive, under a lock the hot path never takes. When a
//! caller is dropped (its thread ended, or its handle was collected) its calls are folded into
//! the breaker's totals, and the calls it never reported are counted as ignored, so nothing is
//! left in flight by a thread that is gone.

use std::cell::Cell;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::breaker::Breaker;
use crate::permit::{Outcome, Permit, Rejected};
use crate::state::Transition;
use std::time::Duration;

/// One caller's counts, on cache lines of their own: its thread writes them on every call.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Counts {
    /// Calls let through, wrapping at 2^32 (the width another runtime can write in one store).
    started: AtomicU32,
    /// Calls reported, exact.
    finished: AtomicU64,
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

    pub(crate) fn totals(&self) -> CallerTotals {
        let state = self.lock();
        let live = state.live.iter().fold(0u64, |sum, c| sum.saturating_add(c.read().0));
        CallerTotals {
            started: state.retired.saturating_add(live),
            abandoned: state.abandoned,
        }
    }
}

/// One thread's caller of a breaker, from [`Breaker::caller`]: it counts the calls it lets
/// through, including those let through on the [`state_word`](Breaker::state_word) alone, so
/// metrics count them as in flight while they run.
///
/// A caller belongs to one thread (it is `Send` but not `Sync`): its counts are written without
/// locked instructions. Dropping it folds its counts into the breaker's; calls it let through and
/// never reported are then counted as ignored.
///
/// ```
/// use breakwater::{Breaker, Config, Outcome};
/// use std::time::Duration;
///
/// let breaker = Breaker::new("quotes", Config::default())?;
/// let caller = breaker.caller();
/// let permit = breaker.try_acquire_as(&caller).unwrap();
/// assert_eq!(breaker.metrics().in_flight, 1);
/// breaker.record_as(&caller, permit, Outcome::Success, Duration::from_millis(2));
/// assert_eq!((breaker.metrics().calls, breaker.metrics().in_flight), (1, 0));
/// # Ok::<(), breakwater::ConfigError>(())
/// ```
#[derive(Debug)]
pub struct Caller {
    counts: Arc<Counts>,
    callers: Arc<Callers>,
    one_thread: PhantomData<Cell<()>>,
}

impl Caller {
    /// The count of calls started, for a binding that counts a call let through on the state
    /// word by adding 1 to it (wrapping) from the caller's thread, through shared memory. Only
    /// that thread may write it.
    pub fn started(&self) -> &AtomicU32 {
        &self.counts.started
    }

    /// Counts one call let through on the state word (what a binding does through `started`).
    #[inline]
    pub fn start(&self) {
        let started = &self.counts.started;
        started.store(started.load(Relaxed).wrapping_add(1), Release);
    }

    /// Counts one call reported, unless every call started is reported already (a forged permit).
    #[inline]
    fn finish(&self) {
        let (started, finished) = (&self.counts.started, &self.counts.finished);
        let done = finished.load(Relaxed);
        if started.load(Relaxed) != done as u32 {
            finished.store(done + 1, Release);
        }
    }

    fn belongs_to(&self, breaker: &Breaker) -> bool {
        Arc::ptr_eq(&self.callers, &breaker.inner.callers)
    }
}

impl Drop for Caller {
    fn drop(&mut self) {
        let mut state = self.callers.lock();
        let (started, running) = self.counts.read();
        state.live.retain(|c| !Arc::ptr_eq(c, &self.counts));
        state.retired = state.retired.saturating_add(started);
        state.abandoned = state.abandoned.saturating_add(running);
    }
}

impl Breaker {
    /// A new caller of this breaker, for one thread (see [`Caller`]).
    pub fn caller(&self) -> Caller {
        let counts = Arc::new(Counts::default());
        let callers = self.inner.callers.clone();
        callers.lock().live.push(counts.clone());
        Caller {
            counts,
            callers,
            one_thread: PhantomData,
        }
    }

    /// [`try_acquire`](Breaker::try_acquire), counting the call in `caller` (a caller of this
    /// breaker).
    #[inline]
    pub fn try_acquire_as(&self, caller: &Caller) -> Result<Permit, Rejected> {
        if !caller.belongs_to(self) {
            return self.try_acquire();
        }
        let permit = self.admit()?;
        caller.start();
        Ok(permit)
    }

    /// [`record`](Breaker::record) for a call `caller` let through: by
    /// [`try_acquire_as`](Breaker::try_acquire_as), or on the state word after counting it in
    /// [`Caller::started`].
    #[inline]
    pub fn record_as(
        &self,
        caller: &Caller,
        permit: Permit,
        outcome: Outcome,
        elapsed: Duration,
    ) -> Option<Transition> {
        if !caller.belongs_to(self) {
            return self.record(permit, outcome, elapsed);
        }
        caller.finish();
        self.record(permit, outcome, elapsed)
    }
}
