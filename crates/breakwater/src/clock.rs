//! Time, injected: every breaker reads a [`Clock`] instead of the system time, so tests move time
//! by hand ([`FakeClock`]) and never sleep.

use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// A monotonic source of time, in nanoseconds since the clock's own origin.
///
/// Breakers only compare and subtract readings of the same clock, so the origin is arbitrary.
pub trait Clock: Send + Sync + Debug {
    /// Nanoseconds since this clock's origin; never decreases.
    fn now_nanos(&self) -> u64;
}

/// The production clock: monotonic, shared by the whole process.
///
/// On Linux it reads `CLOCK_MONOTONIC_COARSE`, which costs a few nanoseconds instead of the ~20 of a
/// precise read and is exact to the kernel tick (1-4 ms). That is plenty for open durations and window
/// buckets; call latencies are measured by the caller, not with this clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct MonotonicClock;

impl MonotonicClock {
    /// The process-wide monotonic clock as a shareable handle.
    pub fn shared() -> Arc<dyn Clock> {
        static SHARED: OnceLock<Arc<dyn Clock>> = OnceLock::new();
        SHARED.get_or_init(|| Arc::new(MonotonicClock)).clone()
    }
}

impl Clock for MonotonicClock {
    #[inline]
    fn now_nanos(&self) -> u64 {
        monotonic_nanos()
    }
}

#[cfg(target_os = "linux")]
#[inline]
fn monotonic_nanos() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call, and
    // CLOCK_MONOTONIC_COARSE exists on every Linux since 2.6.32.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    if rc != 0 {
        return instant_nanos();
    }
    // A monotonic clock's seconds since boot stay far below the 584 years that would overflow.
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

#[cfg(not(target_os = "linux"))]
#[inline]
fn monotonic_nanos() -> u64 {
    instant_nanos()
}

/// On Linux the fallback of a failed `clock_gettime`: out of line there, so a clock read keeps a
/// small frame.
#[cfg_attr(target_os = "linux", cold, inline(never))]
fn instant_nanos() -> u64 {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    let origin = *ORIGIN.get_or_init(Instant::now);
    u64::try_from(origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// A clock that only moves when told to. Clones share the same time.
///
/// ```
/// use breakwater::{Clock, FakeClock};
/// use std::time::Duration;
///
/// let clock = FakeClock::new();
/// let same = clock.clone();
/// clock.advance(Duration::from_millis(1500));
/// assert_eq!(same.now_nanos(), 1_500_000_000);
/// ```
#[derive(Debug, Clone, Default)]
pub struct FakeClock {
    nanos: Arc<AtomicU64>,
}

impl FakeClock {
    /// A fake clock at time zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves time forward by `by` (saturating at `u64::MAX` nanoseconds).
    pub fn advance(&self, by: Duration) {
        let by = crate::units::nanos(by);
        let _ = self
            .nanos
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |now| Some(now.saturating_add(by)));
    }

    /// Sets the time, as long as that does not move it backwards; returns the time now.
    pub fn set_nanos(&self, nanos: u64) -> u64 {
        self.nanos.fetch_max(nanos, Ordering::AcqRel).max(nanos)
    }
}

impl Clock for FakeClock {
    #[inline]
    fn now_nanos(&self) -> u64 {
        self.nanos.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_clock_never_goes_backwards() {
        let clock = MonotonicClock;
        let mut last = clock.now_nanos();
        for _ in 0..10_000 {
            let now = clock.now_nanos();
            assert!(now >= last);
            last = now;
        }
    }

    #[test]
    fn fake_clock_refuses_to_move_backwards() {
        let clock = FakeClock::new();
        clock.advance(Duration::from_secs(2));
        assert_eq!(clock.set_nanos(1), 2_000_000_000);
        assert_eq!(clock.set_nanos(3_000_000_000), 3_000_000_000);
    }
}
