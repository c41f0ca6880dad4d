//! The trip rules as one pure function of the window's counts, shared by the breaker and its tests.

use crate::config::{Config, RateRule};
use crate::state::Reason;
use crate::units::nanos;

/// What a sliding window holds right now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WindowCounts {
    /// Calls recorded (successes and failures; ignored calls are not in windows).
    pub calls: u64,
    /// Failures among them.
    pub failures: u64,
    /// Calls that took at least the slow-call duration.
    pub slow: u64,
    /// Calls that took longer than the latency rule's threshold.
    pub over_latency: u64,
}

impl WindowCounts {
    /// Failure share in percent (0 when empty).
    pub fn failure_rate(&self) -> f64 {
        percent(self.failures, self.calls)
    }

    /// Slow-call share in percent (0 when empty).
    pub fn slow_call_rate(&self) -> f64 {
        percent(self.slow, self.calls)
    }
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// Flags a recorded call carries into the window.
pub(crate) const FAILURE: u8 = 1;
pub(crate) const SLOW: u8 = 2;
pub(crate) const OVER_LATENCY: u8 = 4;

/// A rate threshold in parts per million, to compare in integers.
#[derive(Debug, Clone, Copy)]
struct Rate {
    ppm: u64,
    min_calls: u64,
}

impl Rate {
    fn of(rule: RateRule) -> Rate {
        Rate {
            ppm: (rule.threshold_percent * 10_000.0).round() as u64,
            min_calls: u64::from(rule.min_calls),
        }
    }

    fn reached(&self, part: u64, calls: u64) -> bool {
        calls >= self.min_calls && part.saturating_mul(1_000_000) >= self.ppm.saturating_mul(calls)
    }
}

/// The config's rules, precomputed for integer checks on the hot path.
#[derive(Debug, Clone)]
pub(crate) struct Rules {
    pub(crate) consecutive_failures: u32,
    failures_in_window: u64,
    failure_rate: Option<Rate>,
    slow_call_rate: Option<Rate>,
    slow_nanos: u64,
    /// Calls faster than this are neither slow nor over the latency threshold.
    healthy_below: u64,
    latency_quantile_ppm: u64,
    latency_min_calls: u64,
    latency_nanos: u64,
}

impl Rules {
    pub(crate) fn new(config: &Config) -> Rules {
        let latency = config.latency;
        let slow_nanos = config.slow_call_rate.map_or(u64::MAX, |r| nanos(r.slow_call));
        let latency_nanos = latency.map_or(u64::MAX, |r| nanos(r.threshold));
        Rules {
            consecutive_failures: config.consecutive_failures.unwrap_or(0),
            failures_in_window: config.failures_in_window.map_or(0, u64::from),
            failure_rate: config.failure_rate.map(Rate::of),
            slow_call_rate: config.slow_call_rate.map(|r| Rate::of(r.rate)),
            slow_nanos,
            healthy_below: slow_nanos.min(latency_nanos.saturating_add(1)),
            latency_quantile_ppm: latency.map_or(0, |r| (r.percentile * 10_000.0).round() as u64),
            latency_min_calls: latency.map_or(u64::MAX, |r| u64::from(r.min_calls)),
            latency_nanos,
        }
    }

    /// Calls faster than this are neither slow nor over the latency threshold.
    pub(crate) fn healthy_below(&self) -> u64 {
        self.healthy_below
    }

    /// The window flags of a call that took `elapsed_nanos`.
    #[inline]
    pub(crate) fn flags(&self, failed: bool, elapsed_nanos: u64) -> u8 {
        if elapsed_nanos < self.healthy_below {
            return u8::from(failed) * FAILURE;
        }
        (u8::from(failed) * FAILURE)
            | (u8::from(elapsed_nanos >= self.slow_nanos) * SLOW)
            | (u8::from(elapsed_nanos > self.latency_nanos) * OVER_LATENCY)
    }

    /// The first window rule the counts break, if any.
    pub(crate) fn window_trip(&self, c: WindowCounts) -> Option<Reason> {
        if self.failures_in_window > 0 && c.failures >= self.failures_in_window {
            return Some(Reason::FailuresInWindow);
        }
        if self.failure_rate.is_some_and(|r| r.reached(c.failures, c.calls)) {
            return Some(Reason::FailureRate);
        }
        if self.slow_call_rate.is_some_and(|r| r.reached(c.slow, c.calls)) {
            return Some(Reason::SlowCallRate);
        }
        if c.calls >= self.latency_min_calls && c.calls > 0 {
            // The nearest-rank percentile sorted[k], k = floor((n - 1) * q), is above the threshold
            // exactly when at least n - k of the calls are.
            let k = (c.calls - 1).saturating_mul(self.latency_quantile_ppm) / 1_000_000;
            if c.over_latency >= c.calls - k {
                return Some(Reason::LatencyPercentile);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LatencyRule;
    use std::time::Duration;

    fn counts(calls: u64, failures: u64, slow: u64, over_latency: u64) -> WindowCounts {
        WindowCounts {
            calls,
            failures,
            slow,
            over_latency,
        }
    }

    #[test]
    fn failure_rate_waits_for_the_minimum_of_calls() {
        let rules = Rules::new(&Config::default());
        assert_eq!(rules.window_trip(counts(9, 9, 0, 0)), None);
        assert_eq!(rules.window_trip(counts(10, 5, 0, 0)), Some(Reason::FailureRate));
        assert_eq!(rules.window_trip(counts(10, 4, 0, 0)), None);
    }

    #[test]
    fn p99_is_nearest_rank_on_the_sorted_window() {
        let config = Config {
            latency: Some(LatencyRule::p99(Duration::from_millis(200))),
            ..Config::default()
        };
        let rules = Rules::new(&config);
        // 100 calls: k = floor(99 * 0.99) = 98, so P99 > 200 ms needs 2 calls above 200 ms.
        assert_eq!(rules.window_trip(counts(100, 0, 0, 1)), None);
        assert_eq!(rules.window_trip(counts(100, 0, 0, 2)), Some(Reason::LatencyPercentile));
    }

    #[test]
    fn flags_mark_slow_and_over_latency_calls() {
        let config = Config {
            latency: Some(LatencyRule::p99(Duration::from_nanos(100))),
            slow_call_rate: Some(crate::SlowCallRule {
                slow_call: Duration::from_nanos(50),
                rate: RateRule::percent(50.0),
            }),
            ..Config::default()
        };
        let rules = Rules::new(&config);
        assert_eq!(rules.flags(false, 49), 0);
        assert_eq!(rules.flags(false, 50), SLOW);
        assert_eq!(rules.flags(true, 100), FAILURE | SLOW);
        assert_eq!(rules.flags(false, 101), SLOW | OVER_LATENCY);
    }
}
