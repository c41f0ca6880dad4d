//! Breaker configuration: plain data with named defaults, validated once in [`Config::validate`].
//! Bindings convert their numbers with [`whole_number`], [`finite_number`] and
//! [`duration_from_ms`], so every rule, and every [`Violation`] a binding words, is here.

use std::fmt;
use std::time::Duration;

use crate::backoff::Backoff;
use crate::state::MAX_PROBES;

/// Default for [`Config::consecutive_failures`].
pub const DEFAULT_CONSECUTIVE_FAILURES: u32 = 5;
/// Default failure-rate threshold, in percent.
pub const DEFAULT_FAILURE_RATE_PERCENT: f64 = 50.0;
/// Default number of calls a window must hold before a rate rule may trip.
pub const DEFAULT_MIN_CALLS: u32 = 10;
/// Default size of the count-based window.
pub const DEFAULT_WINDOW_CALLS: u32 = 100;
/// Default number of probes let through at once while half-open.
pub const DEFAULT_HALF_OPEN_PROBES: u32 = 3;
/// Default number of successful probes that close the breaker.
pub const DEFAULT_HALF_OPEN_SUCCESSES: u32 = 2;
/// Default time after which an unreported probe permit expires, without a call timeout.
pub const DEFAULT_MAX_PROBE_TIME: Duration = Duration::from_secs(60);
/// The longest duration any option accepts (open durations, deadlines, windows, timeouts).
pub const MAX_DURATION: Duration = Duration::from_secs(30 * 24 * 3600);
/// The largest count-based window.
pub const MAX_WINDOW_CALLS: u32 = 1_000_000;
/// The largest number of buckets in a time-based window.
pub const MAX_WINDOW_BUCKETS: u32 = 1_000;

/// Open when the failure (or slow-call) share of the window reaches a threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateRule {
    /// Threshold in percent, `0 < threshold_percent <= 100`.
    pub threshold_percent: f64,
    /// Calls the window must hold before the rule may trip.
    pub min_calls: u32,
}

impl RateRule {
    /// A rate rule with the default minimum of calls.
    pub const fn percent(threshold_percent: f64) -> Self {
        Self {
            threshold_percent,
            min_calls: DEFAULT_MIN_CALLS,
        }
    }
}

/// Open when the share of slow calls in the window reaches a threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlowCallRule {
    /// A call is slow when it took at least this long.
    pub slow_call: Duration,
    /// Threshold and minimum calls.
    pub rate: RateRule,
}

/// Open when a latency percentile of the window exceeds a threshold: the trading pause
/// "stop when P99 > 200 ms". The percentile is nearest-rank, `sorted[floor((n - 1) * p / 100)]`,
/// computed exactly, since the window counts the calls above the threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencyRule {
    /// The percentile, `0 < percentile <= 100` (99 for P99).
    pub percentile: f64,
    /// The breaker opens when the percentile is strictly above this.
    pub threshold: Duration,
    /// Calls the window must hold before the rule may trip.
    pub min_calls: u32,
}

impl LatencyRule {
    /// P99 above `threshold`, once the window holds the default minimum of calls.
    pub const fn p99(threshold: Duration) -> Self {
        Self {
            percentile: 99.0,
            threshold,
            min_calls: DEFAULT_MIN_CALLS,
        }
    }
}

/// The sliding window the rate, count and latency rules look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// The last N recorded calls.
    Count(u32),
    /// The calls of the last `length`, kept in `buckets` equal slices.
    Time {
        /// How far back the window reaches.
        length: Duration,
        /// How many slices; the window moves one slice at a time.
        buckets: u32,
    },
}

