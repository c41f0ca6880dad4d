//! Callers: one thread's handle on a breaker, counting the calls it lets through, so a call let
//! through on the state word alone (without `try_acquire`) is seen in metrics while it runs.
//!
//! A caller's `started` count is written by its thread alone, through memory it may share with
//! another runtime (a JavaScript typed array over it); `finished` by the same thread when the call
//! is recorded. Metrics sum the callers alive, under a lock the hot path never takes. When a
//! caller is dropped (its thread ended, or its handle was collected) its calls are folded into
//! the breaker's totals, and the calls it never reported are counted as ignored, so nothing is
//! left in flight by a thread that is gone.
//!
//! A caller also remembers the half-open probes it took and has not reported (permits marked as
//! held by it), and reports them as ignored when it is dropped: a probe slot must not stay taken
//! until the probe expiry (60 s by default) by a thread that can no longer report.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU32, Ordering::*};
use std::sync::Arc;
use std::time::Duration;

use crate::breaker::Breaker;
use crate::callers::{Counts, Lane};
use crate::permit::{Outcome, Permit, ProbeHolder, Rejected, HELD};
use crate::state::Transition;

/// One thread's caller of a breaker, from [`Breaker::caller`]: it counts the calls it lets
/// through, including those let through on the [`state_word`](Breaker::state_word) alone, so
/// metrics count them as in flight while they run.
///
/// A caller belongs to one thread (it is `Send` but not `Sync`): its counts are written without
/// locked instructions. Dropping it folds its counts into the breaker's; calls it let through and
/// never reported are then counted as ignored.
///
/// A half-open probe it takes ([`try_acquire_as`](Breaker::try_acquire_as)) is held by it until
/// it reports it with [`record_as`](Breaker::record_as); one it still holds when dropped is
/// reported then, as ignored, so its slot frees at once (if its half-open period has ended, the
/// report is stale, as any late report). Report a held probe through this caller only: any other
/// report of it counts as stale, so a slot is never freed twice.
///
/// ```
/// use breakwater::{Breaker, Config, Outcome};
/// use std::{sync::Arc, time::Duration};
///
/// let breaker = Arc::new(Breaker::new("quotes", Config::default())?);
/// let caller = breaker.caller();
/// let permit = breaker.try_acquire_as(&caller).unwrap();
/// assert_eq!(breaker.metrics().in_flight, 1);
/// breaker.record_as(&caller, permit, Outcome::Success, Duration::from_millis(2));
/// assert_eq!((breaker.metrics().calls, breaker.metrics().in_flight), (1, 0));
/// # Ok::<(), breakwater::ConfigError>(())
/// ```
#[derive(Debug)]
pub struct Caller {
    breaker: Arc<Breaker>,
    counts: Arc<Counts>,
    /// The probes it took and has not reported, as raw permits marked [`HELD`]. The `RefCell`
    /// also keeps the caller out of `Sync`: its counts have one writer.
    held: RefCell<Vec<u32>>,
}

impl Caller {
    /// The count of calls started, for a binding that counts a call let through on the state
    /// word by adding 1 to it (wrapping) from the caller's thread, through shared memory. Only
    /// that thread may write it.
    pub fn started(&self) -> &AtomicU32 {
        &self.counts.lane.started
    }

    /// The caller's [`Lane`], for a binding that lets calls through on the state word and reports
    /// their successes through memory (see [`Lane`]). Handing it out sets its `fast` flag.
    pub fn lane(&self) -> &Lane {
        self.breaker.inner.callers.lane_opened();
        let fast = self.breaker.takes_lane_successes();
        self.counts.lane.fast.store(u32::from(fast), Release);
        &self.counts.lane
    }

    /// Counts one call let through on the state word (what a binding does through `started`).
    #[inline]
    pub fn start(&self) {
        let started = &self.counts.lane.started;
        started.store(started.load(Relaxed).wrapping_add(1), Release);
    }

    /// Counts one call reported, unless every call started is reported already (a forged permit).
    #[inline]
    fn finish(&self) {
        let (started, finished) = (&self.counts.lane.started, &self.counts.finished);
        let done = finished.load(Relaxed);
        if started.load(Relaxed) != done.wrapping_add(self.counts.succeeded()) as u32 {
            finished.store(done + 1, Release);
        }
    }

    fn belongs_to(&self, breaker: &Breaker) -> bool {
        std::ptr::eq(Arc::as_ptr(&self.breaker), breaker)
    }

    /// Takes `probe` as held by this caller, until it reports it or goes.
    #[cold]
    fn hold(&self, probe: Permit) -> Permit {
        let held = probe.held();
        self.held.borrow_mut().push(held.raw());
        held
    }
}

impl ProbeHolder for Caller {
    /// Lets go of `permit` if it is a probe this caller holds; returns whether it did. Probes of
    /// one half-open period are alike, so which of two alike ones it lets go of does not matter:
    /// each frees one slot, once.
    #[cold]
    #[inline(never)]
    fn let_go(&self, permit: Permit) -> bool {
        if !permit.is_held() {
            return false;
        }
        let mut held = self.held.borrow_mut();
        let found = held.iter().position(|&raw| raw == permit.raw());
        found.map(|i| held.swap_remove(i)).is_some()
    }
}

