//! Per-thread stripes of a breaker's counters and window, so threads calling one healthy breaker
//! do not write to the same cache line (the LongAdder idea). Readers sum the stripes.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::OnceLock;

use crate::config::Window;
use crate::window::SlidingWindow;

/// Counters of one stripe; every call lands in exactly one of successes, failures (timeouts are
/// failures too), ignored or rejected, and acquired counts the permits handed out.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) acquired: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) successes: AtomicU64,
    pub(crate) failures: AtomicU64,
    pub(crate) ignored: AtomicU64,
    pub(crate) timeouts: AtomicU64,
    pub(crate) slow: AtomicU64,
    pub(crate) stale: AtomicU64,
}

#[inline]
pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Relaxed);
}

/// A cache-line-aligned stripe (128 bytes: adjacent-line prefetchers pair 64-byte lines).
#[derive(Debug)]
#[repr(align(128))]
pub(crate) struct Stripe {
    pub(crate) counters: Counters,
    pub(crate) window: SlidingWindow,
}

/// A breaker's stripes, each allocated by the first thread that needs it.
#[derive(Debug)]
pub(crate) struct Stripes {
    slots: Box<[OnceLock<Box<Stripe>>]>,
    window: Window,
}

/// How many stripes a breaker has: the cores, rounded up to a power of two, at most 8.
fn stripe_count() -> usize {
    static COUNT: OnceLock<usize> = OnceLock::new();
    *COUNT.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        cores.next_power_of_two().min(8)
    })
}

thread_local! {
    static THREAD_INDEX: usize = {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        NEXT.fetch_add(1, Relaxed)
    };
}

impl Stripes {
    pub(crate) fn new(window: Window) -> Self {
        Self {
            slots: (0..stripe_count()).map(|_| OnceLock::new()).collect(),
            window,
        }
    }

    /// The calling thread's stripe.
    #[inline]
    pub(crate) fn local(&self) -> &Stripe {
        let i = THREAD_INDEX.with(|i| *i) & (self.slots.len() - 1);
        self.slots[i].get_or_init(|| {
            Box::new(Stripe {
                counters: Counters::default(),
                window: SlidingWindow::new(self.window),
            })
        })
    }

    /// The stripes allocated so far.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Stripe> {
        self.slots.iter().filter_map(|s| s.get().map(|b| &**b))
    }

    /// Sum of one counter over all stripes.
    pub(crate) fn sum(&self, field: impl Fn(&Counters) -> &AtomicU64) -> u64 {
        self.iter().map(|s| field(&s.counters).load(Relaxed)).sum()
    }
}
