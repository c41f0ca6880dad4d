//! JavaScript options -> `breakwater::Config`, and back (to name the options that differ from an
//! existing breaker's), from one table: [`OPTIONS`] gives each option's JavaScript name, the
//! shape of its JavaScript value (checked by the facade), the core fields it sets (checked by
//! the core, whose errors are renamed with the same table) and how to show it. The facade reads
//! the table through [`breaker_options`]; the fields of [`NativeOptions`] carry the same names.

use std::time::Duration;

use breakwater::{
    duration_from_ms, finite_number, missing_option, whole_number, Backoff, Config, ConfigError, LatencyRule, RateRule,
    SlowCallRule, Violation, Window, MAX_DURATION,
};
use napi::bindgen_prelude::Either;
use napi_derive::napi;

use crate::errors::{js_millis, js_number, js_string, Invalid};

/// Breaker options as the TypeScript facade passes them: named as JavaScript users write them,
/// durations in milliseconds, rates in percent. Absent fields keep the core's defaults; `false`
/// turns a default rule off.
#[napi(object)]
#[derive(Default)]
pub struct NativeOptions {
    /// Open after this many failures in a row (default 5), or `false`.
    pub consecutive_failures: Option<Either<f64, bool>>,
    /// Open when this percentage of the window failed (default 50), or `false`.
    pub failure_rate: Option<Either<f64, bool>>,
    /// Calls the window must hold before a rate or latency rule may trip (default 10).
    pub minimum_calls: Option<f64>,
    /// Open when this percentage of the window was slow (needs `slowCallDuration`).
    pub slow_call_rate: Option<f64>,
    /// A call is slow when it took at least this many milliseconds.
    pub slow_call_duration: Option<f64>,
    /// Open when the window holds this many failures.
    pub failures_in_window: Option<f64>,
    /// Open when a latency percentile of the window is above a threshold.
    pub latency: Option<NativeLatencyOptions>,
    /// A count window of the last N calls (default 100).
    pub window_size: Option<f64>,
    /// A time window of this many milliseconds instead of a count window.
    pub window: Option<f64>,
    /// Buckets of the time window (default 10).
    pub window_buckets: Option<f64>,
    /// First open duration in milliseconds (default 30 000).
    pub open_for: Option<f64>,
    /// Growth of the open duration per reopen (default 2).
    pub open_multiplier: Option<f64>,
    /// Longest open duration in milliseconds (default 300 000).
    pub max_open_for: Option<f64>,
    /// Spread of open durations, 0..=1 (default 0).
    pub open_jitter: Option<f64>,
    /// Probes at once while half-open (default 3).
    pub half_open_probes: Option<f64>,
    /// Successful probes that close (default 2).
    pub half_open_successes: Option<f64>,
    /// Unreported probes expire after this many milliseconds (default: the timeout, else 60 000).
    pub max_probe_time: Option<f64>,
    /// The call timeout in milliseconds (default none).
    pub timeout: Option<f64>,
    /// Keep latency percentiles in metrics.
    pub track_latency: Option<bool>,
}

/// The latency rule of [`NativeOptions`]: the trading pause.
#[napi(object)]
#[derive(Default, Clone, Copy)]
pub struct NativeLatencyOptions {
    /// The percentile (default 99, for P99).
    pub percentile: Option<f64>,
    /// Open when the percentile is above this many milliseconds.
    pub threshold: f64,
}

/// The JavaScript shape of an option's value: what the facade checks (the core checks the rest).
#[napi(string_enum = "camelCase")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionShape {
    /// A number.
    Number,
    /// A number, or `false` to turn the rule off.
    NumberOrOff,
    /// A duration: milliseconds or a string such as `'30s'`.
    Duration,
    /// A duration a timer waits: also more than 0 and within the longest timer Node.js keeps.
    Timeout,
    /// `true` or `false`.
    Flag,
    /// An object of the options named `<name>.<key>`.
    Object,
}