impl Drop for Caller {
    fn drop(&mut self) {
        // The probes it still holds are reported as its thread would have: ignored, freeing their
        // slots now (or stale, if their half-open period has ended).
        for raw in std::mem::take(self.held.get_mut()) {
            self.finish();
            let probe = Permit::from_raw(raw & !HELD);
            self.breaker.record_ignored(None, probe, self.breaker.local());
        }
        let pending = self.counts.claim();
        self.breaker.fold(pending);
        self.breaker.inner.callers.retire(&self.counts);
    }
}

impl Breaker {
    /// Whether successes may be reported through a caller's [`Lane`]: with a count window and
    /// no rule reading durations, a success always counts the same (no flags, no histogram), so
    /// folding it in later, in order before the next failure this breaker judges, is exact.
    pub(crate) fn takes_lane_successes(&self) -> bool {
        let config = self.inner.rules.config();
        matches!(config.window, crate::config::Window::Count(_)) && !config.uses_call_duration()
    }

    /// Folds in every caller's pending successes (see [`Lane`]): before a failure is judged and
    /// before any read, so rules and metrics see every success reported so far.
    #[inline]
    pub(crate) fn fold_successes(&self) {
        self.inner.callers.claim_pending(|pending| self.fold(pending));
    }

    /// Counts `successes` successes as `record` does in the closed state: counters, window (in
    /// the folding thread's stripe) and consecutive failures.
    pub(crate) fn fold(&self, successes: u64) {
        if successes == 0 {
            return;
        }
        let local = self.local();
        crate::counters::add(&local.stripe.counters.successes, successes, local.exclusive);
        // A count window of n slots holds the last n calls: more successes than that leave the
        // same window as n of them.
        let times = match self.inner.rules.load().config.window {
            crate::config::Window::Count(n) => successes.min(u64::from(n.max(1))),
            crate::config::Window::Time { .. } => successes,
        };
        for _ in 0..times {
            self.record_plain_success(local);
        }
    }

    /// For a change of rules or window at run time (`configure`): first folds what is pending
    /// under the old rules, then tells every caller whether successes may still go through its
    /// lane. A success a caller's thread is reporting through its lane at that very moment is
    /// folded under the new rules, as a report racing the change would be.
    pub(crate) fn refresh_lanes(&self) {
        self.fold_successes();
        self.inner.callers.set_fast(self.takes_lane_successes());
    }

    /// Counts every caller's pending successes in the counters only: the window they belong to
    /// is being cleared (so a success of the closed period that ended never lands in the next).
    pub(crate) fn discard_pending(&self) {
        self.inner.callers.claim_pending(|pending| {
            let local = self.local();
            crate::counters::add(&local.stripe.counters.successes, pending, local.exclusive);
        });
    }

    /// A new caller of this breaker, for one thread (see [`Caller`]). It keeps the breaker alive:
    /// when it goes, it reports the probes it still holds.
    pub fn caller(self: &Arc<Self>) -> Caller {
        let counts = self.inner.callers.join();
        Caller {
            breaker: self.clone(),
            counts,
            held: RefCell::default(),
        }
    }

    /// [`try_acquire`](Breaker::try_acquire), counting the call in `caller` (a caller of this
    /// breaker). A half-open probe is held by `caller` until it reports it with
    /// [`record_as`](Breaker::record_as), or goes (see [`Caller`]).
    #[inline(always)]
    pub fn try_acquire_as(&self, caller: &Caller) -> Result<Permit, Rejected> {
        if !caller.belongs_to(self) {
            return self.try_acquire();
        }
        let word = self.load();
        if word.is_closed() {
            caller.start();
            return Ok(Permit::new(word, None));
        }
        self.acquire_unclosed(word, |permit| {
            caller.start();
            if permit.is_probe() {
                return caller.hold(permit);
            }
            permit
        })
    }

    /// [`record`](Breaker::record) for a call `caller` let through: by
    /// [`try_acquire_as`](Breaker::try_acquire_as), or on the state word after counting it in
    /// [`Caller::started`]. A probe `caller` holds is let go of; a probe held by another caller
    /// (or reported already) counts as stale.
    #[inline]
    pub fn record_as(
        &self,
        caller: &Caller,
        permit: Permit,
        outcome: Outcome,
        elapsed: Duration,
    ) -> Option<Transition> {
        if !caller.belongs_to(self) {
            return self.record_by_stranger(permit, outcome, elapsed);
        }
        caller.finish();
        self.record_by(Some(caller), permit, outcome, elapsed)
    }

    /// [`record`](Breaker::record) for a caller of another breaker: out of line, so that the
    /// hot path a binding inlines holds one copy of `record`.
    #[cold]
    #[inline(never)]
    fn record_by_stranger(&self, permit: Permit, outcome: Outcome, elapsed: Duration) -> Option<Transition> {
        self.record(permit, outcome, elapsed)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering::*;
    use std::sync::Arc;

    use crate::{Breaker, Config};

    #[test]
    fn refreshing_the_lanes_folds_what_is_pending_and_sets_every_flag_again() {
        let breaker = Arc::new(Breaker::new("lanes", Config::default()).unwrap());
        let caller = breaker.caller();
        let lane = caller.lane();
        lane.started.store(2, Relaxed);
        lane.succeeded.store(2, Relaxed);
        lane.fast.store(0, Relaxed); // as if the rules had changed under it
        breaker.refresh_lanes();
        assert_eq!(lane.fast.load(Relaxed), 1);
        assert_eq!(caller.counts.claim(), 0, "folded already");
        let m = breaker.metrics();
        assert_eq!((m.successes, m.in_flight, m.window.calls), (2, 0, 2));
    }
}
