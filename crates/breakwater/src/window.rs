//! Sliding windows: O(1) per recorded call, no allocation after construction, no locks.

use std::sync::atomic::{AtomicI64, AtomicU64, AtomicU8, Ordering::Relaxed};

use crate::config::Window as WindowConfig;
use crate::counters::add;
use crate::rules::{WindowCounts, FAILURE, OVER_LATENCY, SLOW};

/// One stripe's window; a breaker sums its stripes.
#[derive(Debug)]
pub(crate) enum SlidingWindow {
    Count(CountWindow),
    Time(TimeWindow),
}

impl SlidingWindow {
    pub(crate) fn new(config: WindowConfig) -> Self {
        match config {
            WindowConfig::Count(n) => SlidingWindow::Count(CountWindow::new(n)),
            WindowConfig::Time { length, buckets } => {
                let bucket_nanos = u64::try_from(length.as_nanos() / u128::from(buckets)).unwrap_or(u64::MAX);
                SlidingWindow::Time(TimeWindow::new(buckets, bucket_nanos.max(1)))
            }
        }
    }

    /// Records one call; `exclusive` says the caller is the stripe's only writer. Only a time
    /// window asks the clock.
    #[inline(always)]
    pub(crate) fn record(&self, flags: u8, now_nanos: impl FnOnce() -> u64, exclusive: bool) {
        match self {
            SlidingWindow::Count(w) => w.record(flags, exclusive),
            SlidingWindow::Time(w) => w.record(flags, now_nanos(), exclusive),
        }
    }

    pub(crate) fn add_counts(&self, now_nanos: u64, into: &mut WindowCounts) {
        match self {
            SlidingWindow::Count(w) => w.add_counts(into),
            SlidingWindow::Time(w) => w.add_counts(now_nanos, into),
        }
    }

    pub(crate) fn clear(&self) {
        match self {
            SlidingWindow::Count(w) => w.clear(),
            SlidingWindow::Time(w) => w.clear(),
        }
    }
}

/// The last N calls: a ring of flag bytes plus running totals of each flag.
///
/// Totals change only by what a swap takes out of a slot and puts in, so they always match the
/// ring's contents, even when two threads race for the same slot. A slot that already holds the
/// flags being recorded is left alone, so a healthy breaker records with one `fetch_add`.
#[derive(Debug)]
pub(crate) struct CountWindow {
    head: AtomicU64,
    totals: [AtomicI64; 3],
    slots: Box<[AtomicU8]>,
    fastmod: u64,
}

impl CountWindow {
    fn new(size: u32) -> Self {
        let size = size.max(1);
        Self {
            head: AtomicU64::new(0),
            totals: Default::default(),
            slots: (0..size).map(|_| AtomicU8::new(0)).collect(),
            fastmod: (u64::MAX / u64::from(size)).wrapping_add(1),
        }
    }

    /// `n % len` without a division (Lemire's fastmod for 32-bit values).
    #[inline]
    fn slot_of(&self, n: u64) -> usize {
        let low = self.fastmod.wrapping_mul(n & 0xffff_ffff);
        ((u128::from(low) * self.slots.len() as u128) >> 64) as usize
    }

    /// Records one call: a slot that already holds `flags` (every success, once the window is
    /// healthy) costs the head bump and one load; replacing a slot is out of line.
    #[inline(always)]
    fn record(&self, flags: u8, exclusive: bool) {
        let head = self.head.load(Relaxed);
        let n = if exclusive {
            self.head.store(head + 1, Relaxed);
            head
        } else {
            self.head.fetch_add(1, Relaxed)
        };
        let at = self.slot_of(n);
        debug_assert!(at < self.slots.len());
        // SAFETY: `slot_of` is `(x * len) >> 64` for an `x` below 2^64, so below `len`.
        let slot = unsafe { self.slots.get_unchecked(at) };
        if slot.load(Relaxed) != flags {
            self.replace(slot, flags, exclusive);
        }
    }

    /// Puts `flags` in `slot` and moves the totals by what left it and what came in.
    #[inline(never)]
    fn replace(&self, slot: &AtomicU8, flags: u8, exclusive: bool) {
        let old = if exclusive {
            let old = slot.load(Relaxed);
            slot.store(flags, Relaxed);
            old
        } else {
            slot.swap(flags, Relaxed)
        };
        for (bit, total) in [FAILURE, SLOW, OVER_LATENCY].into_iter().zip(&self.totals) {
            let delta = i64::from(flags & bit != 0) - i64::from(old & bit != 0);
            if delta != 0 {
                add_signed(total, delta, exclusive);
            }
        }
    }

    fn add_counts(&self, into: &mut WindowCounts) {
        let calls = self.head.load(Relaxed).min(self.slots.len() as u64);
        let total = |i: usize| (self.totals[i].load(Relaxed).max(0) as u64).min(calls);
        into.calls += calls;
        into.failures += total(0);
        into.slow += total(1);
        into.over_latency += total(2);
    }

    fn clear(&self) {
        self.head.store(0, Relaxed);
        for slot in self.slots.iter() {
            slot.store(0, Relaxed);
        }
        for total in &self.totals {
            total.store(0, Relaxed);
        }
    }
}

fn add_signed(total: &AtomicI64, delta: i64, exclusive: bool) {
    if exclusive {
        total.store(total.load(Relaxed) + delta, Relaxed);
    } else {
        total.fetch_add(delta, Relaxed);
    }
}

/// The calls of the last `buckets * bucket_nanos`, in buckets of four counters.
///
/// Each counter is one word, `bucket epoch << 32 | count`, so a counter from an older lap of the
/// ring is recognised as stale by its epoch alone and restarted by the first writer of the new one:
/// no separate reset step that could race with writers. A 32-bit epoch wraps after 2^32 buckets
/// (at least 49 days at the 1 ms minimum bucket).
#[derive(Debug)]
pub(crate) struct TimeWindow {
    bucket_nanos: u64,
    buckets: Box<[[AtomicU64; 4]]>,
}