/// One breaker option as the facade checks it: its JavaScript name (`latency.threshold` for
/// a key of `latency`) and the shape of its value.
#[napi(object)]
pub struct BreakerOption {
    /// The name JavaScript users write.
    pub name: String,
    /// What JavaScript value it takes.
    pub shape: OptionShape,
    /// Whether it must be given (a key its object cannot do without).
    pub required: bool,
}

/// One row of [`OPTIONS`].
struct Row {
    /// The name JavaScript users write (`latency.threshold` inside `latency`).
    name: &'static str,
    /// The shape of its JavaScript value.
    shape: OptionShape,
    /// The core fields it sets, as `ConfigError::field` names them.
    fields: &'static [&'static str],
    /// Its value in a config, as JavaScript would write it (`off` for a rule that is off).
    show: Option<fn(&Config) -> String>,
}

const FAILURE_RATE_MIN_CALLS: &str = "failure_rate.min_calls";
const SLOW_CALL: &str = "slow_call_rate.slow_call";
const SLOW_CALL_PERCENT: &str = "slow_call_rate.rate.threshold_percent";
/// The one option that must be given inside its object (the latency rule has no default threshold).
const LATENCY_THRESHOLD: &str = "latency.threshold";

/// Every breaker option, in the order messages list them.
static OPTIONS: &[Row] = &[
    Row {
        name: "consecutiveFailures",
        shape: OptionShape::NumberOrOff,
        fields: &["consecutive_failures"],
        show: Some(|c| c.consecutive_failures.map_or("false".into(), |n| n.to_string())),
    },
    Row {
        name: "failureRate",
        shape: OptionShape::NumberOrOff,
        fields: &["failure_rate.threshold_percent"],
        show: Some(|c| {
            c.failure_rate
                .map_or("false".into(), |r| js_number(r.threshold_percent))
        }),
    },
    Row {
        name: "minimumCalls",
        shape: OptionShape::Number,
        fields: &[
            FAILURE_RATE_MIN_CALLS,
            "slow_call_rate.rate.min_calls",
            "latency.min_calls",
        ],
        show: Some(|c| {
            let min_calls = c
                .failure_rate
                .map(|r| r.min_calls)
                .or(c.slow_call_rate.map(|r| r.rate.min_calls))
                .or(c.latency.map(|r| r.min_calls));
            min_calls.map_or_else(off, |n| n.to_string())
        }),
    },
    Row {
        name: "slowCallRate",
        shape: OptionShape::Number,
        fields: &[SLOW_CALL_PERCENT],
        show: Some(|c| {
            c.slow_call_rate
                .map_or_else(off, |r| js_number(r.rate.threshold_percent))
        }),
    },
    Row {
        name: "slowCallDuration",
        shape: OptionShape::Duration,
        fields: &[SLOW_CALL],
        show: Some(|c| c.slow_call_rate.map_or_else(off, |r| js_millis(r.slow_call))),
    },
    Row {
        name: "failuresInWindow",
        shape: OptionShape::Number,
        fields: &["failures_in_window"],
        show: Some(|c| c.failures_in_window.map_or_else(off, |n| n.to_string())),
    },
    Row {
        name: "latency",
        shape: OptionShape::Object,
        fields: &[],
        show: None,
    },
    Row {
        name: "latency.percentile",
        shape: OptionShape::Number,
        fields: &["latency.percentile"],
        show: Some(|c| c.latency.map_or_else(off, |r| js_number(r.percentile))),
    },
    Row {
        name: LATENCY_THRESHOLD,
        shape: OptionShape::Duration,
        fields: &["latency.threshold"],
        show: Some(|c| c.latency.map_or_else(off, |r| js_millis(r.threshold))),
    },
    Row {
        name: "windowSize",
        shape: OptionShape::Number,
        fields: &["window.count"],
        show: Some(|c| match c.window {
            Window::Count(n) => n.to_string(),
            Window::Time { .. } => off(),
        }),
    },
    Row {
        name: "window",
        shape: OptionShape::Duration,
        fields: &["window.length"],
        show: Some(|c| match c.window {
            Window::Count(_) => off(),
            Window::Time { length, .. } => js_millis(length),
        }),
    },
    Row {
        name: "windowBuckets",
        shape: OptionShape::Number,
        fields: &["window.buckets"],
        show: Some(|c| match c.window {
            Window::Count(_) => off(),
            Window::Time { buckets, .. } => buckets.to_string(),
        }),
    },
    Row {
        name: "openFor",
        shape: OptionShape::Duration,
        fields: &["open_duration.base"],
        show: Some(|c| js_millis(c.open_duration.base)),
    },
    Row {
        name: "openMultiplier",
        shape: OptionShape::Number,
        fields: &["open_duration.multiplier"],
        show: Some(|c| js_number(c.open_duration.multiplier)),
    },
    Row {
        name: "maxOpenFor",
        shape: OptionShape::Duration,
        fields: &["open_duration.cap"],
        show: Some(|c| js_millis(c.open_duration.cap)),
    },
    Row {
        name: "openJitter",
        shape: OptionShape::Number,
        fields: &["open_duration.jitter"],
        show: Some(|c| js_number(c.open_duration.jitter)),
    },
    Row {
        name: "halfOpenProbes",
        shape: OptionShape::Number,
        fields: &["half_open_max_probes"],
        show: Some(|c| c.half_open_max_probes.to_string()),
    },
    Row {
        name: "halfOpenSuccesses",
        shape: OptionShape::Number,
        fields: &["half_open_successes"],
        show: Some(|c| c.half_open_successes.to_string()),
    },
    Row {
        name: "maxProbeTime",
        shape: OptionShape::Duration,
        fields: &["max_probe_time"],
        show: Some(|c| c.max_probe_time.map_or_else(|| "unset".into(), js_millis)),
    },
    Row {
        name: "timeout",
        shape: OptionShape::Timeout,
        fields: &["call_timeout"],
        show: Some(|c| c.call_timeout.map_or_else(|| "none".into(), js_millis)),
    },
    Row {
        name: "trackLatency",
        shape: OptionShape::Flag,
        fields: &["track_latency"],
        show: Some(|c| c.track_latency.to_string()),
    },
];

