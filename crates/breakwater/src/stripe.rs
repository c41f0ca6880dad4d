//! Per-thread stripes of a breaker's counters and window, so threads calling one healthy breaker
//! do not write to the same cache line (the LongAdder idea). Readers sum the stripes.
//!
//! Threads lease one of a few *seats* from a process-wide pool and give it back when they exit.
//! Stripe `i` of every breaker is written only by the thread holding seat `i`, so it counts with a
//! plain load and store instead of a locked read-modify-write; the lease passes from thread to
//! thread through a release/acquire pair, so the next holder continues from the last count.
//! Threads beyond the seats write the breaker's shared stripe with atomic read-modify-writes, so
//! no count is ever lost.

use std::cell::Cell;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering::*};
use std::sync::OnceLock;

use crate::config::Window;
use crate::counters::{add, Counters};
use crate::live::LiveRules;
use crate::window::SlidingWindow;

/// A cache-line-aligned stripe (128 bytes: adjacent-line prefetchers pair 64-byte lines).
#[derive(Debug)]
#[repr(align(128))]
pub(crate) struct Stripe {
    pub(crate) counters: Counters,
    pub(crate) window: SlidingWindow,
}

impl Stripe {
    fn new(window: Window) -> Box<Stripe> {
        Box::new(Stripe {
            counters: Counters::default(),
            window: SlidingWindow::new(window),
        })
    }
}

/// The calling thread's stripe, and whether the thread is its only writer.
#[derive(Clone, Copy)]
pub(crate) struct Local<'a> {
    pub(crate) stripe: &'a Stripe,
    pub(crate) exclusive: bool,
}

impl Local<'_> {
    #[inline]
    pub(crate) fn bump(&self, counter: impl Fn(&Counters) -> &AtomicU64) {
        add(counter(&self.stripe.counters), 1, self.exclusive);
    }
}

/// The most stripes a breaker has; only the ones threads use are allocated.
const MAX_STRIPES: usize = 8;

/// The stripe pointers of a breaker that has been called: one per seat, and the shared one.
/// Each is installed once, by compare-and-swap, by the first thread that needs it.
struct Set {
    own: [AtomicPtr<Stripe>; MAX_STRIPES],
    shared: AtomicPtr<Stripe>,
}

impl Set {
    const fn none() -> Set {
        Set {
            own: [const { AtomicPtr::new(std::ptr::null_mut()) }; MAX_STRIPES],
            shared: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    fn slots(&self) -> impl Iterator<Item = &AtomicPtr<Stripe>> {
        self.own.iter().chain([&self.shared])
    }
}

impl Drop for Set {
    fn drop(&mut self) {
        for slot in self.own.iter_mut().chain([&mut self.shared]) {
            let ptr = *slot.get_mut();
            if !ptr.is_null() {
                // SAFETY: the pointer came from `Box::into_raw` and `&mut self` proves no one
                // else can reach it any more.
                drop(unsafe { Box::from_raw(ptr) });
            }
        }
    }
}

/// The set of every breaker not called yet: all its slots stay null (nothing installs into
/// it: a thread that needs a stripe first gives its breaker a set of its own), so the hot path
/// finds no stripe in it and goes the slow way, without testing the set pointer for null.
static UNCALLED: Set = Set::none();

/// A breaker's stripes: one pointer, to [`UNCALLED`] until its first call, then to a [`Set`]
/// of its own, freed with the breaker with the stripes in it. A breaker never called pays 8
/// bytes for its stripes; the window's shape, which a stripe is made with, is read from the
/// breaker's rules then (it never changes: `configure` refuses another).
pub(crate) struct Stripes {
    set: AtomicPtr<Set>,
}

impl std::fmt::Debug for Stripes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stripes")
            .field("allocated", &self.iter().count())
            .finish()
    }
}

/// How many seats threads lease: twice the cores, rounded up to a power of two, at most 8. A
/// thread holds its seat until it ends, busy or not (a main thread that called once and now
/// waits), so as many seats as cores would send a running thread to the shared stripe.
fn stripe_count() -> usize {
    static COUNT: OnceLock<usize> = OnceLock::new();
    *COUNT.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        (2 * cores).next_power_of_two().min(MAX_STRIPES)
    })
}

/// The stripe in `slot`, installing a new one if there is none yet.
#[inline]
fn installed<'a>(slot: &'a AtomicPtr<Stripe>, rules: &LiveRules) -> &'a Stripe {
    let mut ptr = slot.load(Acquire);
    if ptr.is_null() {
        ptr = install(slot, rules.load().config.window);
    }
    // SAFETY: a non-null slot holds a pointer from `Box::into_raw` that is freed only in
    // `Stripes::drop`, which cannot run while `slot` is borrowed.
    unsafe { &*ptr }
}