const EPOCH_SHIFT: u32 = 32;
const COUNT_MASK: u64 = (1 << EPOCH_SHIFT) - 1;

impl TimeWindow {
    fn new(buckets: u32, bucket_nanos: u64) -> Self {
        Self {
            bucket_nanos,
            // Epoch u32::MAX with count 0 reads as empty until written.
            buckets: (0..buckets.max(1)).map(|_| Default::default()).collect(),
        }
    }

    #[inline]
    fn epoch(&self, now_nanos: u64) -> u32 {
        (now_nanos / self.bucket_nanos) as u32
    }

    #[inline]
    fn bump(word: &AtomicU64, epoch: u32, exclusive: bool) {
        let current = word.load(Relaxed);
        if (current >> EPOCH_SHIFT) as u32 == epoch {
            // A racing writer may roll the word to a newer epoch first; the call then lands in the
            // next bucket, which is off by one bucket for one call, never lost.
            add(word, 1, exclusive);
            return;
        }
        let fresh = (u64::from(epoch) << EPOCH_SHIFT) | 1;
        if exclusive {
            word.store(fresh, Relaxed);
        } else if word.compare_exchange(current, fresh, Relaxed, Relaxed).is_err() {
            Self::bump(word, epoch, exclusive);
        }
    }

    #[inline]
    fn record(&self, flags: u8, now_nanos: u64, exclusive: bool) {
        let epoch = self.epoch(now_nanos);
        let bucket = &self.buckets[epoch as usize % self.buckets.len()];
        Self::bump(&bucket[0], epoch, exclusive);
        for (i, bit) in [FAILURE, SLOW, OVER_LATENCY].into_iter().enumerate() {
            if flags & bit != 0 {
                Self::bump(&bucket[i + 1], epoch, exclusive);
            }
        }
    }

    fn add_counts(&self, now_nanos: u64, into: &mut WindowCounts) {
        let now = self.epoch(now_nanos);
        let lap = self.buckets.len() as u32;
        let live = |word: &AtomicU64| {
            let w = word.load(Relaxed);
            let age = now.wrapping_sub((w >> EPOCH_SHIFT) as u32);
            if age < lap {
                w & COUNT_MASK
            } else {
                0
            }
        };
        for bucket in self.buckets.iter() {
            into.calls += live(&bucket[0]);
            into.failures += live(&bucket[1]);
            into.slow += live(&bucket[2]);
            into.over_latency += live(&bucket[3]);
        }
    }

    fn clear(&self) {
        for bucket in self.buckets.iter() {
            for word in bucket {
                word.store(u64::from(u32::MAX) << EPOCH_SHIFT, Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn counts(w: &SlidingWindow, now: u64) -> WindowCounts {
        let mut c = WindowCounts::default();
        w.add_counts(now, &mut c);
        c
    }

    #[test]
    fn count_window_keeps_only_the_last_n_calls() {
        let w = SlidingWindow::new(WindowConfig::Count(3));
        for flags in [FAILURE, FAILURE, 0, 0] {
            w.record(flags, || 0, true);
        }
        assert_eq!(
            counts(&w, 0),
            WindowCounts {
                calls: 3,
                failures: 1,
                slow: 0,
                over_latency: 0
            }
        );
        w.record(SLOW | OVER_LATENCY, || 0, false);
        w.record(0, || 0, true);
        assert_eq!(
            counts(&w, 0),
            WindowCounts {
                calls: 3,
                failures: 0,
                slow: 1,
                over_latency: 1
            }
        );
    }

    #[test]
    fn fastmod_matches_the_remainder() {
        for len in [1u32, 3, 7, 100, 1000, 999_983] {
            let w = CountWindow::new(len);
            for n in [0u64, 1, 99, 100, 101, 12_345_678, u64::from(u32::MAX)] {
                assert_eq!(
                    w.slot_of(n),
                    ((n & 0xffff_ffff) % u64::from(len)) as usize,
                    "{n} % {len}"
                );
            }
        }
    }

    #[test]
    fn time_window_forgets_buckets_older_than_its_length() {
        let sec = 1_000_000_000;
        let w = SlidingWindow::new(WindowConfig::Time {
            length: Duration::from_secs(10),
            buckets: 10,
        });
        assert_eq!(counts(&w, 0), WindowCounts::default());
        w.record(FAILURE, || 0, true);
        w.record(0, || 5 * sec, false);
        w.record(FAILURE | SLOW, || 9 * sec + 999, true);
        assert_eq!(
            counts(&w, 9 * sec),
            WindowCounts {
                calls: 3,
                failures: 2,
                slow: 1,
                over_latency: 0
            }
        );
        assert_eq!(counts(&w, 10 * sec).failures, 1, "second 0 has left the window");
        assert_eq!(
            counts(&w, 18 * sec).calls,
            1,
            "bucket 9 is in the window of buckets 9..=18"
        );
        assert_eq!(counts(&w, 19 * sec).calls, 0);
        w.record(0, || 25 * sec, false);
        assert_eq!(
            counts(&w, 25 * sec),
            WindowCounts {
                calls: 1,
                ..Default::default()
            }
        );
    }

    #[test]
    fn cleared_windows_are_empty() {
        for config in [
            WindowConfig::Count(4),
            WindowConfig::Time {
                length: Duration::from_secs(1),
                buckets: 4,
            },
        ] {
            let w = SlidingWindow::new(config);
            w.record(FAILURE, || 0, true);
            w.clear();
            assert_eq!(counts(&w, 0), WindowCounts::default());
        }
    }
}