/// Core fields checked for other entries than a breaker's options, and their JavaScript names.
static OTHER_NAMES: &[(&str, &str)] = &[
    ("name", "name"),
    ("max_concurrent", "maxConcurrent"),
    ("max_queue", "maxQueue"),
];

fn off() -> String {
    "off".to_string()
}

/// The name a JavaScript user wrote for a core field; any other name is already JavaScript's
/// (`forceOpen duration`).
pub(crate) fn js_name(field: &str) -> &str {
    let option = OPTIONS
        .iter()
        .find(|row| row.fields.contains(&field))
        .map(|row| row.name);
    let other = || OTHER_NAMES.iter().find(|(core, _)| *core == field).map(|(_, js)| *js);
    option.or_else(other).unwrap_or(field)
}

/// Every breaker option with the JavaScript shape of its value, in the order messages list
/// them: the facade checks these shapes, and refuses any other key.
#[napi]
pub fn breaker_options() -> Vec<BreakerOption> {
    OPTIONS
        .iter()
        .map(|row| BreakerOption {
            name: row.name.into(),
            shape: row.shape,
            required: row.name == LATENCY_THRESHOLD,
        })
        .collect()
}

/// A count (a whole number that fits in 32 bits), for an entry without its `Env` (the bulkhead's).
pub(crate) fn count(field: &'static str, value: f64) -> napi::Result<u32> {
    whole_number(field, value).map_err(|e| Invalid::from(e).into_napi())
}