#[cold]
#[inline(never)]
fn install(slot: &AtomicPtr<Stripe>, window: Window) -> *mut Stripe {
    let fresh = Box::into_raw(Stripe::new(window));
    match slot.compare_exchange(std::ptr::null_mut(), fresh, AcqRel, Acquire) {
        Ok(_) => fresh,
        Err(theirs) => {
            // SAFETY: `fresh` came from `Box::into_raw` just above and was never shared.
            drop(unsafe { Box::from_raw(fresh) });
            theirs
        }
    }
}

/// The seat of a thread that writes the shared stripe. Seats `0..MAX_STRIPES` index `Set::own`.
const SHARED: usize = MAX_STRIPES;
/// A thread that has not asked for a seat yet.
const UNASSIGNED: usize = usize::MAX;
/// Free seats, one bit each, seats 0 to `MAX_STRIPES - 1`.
static FREE_SEATS: AtomicU64 = AtomicU64::new((1 << MAX_STRIPES) - 1);

thread_local! {
    // Const-initialised and without a destructor: the cheapest kind of thread-local to read.
    static SEAT: Cell<usize> = const { Cell::new(UNASSIGNED) };
    // Registered when a seat is leased; gives it back when the thread exits.
    static LEASE: Lease = const { Lease };
}

struct Lease;

impl Drop for Lease {
    fn drop(&mut self) {
        let seat = SEAT.with(|l| l.replace(SHARED));
        if seat < MAX_STRIPES {
            // Release: the next holder of the seat sees every count this thread wrote.
            FREE_SEATS.fetch_or(1 << seat, Release);
        }
    }
}

/// This thread's seat: `0..stripe_count()`, or `SHARED` when all are leased.
#[inline]
fn seat() -> usize {
    SEAT.with(|l| match l.get() {
        UNASSIGNED => {
            let seat = lease();
            l.set(seat);
            seat
        }
        seat => seat,
    })
}

#[cold]
#[inline(never)]
fn lease() -> usize {
    let usable = (1u64 << stripe_count()) - 1;
    let mut free = FREE_SEATS.load(Acquire);
    loop {
        let candidates = free & usable;
        if candidates == 0 {
            return SHARED;
        }
        let seat = candidates.trailing_zeros() as usize;
        match FREE_SEATS.compare_exchange_weak(free, free & !(1 << seat), AcqRel, Acquire) {
            Ok(_) => break seat_leased(seat),
            Err(now) => free = now,
        }
    }
}

fn seat_leased(seat: usize) -> usize {
    if LEASE.try_with(|_| ()).is_err() {
        // The thread is exiting: nothing would give the seat back.
        FREE_SEATS.fetch_or(1 << seat, Release);
        return SHARED;
    }
    seat
}

impl Stripes {
    pub(crate) fn new() -> Self {
        Self {
            set: AtomicPtr::new(std::ptr::from_ref(&UNCALLED).cast_mut()),
        }
    }

    /// The set in use: [`UNCALLED`] or the breaker's own.
    #[inline(always)]
    fn set(&self) -> &Set {
        // SAFETY: the pointer is `UNCALLED`, a static, or a set from `Box::into_raw` that is
        // freed only in `Stripes::drop`, which cannot run while `self` is borrowed.
        unsafe { &*self.set.load(Acquire) }
    }

