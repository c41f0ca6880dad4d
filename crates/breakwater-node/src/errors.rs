//! The one place errors cross into JavaScript: each with a stable `code`, and a message in
//! JavaScript's words (option names as JavaScript writes them, numbers as JavaScript prints them,
//! durations in milliseconds; nothing like Rust's `1..=N`, `inf` or `Duration`). A leaf: the
//! wording of the core's rules, which needs the options table, is in `options.rs`.

use std::time::Duration;

use breakwater::ConfigError;
use napi::{Env, Status};

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
    pub(crate) fn new(field: &str, rule: &str, value: &str) -> Invalid {
        Invalid(format!("{field} must be {rule}, but was {value}"))
    }

    /// Its message.
    #[cfg(test)]
    pub(crate) fn message(&self) -> &str {
        &self.0
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
}