/// A duration in milliseconds: finite, from 0 to 30 days (the longest any option takes).
pub(crate) fn millis(field: &'static str, value: f64) -> Result<Duration, Invalid> {
    duration_from_ms(field, value).map_err(Invalid::from)
}

/// A config as the JavaScript options that make it: every option's name and its value as
/// JavaScript would write it (`off` for a rule that is off), in a fixed order.
pub(crate) fn described(c: &Config) -> Vec<(&'static str, String)> {
    OPTIONS
        .iter()
        .filter_map(|row| row.show.map(|show| (row.name, show(c))))
        .collect()
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

/// The longest duration, as the rules say it.
fn longest(max: Duration) -> String {
    let days = if max == MAX_DURATION { " (30 days)" } else { "" };
    format!("{} ms{days}", js_millis(max))
}

impl From<ConfigError> for Invalid {
    /// A core config error in JavaScript's words, from its rule as data.
    fn from(e: ConfigError) -> Invalid {
        let field = js_name(e.field);
        match e.violation {
            Violation::Count { min, max, value } => Invalid::new(
                field,
                &format!("a whole number from {min} to {max}"),
                &value.to_string(),
            ),
            Violation::Percent { value } => Invalid::new(field, "a number above 0 and at most 100", &js_number(value)),
            Violation::AtLeast { min, value } => Invalid::new(
                field,
                &format!("a finite number of at least {}", js_number(min)),
                &js_number(value),
            ),
            Violation::Fraction { value } => Invalid::new(field, "a number from 0 to 1", &js_number(value)),
            Violation::Duration { min, max, value } => {
                let rule = if min <= Duration::from_nanos(1) {
                    format!("more than 0 ms and at most {}", longest(max))
                } else {
                    format!("from {} ms to {}", js_millis(min), longest(max))
                };
                Invalid::new(field, &rule, &format!("{} ms", js_millis(value)))
            }
            Violation::NotWhole { value } => Invalid::new(field, "a whole number", &js_number(value)),
            Violation::WholeAtLeast { min, value } => {
                Invalid::new(field, &format!("a whole number of at least {min}"), &js_number(value))
            }
            Violation::WholeAtMost { max, value } => {
                Invalid::new(field, &format!("a whole number of at most {max}"), &js_number(value))
            }
            Violation::NotFinite { value } => Invalid::new(field, "a finite number", &js_number(value)),
            Violation::Millis { value } => Invalid::new(
                field,
                "a finite number of milliseconds of at least 0",
                &js_number(value),
            ),
            Violation::MillisAtMost { max, value } => {
                Invalid::new(field, &format!("at most {}", longest(max)), &js_number(value))
            }
            Violation::Fixed { was, given } => Invalid::new(
                field,
                &format!("{was}, as when the breaker was made (configure cannot change it: make a new breaker)"),
                &given,
            ),
            Violation::Missing { with } => Invalid::new(field, &format!("given with {}", js_name(with)), "missing"),
            Violation::NameLength {
                max_bytes,
                start,
                bytes,
            } => {
                let shown = if start.len() < bytes {
                    format!("{}… ({bytes} bytes)", js_string(&start))
                } else {
                    format!("{} ({bytes} bytes)", js_string(&start))
                };
                Invalid::new(field, &format!("from 1 to {max_bytes} bytes long in UTF-8"), &shown)
            }
        }
    }
}

fn optional<T>(value: Option<f64>, f: impl FnOnce(f64) -> Result<T, ConfigError>) -> Result<Option<T>, ConfigError> {
    value.map(f).transpose()
}

/// `Some(Some(n))` a value, `Some(None)` turned off, `None` the default.
fn switchable(field: &'static str, value: Option<Either<f64, bool>>) -> Result<Option<Option<f64>>, ConfigError> {
    match value {
        None | Some(Either::B(true)) => Ok(None),
        Some(Either::B(false)) => Ok(Some(None)),
        Some(Either::A(n)) => Ok(Some(Some(finite_number(field, n)?))),
    }
}

impl NativeOptions {
    /// The core config these options make. Numbers are converted here (napi's own integer
    /// conversions wrap negative and fractional values silently); the rules are checked by
    /// [`Config::validate`], with the same field names.
    pub(crate) fn to_config(&self) -> Result<Config, Invalid> {
        self.convert().map_err(Invalid::from)
    }

    fn convert(&self) -> Result<Config, ConfigError> {
        let defaults = Config::default();
        let min_calls = optional(self.minimum_calls, |n| whole_number(FAILURE_RATE_MIN_CALLS, n))?
            .unwrap_or(breakwater::DEFAULT_MIN_CALLS);
        let consecutive_failures = match switchable("consecutive_failures", self.consecutive_failures)? {
            None => defaults.consecutive_failures,
            Some(None) => None,
            Some(Some(n)) => Some(whole_number("consecutive_failures", n)?),
        };
        let failure_rate = match switchable("failure_rate.threshold_percent", self.failure_rate)? {
            None => defaults.failure_rate.map(|r| RateRule { min_calls, ..r }),
            Some(None) => None,
            Some(Some(percent)) => Some(RateRule {
                threshold_percent: percent,
                min_calls,
            }),
        };
        let slow_call_rate = match (self.slow_call_rate, self.slow_call_duration) {
            (None, None) => None,
            (Some(rate), Some(slow)) => Some(SlowCallRule {
                slow_call: duration_from_ms(SLOW_CALL, slow)?,
                rate: RateRule {
                    threshold_percent: finite_number(SLOW_CALL_PERCENT, rate)?,
                    min_calls,
                },
            }),
            (None, Some(_)) => return missing_option(SLOW_CALL_PERCENT, SLOW_CALL),
            (Some(_), None) => return missing_option(SLOW_CALL, SLOW_CALL_PERCENT),
        };
        let latency = match self.latency {
            None => None,
            Some(rule) => Some(LatencyRule {
                percentile: finite_number("latency.percentile", rule.percentile.unwrap_or(99.0))?,
                threshold: duration_from_ms("latency.threshold", rule.threshold)?,
                min_calls,
            }),
        };
        let window = match (self.window, self.window_size) {
            (Some(ms), _) => Window::Time {
                length: duration_from_ms("window.length", ms)?,
                buckets: optional(self.window_buckets, |n| whole_number("window.buckets", n))?.unwrap_or(10),
            },
            (None, size) => Window::Count(
                optional(size, |n| whole_number("window.count", n))?.unwrap_or(breakwater::DEFAULT_WINDOW_CALLS),
            ),
        };
        let b = defaults.open_duration;
        let base = optional(self.open_for, |n| duration_from_ms("open_duration.base", n))?.unwrap_or(b.base);
        Ok(Config {
            consecutive_failures,
            failure_rate,
            slow_call_rate,
            failures_in_window: optional(self.failures_in_window, |n| whole_number("failures_in_window", n))?,
            latency,
            window,
            open_duration: Backoff {
                base,
                multiplier: self.open_multiplier.unwrap_or(b.multiplier),
                // Without a cap of its own, a long first open duration raises the default cap.
                cap: optional(self.max_open_for, |n| duration_from_ms("open_duration.cap", n))?
                    .unwrap_or(b.cap.max(base)),
                jitter: self.open_jitter.unwrap_or(b.jitter),
            },
            half_open_max_probes: optional(self.half_open_probes, |n| whole_number("half_open_max_probes", n))?
                .unwrap_or(defaults.half_open_max_probes),
            half_open_successes: optional(self.half_open_successes, |n| whole_number("half_open_successes", n))?
                .unwrap_or(defaults.half_open_successes),
            max_probe_time: optional(self.max_probe_time, |n| duration_from_ms("max_probe_time", n))?,
            call_timeout: optional(self.timeout, |n| duration_from_ms("call_timeout", n))?,
            track_latency: self.track_latency.unwrap_or(false),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_core_field_has_one_javascript_name() {
        let fields: Vec<&str> = OPTIONS.iter().flat_map(|row| row.fields.iter().copied()).collect();
        for row in OPTIONS {
            for field in row.fields {
                assert_eq!(
                    fields.iter().filter(|f| *f == field).count(),
                    1,
                    "{field} is in two rows"
                );
                assert_eq!(js_name(field), row.name);
            }
        }
        assert_eq!(js_name("max_concurrent"), "maxConcurrent");
        assert_eq!(js_name("forceOpen duration"), "forceOpen duration");
    }

    #[test]
    fn every_option_a_config_shows_is_a_row_and_nested_rows_follow_their_object() {
        let described = described(&Config::default());
        assert_eq!(
            described.len(),
            OPTIONS.iter().filter(|r| r.shape != OptionShape::Object).count()
        );
        for row in OPTIONS.iter().filter(|r| r.name.contains('.')) {
            let (parent, _) = row.name.split_once('.').unwrap();
            let object = OPTIONS.iter().find(|r| r.name == parent).expect("its object is a row");
            assert_eq!(object.shape, OptionShape::Object);
        }
    }

    #[test]
    fn the_facade_gets_every_row_and_only_the_latency_threshold_is_required() {
        let exported = breaker_options();
        let names: Vec<&str> = exported.iter().map(|o| o.name.as_str()).collect();
        let rows: Vec<&str> = OPTIONS.iter().map(|row| row.name).collect();
        assert_eq!(names, rows);
        let required: Vec<&str> = exported
            .iter()
            .filter(|o| o.required)
            .map(|o| o.name.as_str())
            .collect();
        assert_eq!(required, ["latency.threshold"]);
    }

    #[test]
    fn every_default_is_valid_and_equal_to_the_core_default() {
        let config = NativeOptions::default().convert().unwrap();
        assert_eq!(config, Config::default());
    }

    #[test]
    fn config_errors_are_worded_for_javascript() {
        let config = breakwater::Config {
            window: breakwater::Window::Count(0),
            ..Default::default()
        };
        let message = Invalid::from(config.validate().unwrap_err());
        assert_eq!(
            message.message(),
            "windowSize must be a whole number from 1 to 1000000, but was 0"
        );
        let cases = [
            (
                breakwater::whole_number("window.count", -1.0),
                "windowSize must be a whole number of at least 0, but was -1",
            ),
            (
                breakwater::whole_number("consecutive_failures", 2.5),
                "consecutiveFailures must be a whole number, but was 2.5",
            ),
            (
                breakwater::finite_number("failure_rate.threshold_percent", f64::INFINITY).map(|_| 0),
                "failureRate must be a finite number, but was Infinity",
            ),
            (
                breakwater::duration_from_ms("window.length", 1e16).map(|_| 0),
                "window must be at most 2592000000 ms (30 days), but was 10000000000000000",
            ),
            (
                breakwater::duration_from_ms("open_duration.base", -5.0).map(|_| 0),
                "openFor must be a finite number of milliseconds of at least 0, but was -5",
            ),
            (
                breakwater::missing_option("slow_call_rate.slow_call", "slow_call_rate.rate.threshold_percent"),
                "slowCallDuration must be given with slowCallRate, but was missing",
            ),
        ];
        for (result, expected) in cases {
            let message = Invalid::from(result.unwrap_err());
            assert_eq!(message.message(), expected);
        }
        let config = breakwater::Config {
            open_duration: breakwater::Backoff {
                base: Duration::from_micros(500),
                ..Default::default()
            },
            ..Default::default()
        };
        let message = Invalid::from(config.validate().unwrap_err());
        assert_eq!(
            message.message(),
            "openFor must be from 1 ms to 2592000000 ms (30 days), but was 0.5 ms"
        );
    }
}