/// Everything a breaker can be told. Start from [`Config::default`] and change what you need:
///
/// ```
/// use breakwater::{Config, RateRule, Window};
/// use std::time::Duration;
///
/// let config = Config {
///     consecutive_failures: Some(3),
///     failure_rate: Some(RateRule { threshold_percent: 25.0, min_calls: 20 }),
///     window: Window::Time { length: Duration::from_secs(10), buckets: 10 },
///     ..Config::default()
/// };
/// assert!(config.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Open after this many failures in a row. Default `Some(5)`.
    pub consecutive_failures: Option<u32>,
    /// Open when the window's failure rate reaches a threshold. Default 50 % once 10 calls are in.
    pub failure_rate: Option<RateRule>,
    /// Open when the window's slow-call rate reaches a threshold. Default off.
    pub slow_call_rate: Option<SlowCallRule>,
    /// Open when the window holds this many failures, whatever the rate. Default off.
    pub failures_in_window: Option<u32>,
    /// Open when a latency percentile of the window exceeds a threshold. Default off.
    pub latency: Option<LatencyRule>,
    /// The window the rules look at. Default the last 100 calls.
    pub window: Window,
    /// How long the breaker stays open, growing on each reopen without a full recovery.
    /// Default 30 s, x2, capped at 300 s, no jitter.
    pub open_duration: Backoff,
    /// Probes let through at once while half-open, `1..=255`. Default 3.
    pub half_open_max_probes: u32,
    /// Successful probes that close the breaker. Default 2.
    pub half_open_successes: u32,
    /// An unreported probe permit expires after this. Default: `call_timeout`, else 60 s.
    pub max_probe_time: Option<Duration>,
    /// Timeout of [`Breaker::call_timeout`](crate::Breaker), and the default probe expiry. Default none.
    pub call_timeout: Option<Duration>,
    /// Keep a latency histogram for percentiles in metrics (on by itself with a latency rule).
    pub track_latency: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            consecutive_failures: Some(DEFAULT_CONSECUTIVE_FAILURES),
            failure_rate: Some(RateRule::percent(DEFAULT_FAILURE_RATE_PERCENT)),
            slow_call_rate: None,
            failures_in_window: None,
            latency: None,
            window: Window::Count(DEFAULT_WINDOW_CALLS),
            open_duration: Backoff::default(),
            half_open_max_probes: DEFAULT_HALF_OPEN_PROBES,
            half_open_successes: DEFAULT_HALF_OPEN_SUCCESSES,
            max_probe_time: None,
            call_timeout: None,
            track_latency: false,
        }
    }
}

/// A configuration value that breaks a rule: names the field, the rule and the value.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    /// The option, as a path of Rust field names (`failure_rate.threshold_percent`), or the
    /// name a binding passed to [`whole_number`], [`finite_number`] or [`duration_from_ms`].
    pub field: &'static str,
    /// What the value must be, in Rust's words (`within 1..=100`).
    pub rule: String,
    /// The value given, as Rust prints it.
    pub value: String,
    /// The same rule and value as data, for a binding that words them in its own language.
    pub violation: Violation,
}

/// The rule a value broke and the value, as data (see [`ConfigError::violation`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Violation {
    /// A whole number outside `min..=max`.
    Count {
        /// The smallest allowed.
        min: u64,
        /// The largest allowed.
        max: u64,
        /// The value given.
        value: u64,
    },
    /// A percentage that is not above 0 and at most 100.
    Percent {
        /// The value given.
        value: f64,
    },
    /// A number that is not finite or below `min`.
    AtLeast {
        /// The smallest allowed.
        min: f64,
        /// The value given.
        value: f64,
    },
    /// A number outside `0..=1`.
    Fraction {
        /// The value given.
        value: f64,
    },
    /// A duration outside `min..=max`.
    Duration {
        /// The shortest allowed.
        min: Duration,
        /// The longest allowed.
        max: Duration,
        /// The value given.
        value: Duration,
    },
    /// A number that should be whole (a count) but is fractional, NaN or infinite.
    NotWhole {
        /// The value given.
        value: f64,
    },
    /// A whole number below `min` (a negative count).
    WholeAtLeast {
        /// The smallest allowed.
        min: u64,
        /// The value given.
        value: f64,
    },
    /// A whole number above `max` (a count that does not fit in 32 bits).
    WholeAtMost {
        /// The largest allowed.
        max: u64,
        /// The value given.
        value: f64,
    },
    /// A number that is NaN or infinite.
    NotFinite {
        /// The value given.
        value: f64,
    },
    /// A number of milliseconds that is negative, NaN or infinite.
    Millis {
        /// The value given.
        value: f64,
    },
    /// A number of milliseconds longer than `max`.
    MillisAtMost {
        /// The longest allowed.
        max: Duration,
        /// The value given, in milliseconds.
        value: f64,
    },
    /// An option given without the option it needs (`slow_call_rate` without its `slow_call`).
    Missing {
        /// The option it must be given with, as a path of Rust field names.
        with: &'static str,
    },
    /// An option a live breaker cannot change (see [`Breaker::configure`](crate::Breaker::configure)).
    Fixed {
        /// Its value in force (counts as numbers, durations in milliseconds).
        was: String,
        /// The value given, in the same units.
        given: String,
    },
    /// A name that is empty or longer than `max_bytes` in UTF-8.
    NameLength {
        /// The longest allowed, in bytes.
        max_bytes: usize,
        /// The name given (its first 40 characters).
        start: String,
        /// Its length in bytes.
        bytes: usize,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} must be {}, but was {}", self.field, self.rule, self.value)
    }
}

