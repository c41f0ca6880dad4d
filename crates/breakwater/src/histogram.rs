//! A fixed-memory latency histogram with under 1 % relative error, updated without locks.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Values below this are counted exactly, one bucket each.
const EXACT: u64 = 128;
/// Each power of two above `EXACT` is split into this many buckets: width / value <= 1/64, so the
/// bucket's midpoint is within 0.79 % of any value in it.
const SUB: u64 = 64;
/// Values are clamped to 2^42 ns (about 73 minutes).
const MAX_POWER: u32 = 42;
const BUCKETS: usize = (EXACT + (MAX_POWER as u64 - 7) * SUB) as usize;

/// Latency summary of everything a breaker recorded since it was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LatencySummary {
    /// Calls measured.
    pub count: u64,
    /// Fastest call (exact).
    pub min: Duration,
    /// Mean (exact up to the clamp).
    pub mean: Duration,
    /// Median, nearest-rank, within 1 %.
    pub p50: Duration,
    /// 95th percentile, within 1 %.
    pub p95: Duration,
    /// 99th percentile, within 1 %.
    pub p99: Duration,
    /// Slowest call (exact up to the clamp).
    pub max: Duration,
}

#[derive(Debug)]
pub(crate) struct Histogram {
    counts: Box<[AtomicU64]>,
    count: AtomicU64,
    sum: AtomicU64,
    min: AtomicU64,
    max: AtomicU64,
}

fn bucket_of(v: u64) -> usize {
    if v < EXACT {
        return v as usize;
    }
    let power = 63 - v.leading_zeros();
    let shift = power - 6;
    (EXACT + u64::from(power - 7) * SUB + ((v >> shift) - SUB)) as usize
}

/// The lowest value bucket `i` holds.
fn low_of(i: usize) -> u64 {
    let i = i as u64;
    if i < EXACT {
        return i;
    }
    let power = (i - EXACT) / SUB + 7;
    (SUB + (i - EXACT) % SUB) << (power - 6)
}

/// The highest value bucket `i` holds.
fn high_of(i: usize) -> u64 {
    let i = i as u64;
    if i < EXACT {
        return i;
    }
    let power = (i - EXACT) / SUB + 7;
    low_of(i as usize) + (1 << (power - 6)) - 1
}

/// The middle of bucket `i` (its exact value below `EXACT`).
fn midpoint_of(i: usize) -> u64 {
    let (low, high) = (low_of(i), high_of(i));
    low + (high - low).div_ceil(2)
}

/// The exact extreme `exact` if the buckets agree with it, else the bound of `bucket` on its side.
///
/// A reader races the writers: a value may be in the bucket counts but not yet in `min` / `max`
/// (`min` still `u64::MAX` while the first call is recorded), or the other way round. An extreme
/// beyond the bucket is a value recorded since the counts were read: real, so kept. One short of
/// the bucket misses a value the counts hold: the bucket's bound stands in for it.
fn settle(exact: u64, bucket: usize, is_min: bool) -> u64 {
    let (low, high) = (low_of(bucket), high_of(bucket));
    match (is_min, exact) {
        (true, v) if v > high => low,
        (false, v) if v < low => high,
        (_, v) => v,
    }
}

