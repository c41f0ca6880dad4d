//! The one place errors cross into JavaScript: each with a stable `code`, and a message in
//! JavaScript's words (option names as JavaScript writes them, numbers as JavaScript prints them,
//! durations in milliseconds; nothing like Rust's `1..=N`, `inf` or `Duration`).

use std::time::Duration;

use breakwater::{ConfigError, Violation, MAX_DURATION};
use napi::{Env, Status};

use crate::options::js_name;

/// The code of every error about a value a caller passed.
pub(crate) const INVALID_OPTION: &str = "ERR_BREAKWATER_INVALID_OPTION";
/// The code of the error for options that differ from those of the existing breaker.
pub(crate) const OPTIONS_DIFFER: &str = "ERR_BREAKWATER_OPTIONS_DIFFER";

/// A number as JavaScript's `String(n)` prints it (`150`, not `150.0`; `Infinity`, not `inf`).
pub(crate) fn js_number(n: f64) -> String {
    if n.is_nan() {
        "NaN".into()
    } else if n.is_infinite() {
        if n > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else if n == n.trunc() && n.abs() < 1e21 {
        format!("{n:.0}")
    } else {
        // Rust's shortest round-trip form; exponents as JavaScript writes them (`1e+21`).
        let shown = format!("{n:?}");
        match shown.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e}"),
            _ => shown,
        }
    }
}

/// A duration in milliseconds, as JavaScript prints the number.
pub(crate) fn js_millis(d: Duration) -> String {
    js_number(d.as_nanos() as f64 / 1e6)
}

/// The longest duration, as the rules say it.
fn longest(max: Duration) -> String {
    let days = if max == MAX_DURATION { " (30 days)" } else { "" };
    format!("{} ms{days}", js_millis(max))
}

/// A string quoted as `JSON.stringify` would.
pub(crate) fn js_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A value a caller passed that breaks a rule: a `RangeError` with code
/// `ERR_BREAKWATER_INVALID_OPTION`, whose message names the option, the rule and the value.
#[derive(Debug)]
pub(crate) struct Invalid(String);

impl Invalid {
    fn new(field: &str, rule: &str, value: &str) -> Invalid {
        Invalid(format!("{field} must be {rule}, but was {value}"))
    }

    /// Throws it in JavaScript as a `RangeError` with our code. The error returned tells
    /// napi-rs an exception is pending, so it throws nothing more.
    pub(crate) fn throw(self, env: &Env) -> napi::Error {
        throw(env.throw_range_error(&self.0, Some(INVALID_OPTION)))
    }

    /// For an entry without its `Env`: a plain error whose message starts with the code, which
    /// the facade's `fromNative` turns into the `RangeError`.
    pub(crate) fn into_napi(self) -> napi::Error {
        napi::Error::new(Status::InvalidArg, format!("{INVALID_OPTION}: {}", self.0))
    }
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

/// A core config error, for an entry without its `Env` (see [`Invalid::into_napi`]).
pub(crate) fn config_error(e: ConfigError) -> napi::Error {
    Invalid::from(e).into_napi()
}

/// An `Error` with code `ERR_BREAKWATER_OPTIONS_DIFFER`, thrown in JavaScript.
pub(crate) fn throw_options_differ(env: &Env, message: &str) -> napi::Error {
    throw(env.throw_error(message, Some(OPTIONS_DIFFER)))
}

/// What a fallible entry returns once it has thrown (or failed to).
fn throw(thrown: napi::Result<()>) -> napi::Error {
    match thrown {
        Ok(()) => napi::Error::new(Status::PendingException, String::new()),
        Err(e) => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_as_javascript_prints_them() {
        let cases = [
            (150.0, "150"),
            (2.5, "2.5"),
            (-1.0, "-1"),
            (1e16, "10000000000000000"),
            (1e21, "1e+21"),
            (1e-7, "1e-7"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for (n, shown) in cases {
            assert_eq!(js_number(n), shown);
        }
    }

    #[test]
    fn config_errors_are_worded_for_javascript() {
        let config = breakwater::Config {
            window: breakwater::Window::Count(0),
            ..Default::default()
        };
        let Invalid(message) = config.validate().unwrap_err().into();
        assert_eq!(
            message,
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
            let Invalid(message) = result.unwrap_err().into();
            assert_eq!(message, expected);
        }
        let config = breakwater::Config {
            open_duration: breakwater::Backoff {
                base: Duration::from_micros(500),
                ..Default::default()
            },
            ..Default::default()
        };
        let Invalid(message) = config.validate().unwrap_err().into();
        assert_eq!(
            message,
            "openFor must be from 1 ms to 2592000000 ms (30 days), but was 0.5 ms"
        );
    }
}
