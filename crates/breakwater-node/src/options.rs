//! JavaScript options -> `breakwater::Config`, and back (to name the options that differ from an
//! existing breaker's). Numbers are checked here (napi's own integer conversions wrap negative
//! and fractional values silently); every rule is checked by the core.

use std::time::Duration;

use breakwater::{Backoff, Config, LatencyRule, RateRule, SlowCallRule, Window, MAX_DURATION};
use napi::bindgen_prelude::Either;
use napi_derive::napi;

use crate::errors::{js_millis, js_number, Invalid};

/// Breaker options as the TypeScript facade passes them: durations in milliseconds, rates in percent.
/// Absent fields keep the core's defaults; `false` turns a default rule off.
#[napi(object)]
#[derive(Default)]
pub struct NativeOptions {
    /// Open after this many failures in a row (default 5), or `false`.
    pub consecutive_failures: Option<Either<f64, bool>>,
    /// Open when this percentage of the window failed (default 50), or `false`.
    pub failure_rate: Option<Either<f64, bool>>,
    /// Calls the window must hold before a rate or latency rule may trip (default 10).
    pub minimum_calls: Option<f64>,
    /// Open when this percentage of the window was slow.
    pub slow_call_rate: Option<f64>,
    /// A call is slow when it took at least this long.
    pub slow_call_ms: Option<f64>,
    /// Open when the window holds this many failures.
    pub failures_in_window: Option<f64>,
    /// The percentile of the latency rule (99 for P99).
    pub latency_percentile: Option<f64>,
    /// Open when the percentile is above this.
    pub latency_threshold_ms: Option<f64>,
    /// A count window of the last N calls (default 100).
    pub window_size: Option<f64>,
    /// A time window of this length instead of a count window.
    pub window_ms: Option<f64>,
    /// Buckets of the time window (default 10).
    pub window_buckets: Option<f64>,
    /// First open duration (default 30 000).
    pub open_ms: Option<f64>,
    /// Growth of the open duration per reopen (default 2).
    pub open_multiplier: Option<f64>,
    /// Longest open duration (default 300 000).
    pub open_max_ms: Option<f64>,
    /// Spread of open durations, 0..=1 (default 0).
    pub open_jitter: Option<f64>,
    /// Probes at once while half-open (default 3).
    pub half_open_probes: Option<f64>,
    /// Successful probes that close (default 2).
    pub half_open_successes: Option<f64>,
    /// Unreported probes expire after this (default: the call timeout, else 60 000).
    pub max_probe_ms: Option<f64>,
    /// The call timeout (default none).
    pub call_timeout_ms: Option<f64>,
    /// Keep latency percentiles in metrics.
    pub track_latency: Option<bool>,
}

/// A whole number of at least 0 that fits in 32 bits (the core checks the option's own range).
pub(crate) fn whole(field: &str, value: f64) -> Result<u32, Invalid> {
    if !(value.is_finite() && value.fract() == 0.0) {
        return Err(Invalid::new(field, "a whole number", &js_number(value)));
    }
    if value < 0.0 {
        return Err(Invalid::new(field, "a whole number of at least 0", &js_number(value)));
    }
    if value > f64::from(u32::MAX) {
        return Err(Invalid::new(
            field,
            "a whole number of at most 4294967295",
            &js_number(value),
        ));
    }
    Ok(value as u32)
}

/// [`whole`] for an entry without its `Env` (the bulkhead's).
pub(crate) fn count(field: &str, value: f64) -> napi::Result<u32> {
    whole(field, value).map_err(Invalid::into_napi)
}

/// A duration in milliseconds: finite, from 0 to 30 days (the longest any option takes).
pub(crate) fn millis(field: &str, value: f64) -> Result<Duration, Invalid> {
    if !(value.is_finite() && value >= 0.0) {
        let rule = "a finite number of milliseconds of at least 0";
        return Err(Invalid::new(field, rule, &js_number(value)));
    }
    let max_ms = MAX_DURATION.as_secs_f64() * 1e3;
    if value > max_ms {
        let rule = format!("at most {} ms (30 days)", js_number(max_ms));
        return Err(Invalid::new(field, &rule, &js_number(value)));
    }
    Ok(Duration::from_secs_f64(value / 1e3))
}

fn number(field: &str, value: f64) -> Result<f64, Invalid> {
    if value.is_finite() {
        return Ok(value);
    }
    Err(Invalid::new(field, "a finite number", &js_number(value)))
}

fn optional<T>(value: Option<f64>, f: impl FnOnce(f64) -> Result<T, Invalid>) -> Result<Option<T>, Invalid> {
    value.map(f).transpose()
}

/// `Some(Some(n))` a value, `Some(None)` turned off, `None` the default.
fn switchable(field: &str, value: Option<Either<f64, bool>>) -> Result<Option<Option<f64>>, Invalid> {
    match value {
        None | Some(Either::B(true)) => Ok(None),
        Some(Either::B(false)) => Ok(Some(None)),
        Some(Either::A(n)) => Ok(Some(Some(number(field, n)?))),
    }
}