impl std::error::Error for ConfigError {}

pub(crate) fn fail<T>(
    field: &'static str,
    rule: impl Into<String>,
    value: impl fmt::Debug,
    violation: Violation,
) -> Result<T, ConfigError> {
    Err(ConfigError {
        field,
        rule: rule.into(),
        value: format!("{value:?}"),
        violation,
    })
}

pub(crate) fn check_count(field: &'static str, value: u32, min: u32, max: u32) -> Result<(), ConfigError> {
    if value < min || value > max {
        let violation = Violation::Count {
            min: min.into(),
            max: max.into(),
            value: value.into(),
        };
        return fail(field, format!("within {min}..={max}"), value, violation);
    }
    Ok(())
}

pub(crate) fn check_percent(field: &'static str, value: f64) -> Result<(), ConfigError> {
    if !(value.is_finite() && value > 0.0 && value <= 100.0) {
        return fail(
            field,
            "a number above 0 and at most 100",
            value,
            Violation::Percent { value },
        );
    }
    Ok(())
}

pub(crate) fn check_duration(field: &'static str, value: Duration, min: Duration) -> Result<(), ConfigError> {
    if value < min || value > MAX_DURATION {
        let violation = Violation::Duration {
            min,
            max: MAX_DURATION,
            value,
        };
        return fail(field, format!("within {min:?}..={MAX_DURATION:?}"), value, violation);
    }
    Ok(())
}

const ONE_MS: Duration = Duration::from_millis(1);

/// A count given as a float (a binding's number, JavaScript's or Python's): whole, at least 0,
/// at most `u32::MAX`. The option's own range is checked by [`Config::validate`].
///
/// ```
/// assert_eq!(breakwater::whole_number("window.count", 50.0), Ok(50));
/// assert!(breakwater::whole_number("window.count", 2.5).is_err());
/// ```
pub fn whole_number(field: &'static str, value: f64) -> Result<u32, ConfigError> {
    if !(value.is_finite() && value.fract() == 0.0) {
        return fail(field, "a whole number", value, Violation::NotWhole { value });
    }
    if value < 0.0 {
        return fail(
            field,
            "a whole number of at least 0",
            value,
            Violation::WholeAtLeast { min: 0, value },
        );
    }
    let max = u32::MAX;
    if value > f64::from(max) {
        let violation = Violation::WholeAtMost { max: max.into(), value };
        return fail(field, format!("a whole number of at most {max}"), value, violation);
    }
    Ok(value as u32)
}

/// A number given as a float that must be finite (a rate, a multiplier).
pub fn finite_number(field: &'static str, value: f64) -> Result<f64, ConfigError> {
    if value.is_finite() {
        return Ok(value);
    }
    fail(field, "a finite number", value, Violation::NotFinite { value })
}