impl Histogram {
    pub(crate) fn new() -> Self {
        Self {
            counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0),
            min: AtomicU64::new(u64::MAX),
            max: AtomicU64::new(0),
        }
    }

    #[inline]
    pub(crate) fn record(&self, nanos: u64) {
        let v = nanos.min((1 << MAX_POWER) - 1);
        self.counts[bucket_of(v)].fetch_add(1, Relaxed);
        self.count.fetch_add(1, Relaxed);
        self.sum.fetch_add(v, Relaxed);
        if v < self.min.load(Relaxed) {
            self.min.fetch_min(v, Relaxed);
        }
        if v > self.max.load(Relaxed) {
            self.max.fetch_max(v, Relaxed);
        }
    }

    /// A summary of the counts as read now. Writers go on while it is read, so each field is
    /// settled against the bucket counts, which are read once: whatever the interleaving,
    /// `min <= p50 <= p95 <= p99 <= max` and `min <= mean <= max`, and it never panics.
    pub(crate) fn summary(&self) -> LatencySummary {
        let counts: Vec<u64> = self.counts.iter().map(|c| c.load(Relaxed)).collect();
        let count = counts.iter().fold(0u64, |a, c| a.saturating_add(*c));
        let (Some(first), Some(last)) = (
            counts.iter().position(|c| *c != 0),
            counts.iter().rposition(|c| *c != 0),
        ) else {
            return LatencySummary::default();
        };
        let min = settle(self.min.load(Relaxed), first, true);
        let max = settle(self.max.load(Relaxed), last, false).max(min);
        let percentile = |q: f64| {
            let rank = ((count - 1) as f64 * q).floor() as u64;
            let mut seen = 0u64;
            for (i, c) in counts.iter().enumerate() {
                seen = seen.saturating_add(*c);
                if seen > rank {
                    return Duration::from_nanos(midpoint_of(i).clamp(min, max));
                }
            }
            Duration::from_nanos(max)
        };
        let mean = self.sum.load(Relaxed) / self.count.load(Relaxed).max(1);
        LatencySummary {
            count,
            min: Duration::from_nanos(min),
            mean: Duration::from_nanos(mean.clamp(min, max)),
            p50: percentile(0.50),
            p95: percentile(0.95),
            p99: percentile(0.99),
            max: Duration::from_nanos(max),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_lands_in_a_bucket_whose_midpoint_is_within_one_percent() {
        let mut v = 1u64;
        while v < (1 << MAX_POWER) {
            for x in [v, v + v / 3, v * 2 - 1] {
                let mid = midpoint_of(bucket_of(x)) as f64;
                assert!((mid - x as f64).abs() / x as f64 <= 0.008, "{x} -> {mid}");
                assert!(bucket_of(x) < BUCKETS);
            }
            v *= 2;
        }
    }

    #[test]
    fn bucket_bounds_hold_their_values() {
        let mut v = 1u64;
        while v < (1 << MAX_POWER) {
            for x in [v, v + v / 3, v * 2 - 1] {
                let b = bucket_of(x);
                assert!(
                    low_of(b) <= x && x <= high_of(b),
                    "{x} in {}..={}",
                    low_of(b),
                    high_of(b)
                );
            }
            v *= 2;
        }
    }

    #[test]
    fn a_summary_read_between_a_count_and_its_extremes_is_ordered_and_does_not_panic() {
        // What a reader sees while another thread records the first call: the bucket counted,
        // min and max not written yet (min > max).
        let h = Histogram::new();
        h.counts[bucket_of(5_000_000)].fetch_add(1, Relaxed);
        let s = h.summary();
        assert_eq!(s.count, 1);
        assert!(s.min <= s.p50 && s.p50 <= s.p99 && s.p99 <= s.max, "{s:?}");
        assert!(s.min <= s.mean && s.mean <= s.max, "{s:?}");
        // And a count of a second value whose extreme is not written yet.
        h.min.store(5_000_000, Relaxed);
        h.max.store(5_000_000, Relaxed);
        h.sum.store(5_000_000, Relaxed);
        h.count.store(1, Relaxed);
        h.counts[bucket_of(90_000_000)].fetch_add(1, Relaxed);
        let s = h.summary();
        assert!(s.max >= Duration::from_nanos(low_of(bucket_of(90_000_000))), "{s:?}");
        assert!(s.min <= s.p50 && s.p50 <= s.p99 && s.p99 <= s.max, "{s:?}");
    }

    #[test]
    fn latencies_two_to_two_hundred_ms_give_p99_within_one_percent_of_198() {
        let h = Histogram::new();
        for ms in (2..=200).step_by(2) {
            h.record(ms * 1_000_000);
        }
        let s = h.summary();
        assert_eq!(s.count, 100);
        assert_eq!(s.min, Duration::from_millis(2));
        assert_eq!(s.max, Duration::from_millis(200));
        assert_eq!(s.mean, Duration::from_millis(101));
        let p99 = s.p99.as_secs_f64() * 1000.0;
        assert!((p99 - 198.0).abs() / 198.0 <= 0.01, "p99 {p99}");
        let p50 = s.p50.as_secs_f64() * 1000.0;
        assert!((p50 - 100.0).abs() / 100.0 <= 0.01, "p50 {p50}");
    }
}