    /// The calling thread's stripe if it has one of its own already: the common case, one
    /// thread-local read, one bounds check and two loads (an unassigned or shared seat fails
    /// the bounds check, an uncalled breaker's set holds no stripe). Otherwise `None`: see
    /// [`local_slow`](Stripes::local_slow).
    #[inline(always)]
    pub(crate) fn local(&self, rules: &LiveRules) -> Local<'_> {
        if let Some(slot) = self.set().own.get(SEAT.with(Cell::get)) {
            let ptr = slot.load(Acquire);
            if !ptr.is_null() {
                // SAFETY: as in `installed`: set once from `Box::into_raw`, freed only on drop.
                return Local {
                    stripe: unsafe { &*ptr },
                    exclusive: true,
                };
            }
        }
        self.local_slow(rules)
    }

    /// The calling thread's stripe (its own, or the shared one if every seat is leased) for a
    /// thread without a seat yet, a shared seat, a breaker not called yet or a stripe not
    /// allocated yet. `rules` are the breaker's, read only to make a stripe (for the window's
    /// shape).
    #[cold]
    #[inline(never)]
    pub(crate) fn local_slow(&self, rules: &LiveRules) -> Local<'_> {
        let set = self.own_set();
        match seat() {
            SHARED => Local {
                stripe: installed(&set.shared, rules),
                exclusive: false,
            },
            seat => Local {
                stripe: installed(&set.own[seat], rules),
                exclusive: true,
            },
        }
    }

    /// The breaker's own set, made now if it has none.
    fn own_set(&self) -> &Set {
        let uncalled = std::ptr::from_ref(&UNCALLED).cast_mut();
        let current = self.set.load(Acquire);
        if current != uncalled {
            return self.set();
        }
        let fresh = Box::into_raw(Box::new(Set::none()));
        if let Err(theirs) = self.set.compare_exchange(uncalled, fresh, AcqRel, Acquire) {
            debug_assert_ne!(theirs, uncalled);
            // SAFETY: `fresh` came from `Box::into_raw` just above and was never shared.
            drop(unsafe { Box::from_raw(fresh) });
        }
        self.set()
    }

    /// The stripes allocated so far.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Stripe> {
        self.set().slots().filter_map(|slot| {
            let ptr = slot.load(Acquire);
            // SAFETY: as in `installed`: set once from `Box::into_raw`, freed only on drop.
            (!ptr.is_null()).then(|| unsafe { &*ptr })
        })
    }

    /// Sum of one counter over all stripes.
    pub(crate) fn sum(&self, field: impl Fn(&Counters) -> &AtomicU64) -> u64 {
        self.iter()
            .fold(0u64, |sum, s| sum.saturating_add(field(&s.counters).load(Relaxed)))
    }
}

impl Drop for Stripes {
    fn drop(&mut self) {
        let ptr = *self.set.get_mut();
        if ptr != std::ptr::from_ref(&UNCALLED).cast_mut() {
            // SAFETY: a set other than `UNCALLED` came from `Box::into_raw` in `own_set`, and
            // `&mut self` proves no one else can reach it any more. Dropping it frees its stripes.
            drop(unsafe { Box::from_raw(ptr) });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Breaker, Config, Outcome, Window};
    use std::time::Duration;

    fn uncalled() -> *mut Set {
        std::ptr::from_ref(&UNCALLED).cast_mut()
    }

    #[test]
    fn a_breaker_never_called_has_no_stripe_table_of_its_own() {
        let breaker = Breaker::new("idle", Config::default()).unwrap();
        assert_eq!(breaker.stripes.set.load(Relaxed), uncalled());
        assert_eq!(breaker.stripes.iter().count(), 0);
        assert_eq!(breaker.metrics().successes, 0, "reading makes nothing");
        let _ = breaker.is_call_permitted();
        assert_eq!(breaker.stripes.set.load(Relaxed), uncalled());
    }

    #[test]
    fn the_first_call_makes_a_table_and_leaves_the_shared_empty_one_empty() {
        let breaker = Breaker::new(
            "first",
            Config {
                window: Window::Time {
                    length: Duration::from_secs(10),
                    buckets: 10,
                },
                ..Config::default()
            },
        )
        .unwrap();
        let permit = breaker.try_acquire().unwrap();
        breaker.record(permit, Outcome::Success, Duration::from_millis(1));
        assert_ne!(breaker.stripes.set.load(Relaxed), uncalled());
        assert_eq!(breaker.stripes.iter().count(), 1);
        assert!(UNCALLED.slots().all(|slot| slot.load(Relaxed).is_null()));
        let stripe = breaker.stripes.iter().next().unwrap();
        match &stripe.window {
            SlidingWindow::Time(_) => {}
            SlidingWindow::Count(_) => panic!("the stripe's window is the breaker's: a time window"),
        }
        assert_eq!(breaker.window_counts().calls, 1);
        assert_eq!(breaker.metrics().successes, 1);
    }

    #[test]
    fn threads_calling_a_fresh_breaker_at_once_share_one_table() {
        for _ in 0..20 {
            let breaker = Breaker::new("race", Config::default()).unwrap();
            std::thread::scope(|s| {
                for _ in 0..4 {
                    s.spawn(|| {
                        for _ in 0..100 {
                            let permit = breaker.try_acquire().unwrap();
                            breaker.record(permit, Outcome::Success, Duration::from_millis(1));
                        }
                    });
                }
            });
            let m = breaker.metrics();
            assert_eq!((m.successes, m.in_flight), (400, 0), "no count lost to a second table");
        }
    }
}
