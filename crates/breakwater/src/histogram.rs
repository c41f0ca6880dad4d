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

/// The middle of bucket `i` (its exact value below `EXACT`).
fn midpoint_of(i: usize) -> u64 {
    let i = i as u64;
    if i < EXACT {
        return i;
    }
    let power = (i - EXACT) / SUB + 7;
    let shift = power - 6;
    let low = (SUB + (i - EXACT) % SUB) << shift;
    low + (1 << shift) / 2
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

    pub(crate) fn summary(&self) -> LatencySummary {
        let counts: Vec<u64> = self.counts.iter().map(|c| c.load(Relaxed)).collect();
        let count: u64 = counts.iter().sum();
        if count == 0 {
            return LatencySummary::default();
        }
        let (min, max) = (self.min.load(Relaxed), self.max.load(Relaxed));
        let percentile = |q: f64| {
            let rank = ((count - 1) as f64 * q).floor() as u64;
            let mut seen = 0;
            for (i, c) in counts.iter().enumerate() {
                seen += c;
                if seen > rank {
                    return Duration::from_nanos(midpoint_of(i).clamp(min, max));
                }
            }
            Duration::from_nanos(max)
        };
        LatencySummary {
            count,
            min: Duration::from_nanos(min),
            mean: Duration::from_nanos(self.sum.load(Relaxed) / self.count.load(Relaxed).max(1)),
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