/// A duration given as a float number of milliseconds: finite, from 0 to [`MAX_DURATION`]
/// (the longest any option takes; the option's own range is checked by [`Config::validate`]).
pub fn duration_from_ms(field: &'static str, value: f64) -> Result<Duration, ConfigError> {
    if !(value.is_finite() && value >= 0.0) {
        let rule = "a finite number of milliseconds of at least 0";
        return fail(field, rule, value, Violation::Millis { value });
    }
    if value > MAX_DURATION.as_secs_f64() * 1e3 {
        let violation = Violation::MillisAtMost {
            max: MAX_DURATION,
            value,
        };
        return fail(field, format!("at most {MAX_DURATION:?} in ms"), value, violation);
    }
    Ok(Duration::from_secs_f64(value / 1e3))
}

/// `field` given without `with`, the option it needs.
pub fn missing_option<T>(field: &'static str, with: &'static str) -> Result<T, ConfigError> {
    fail(
        field,
        format!("given with {with}"),
        format_args!("missing"),
        Violation::Missing { with },
    )
}

impl Config {
    /// Checks every option; the first one that breaks a rule is named in the error.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let window_calls = match self.window {
            Window::Count(n) => {
                check_count("window.count", n, 1, MAX_WINDOW_CALLS)?;
                n
            }
            Window::Time { length, buckets } => {
                check_count("window.buckets", buckets, 1, MAX_WINDOW_BUCKETS)?;
                check_duration("window.length", length, ONE_MS * buckets)?;
                u32::MAX
            }
        };
        let fits_window =
            |field: &'static str, min_calls: u32| check_count(field, min_calls, 1, window_calls.min(MAX_WINDOW_CALLS));
        if let Some(n) = self.consecutive_failures {
            check_count("consecutive_failures", n, 1, u32::MAX)?;
        }
        if let Some(rule) = self.failure_rate {
            check_percent("failure_rate.threshold_percent", rule.threshold_percent)?;
            fits_window("failure_rate.min_calls", rule.min_calls)?;
        }
        if let Some(rule) = self.slow_call_rate {
            check_duration("slow_call_rate.slow_call", rule.slow_call, Duration::from_nanos(1))?;
            check_percent("slow_call_rate.rate.threshold_percent", rule.rate.threshold_percent)?;
            fits_window("slow_call_rate.rate.min_calls", rule.rate.min_calls)?;
        }
        if let Some(n) = self.failures_in_window {
            fits_window("failures_in_window", n)?;
        }
        if let Some(rule) = self.latency {
            check_percent("latency.percentile", rule.percentile)?;
            check_duration("latency.threshold", rule.threshold, Duration::from_nanos(1))?;
            fits_window("latency.min_calls", rule.min_calls)?;
        }
        self.open_duration.validate()?;
        check_count(
            "half_open_max_probes",
            self.half_open_max_probes,
            1,
            MAX_PROBES.min(window_calls),
        )?;
        check_count("half_open_successes", self.half_open_successes, 1, MAX_WINDOW_CALLS)?;
        if let Some(t) = self.max_probe_time {
            check_duration("max_probe_time", t, ONE_MS)?;
        }
        if let Some(t) = self.call_timeout {
            check_duration("call_timeout", t, Duration::from_nanos(1))?;
        }
        Ok(())
    }

    /// The probe expiry in force: `max_probe_time`, else `call_timeout`, else 60 s.
    pub fn effective_max_probe_time(&self) -> Duration {
        self.max_probe_time
            .or(self.call_timeout)
            .unwrap_or(DEFAULT_MAX_PROBE_TIME)
            .max(ONE_MS)
    }

    /// Whether a call's duration matters to this config: a slow-call or latency rule, or a
    /// histogram. Callers may skip timing calls when it does not.
    pub fn uses_call_duration(&self) -> bool {
        self.tracks_latency() || self.slow_call_rate.is_some()
    }

    /// Whether breakers with this config keep a latency histogram.
    pub fn tracks_latency(&self) -> bool {
        self.track_latency || self.latency.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(config: Config) -> String {
        config.validate().unwrap_err().to_string()
    }

    #[test]
    fn the_defaults_are_valid() {
        assert_eq!(Config::default().validate(), Ok(()));
    }

    #[test]
    fn errors_name_the_field_the_rule_and_the_value() {
        let c = Config {
            failure_rate: Some(RateRule::percent(150.0)),
            ..Config::default()
        };
        assert_eq!(
            error_of(c),
            "failure_rate.threshold_percent must be a number above 0 and at most 100, but was 150.0"
        );
        let c = Config {
            window: Window::Count(0),
            ..Config::default()
        };
        assert_eq!(error_of(c), "window.count must be within 1..=1000000, but was 0");
    }

    #[test]
    fn nan_infinite_and_zero_values_are_refused() {
        for bad in [f64::NAN, f64::INFINITY, 0.0, -1.0] {
            let c = Config {
                failure_rate: Some(RateRule::percent(bad)),
                ..Config::default()
            };
            assert!(error_of(c).starts_with("failure_rate.threshold_percent"));
        }
        let c = Config {
            consecutive_failures: Some(0),
            ..Config::default()
        };
        assert!(error_of(c).starts_with("consecutive_failures must be within 1.."));
    }

    #[test]
    fn more_probes_than_the_window_holds_is_refused() {
        let c = Config {
            window: Window::Count(2),
            failure_rate: None,
            ..Config::default()
        };
        assert_eq!(error_of(c), "half_open_max_probes must be within 1..=2, but was 3");
    }

    #[test]
    fn min_calls_beyond_a_count_window_is_refused() {
        let c = Config {
            window: Window::Count(5),
            ..Config::default()
        };
        assert_eq!(error_of(c), "failure_rate.min_calls must be within 1..=5, but was 10");
    }

    #[test]
    fn time_windows_need_a_millisecond_per_bucket() {
        let c = Config {
            window: Window::Time {
                length: Duration::from_millis(5),
                buckets: 10,
            },
            ..Config::default()
        };
        assert!(error_of(c).starts_with("window.length must be within 10ms.."));
    }

    #[test]
    fn numbers_from_a_binding_are_converted_or_refused_by_rule() {
        assert_eq!(whole_number("window.count", 7.0), Ok(7));
        let e = whole_number("window.count", 2.5).unwrap_err();
        assert_eq!(e.violation, Violation::NotWhole { value: 2.5 });
        let e = whole_number("window.count", -1.0).unwrap_err();
        assert_eq!(e.violation, Violation::WholeAtLeast { min: 0, value: -1.0 });
        let e = whole_number("window.count", 5e9).unwrap_err();
        assert_eq!(
            e.to_string(),
            "window.count must be a whole number of at most 4294967295, but was 5000000000.0"
        );
        assert_eq!(finite_number("open_duration.jitter", 0.5), Ok(0.5));
        assert!(finite_number("open_duration.jitter", f64::NAN).is_err());
        assert_eq!(duration_from_ms("call_timeout", 1.5), Ok(Duration::from_micros(1500)));
        let e = duration_from_ms("call_timeout", -5.0).unwrap_err();
        assert_eq!(e.violation, Violation::Millis { value: -5.0 });
        let e = duration_from_ms("call_timeout", 1e16).unwrap_err();
        assert_eq!(
            e.violation,
            Violation::MillisAtMost {
                max: MAX_DURATION,
                value: 1e16
            }
        );
        let e = missing_option::<()>("slow_call_rate.slow_call", "slow_call_rate.rate.threshold_percent").unwrap_err();
        assert_eq!(
            e.to_string(),
            "slow_call_rate.slow_call must be given with slow_call_rate.rate.threshold_percent, but was missing"
        );
    }

    #[test]
    fn probe_expiry_falls_back_to_call_timeout_then_sixty_seconds() {
        let mut c = Config::default();
        assert_eq!(c.effective_max_probe_time(), Duration::from_secs(60));
        c.call_timeout = Some(Duration::from_secs(2));
        assert_eq!(c.effective_max_probe_time(), Duration::from_secs(2));
        c.max_probe_time = Some(Duration::from_secs(5));
        assert_eq!(c.effective_max_probe_time(), Duration::from_secs(5));
    }
}