/// A config as the JavaScript options that make it: every option's name and its value as
/// JavaScript would write it (`off` for a rule that is off), in a fixed order.
pub(crate) fn described(c: &Config) -> Vec<(&'static str, String)> {
    let ms = |d: Duration| js_millis(d);
    let off = || "off".to_string();
    let min_calls = c
        .failure_rate
        .map(|r| r.min_calls)
        .or(c.slow_call_rate.map(|r| r.rate.min_calls))
        .or(c.latency.map(|r| r.min_calls));
    let (window_size, window, buckets) = match c.window {
        Window::Count(n) => (n.to_string(), off(), off()),
        Window::Time { length, buckets } => (off(), ms(length), buckets.to_string()),
    };
    vec![
        (
            "consecutiveFailures",
            c.consecutive_failures.map_or("false".into(), |n| n.to_string()),
        ),
        (
            "failureRate",
            c.failure_rate
                .map_or("false".into(), |r| js_number(r.threshold_percent)),
        ),
        ("minimumCalls", min_calls.map_or_else(off, |n| n.to_string())),
        (
            "slowCallRate",
            c.slow_call_rate
                .map_or_else(off, |r| js_number(r.rate.threshold_percent)),
        ),
        (
            "slowCallDuration",
            c.slow_call_rate.map_or_else(off, |r| ms(r.slow_call)),
        ),
        (
            "failuresInWindow",
            c.failures_in_window.map_or_else(off, |n| n.to_string()),
        ),
        (
            "latency.percentile",
            c.latency.map_or_else(off, |r| js_number(r.percentile)),
        ),
        ("latency.threshold", c.latency.map_or_else(off, |r| ms(r.threshold))),
        ("windowSize", window_size),
        ("window", window),
        ("windowBuckets", buckets),
        ("openFor", ms(c.open_duration.base)),
        ("openMultiplier", js_number(c.open_duration.multiplier)),
        ("maxOpenFor", ms(c.open_duration.cap)),
        ("openJitter", js_number(c.open_duration.jitter)),
        ("halfOpenProbes", c.half_open_max_probes.to_string()),
        ("halfOpenSuccesses", c.half_open_successes.to_string()),
        ("maxProbeTime", c.max_probe_time.map_or_else(|| "unset".into(), ms)),
        ("timeout", c.call_timeout.map_or_else(|| "none".into(), ms)),
        ("trackLatency", c.track_latency.to_string()),
    ]
}

/// The options in which `given` differs from `existing`: `option is X, given Y`, in order.
pub(crate) fn differences(existing: &Config, given: &Config) -> Vec<String> {
    described(existing)
        .into_iter()
        .zip(described(given))
        .filter(|((_, a), (_, b))| a != b)
        .map(|((name, a), (_, b))| format!("{name} is {a}, given {b}"))
        .collect()
}

impl NativeOptions {
    pub(crate) fn to_config(&self) -> Result<Config, Invalid> {
        let defaults = Config::default();
        let min_calls =
            optional(self.minimum_calls, |n| whole("minimumCalls", n))?.unwrap_or(breakwater::DEFAULT_MIN_CALLS);
        let consecutive_failures = match switchable("consecutiveFailures", self.consecutive_failures)? {
            None => defaults.consecutive_failures,
            Some(None) => None,
            Some(Some(n)) => Some(whole("consecutiveFailures", n)?),
        };
        let failure_rate = match switchable("failureRate", self.failure_rate)? {
            None => defaults.failure_rate.map(|r| RateRule { min_calls, ..r }),
            Some(None) => None,
            Some(Some(percent)) => Some(RateRule {
                threshold_percent: percent,
                min_calls,
            }),
        };
        let slow_call_rate = match (self.slow_call_rate, self.slow_call_ms) {
            (None, None) => None,
            (Some(rate), Some(slow)) => Some(SlowCallRule {
                slow_call: millis("slowCallDuration", slow)?,
                rate: RateRule {
                    threshold_percent: number("slowCallRate", rate)?,
                    min_calls,
                },
            }),
            (None, Some(_)) => return Err(Invalid::new("slowCallRate", "given with slowCallDuration", "missing")),
            (Some(_), None) => return Err(Invalid::new("slowCallDuration", "given with slowCallRate", "missing")),
        };
        let latency = match (self.latency_percentile, self.latency_threshold_ms) {
            (None, None) => None,
            (percentile, threshold) => Some(LatencyRule {
                percentile: number("latency.percentile", percentile.unwrap_or(99.0))?,
                threshold: millis("latency.threshold", threshold.unwrap_or(f64::NAN))?,
                min_calls,
            }),
        };
        let window = match (self.window_ms, self.window_size) {
            (Some(ms), _) => Window::Time {
                length: millis("window", ms)?,
                buckets: optional(self.window_buckets, |n| whole("windowBuckets", n))?.unwrap_or(10),
            },
            (None, size) => {
                Window::Count(optional(size, |n| whole("windowSize", n))?.unwrap_or(breakwater::DEFAULT_WINDOW_CALLS))
            }
        };
        let b = defaults.open_duration;
        let base = optional(self.open_ms, |n| millis("openFor", n))?.unwrap_or(b.base);
        Ok(Config {
            consecutive_failures,
            failure_rate,
            slow_call_rate,
            failures_in_window: optional(self.failures_in_window, |n| whole("failuresInWindow", n))?,
            latency,
            window,
            open_duration: Backoff {
                base,
                multiplier: optional(self.open_multiplier, Ok)?.unwrap_or(b.multiplier),
                // Without a cap of its own, a long first open duration raises the default cap.
                cap: optional(self.open_max_ms, |n| millis("maxOpenFor", n))?.unwrap_or(b.cap.max(base)),
                jitter: optional(self.open_jitter, Ok)?.unwrap_or(b.jitter),
            },
            half_open_max_probes: optional(self.half_open_probes, |n| whole("halfOpenProbes", n))?
                .unwrap_or(defaults.half_open_max_probes),
            half_open_successes: optional(self.half_open_successes, |n| whole("halfOpenSuccesses", n))?
                .unwrap_or(defaults.half_open_successes),
            max_probe_time: optional(self.max_probe_ms, |n| millis("maxProbeTime", n))?,
            call_timeout: optional(self.call_timeout_ms, |n| millis("timeout", n))?,
            track_latency: self.track_latency.unwrap_or(false),
        })
    }
}
