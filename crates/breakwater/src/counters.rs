//! Counters written by one thread or by many: the plain-store fast case and the shared one.

use std::sync::atomic::{AtomicU64, Ordering::*};

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

/// Adds `delta` to a counter: with a plain load and store when the caller is the stripe's only
/// writer, else with an atomic read-modify-write.
#[inline]
pub(crate) fn add(counter: &AtomicU64, delta: u64, exclusive: bool) {
    if exclusive {
        counter.store(counter.load(Relaxed).wrapping_add(delta), Relaxed);
    } else {
        counter.fetch_add(delta, Relaxed);
    }
}
