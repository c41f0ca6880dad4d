//! The one place errors cross into JavaScript, each with a stable `code`.

use breakwater::ConfigError;

/// Codes the facade relies on.
pub(crate) const INVALID_OPTION: &str = "ERR_BREAKWATER_INVALID_OPTION";

/// The option name a JavaScript user wrote for a core config field.
fn js_name(field: &str) -> &str {
    match field {
        "name" => "name",
        "consecutive_failures" => "consecutiveFailures",
        "failure_rate.threshold_percent" => "failureRate",
        "failure_rate.min_calls" | "slow_call_rate.rate.min_calls" | "latency.min_calls" => "minimumCalls",
        "slow_call_rate.slow_call" => "slowCallDuration",
        "slow_call_rate.rate.threshold_percent" => "slowCallRate",
        "failures_in_window" => "failuresInWindow",
        "latency.percentile" => "latency.percentile",
        "latency.threshold" => "latency.threshold",
        "window.count" => "windowSize",
        "window.length" => "window",
        "window.buckets" => "windowBuckets",
        "open_duration.base" => "openFor",
        "open_duration.multiplier" => "openMultiplier",
        "open_duration.cap" => "maxOpenFor",
        "open_duration.jitter" => "openJitter",
        "half_open_max_probes" => "halfOpenProbes",
        "half_open_successes" => "halfOpenSuccesses",
        "max_probe_time" => "maxProbeTime",
        "call_timeout" => "timeout",
        "max_concurrent" => "maxConcurrent",
        "max_queue" => "maxQueue",
        other => other,
    }
}

/// A value as JavaScript would print it (`150`, not Rust's `150.0`).
fn js_value(shown: &str) -> &str {
    shown
        .strip_suffix(".0")
        .filter(|n| n.parse::<f64>().is_ok())
        .unwrap_or(shown)
}

/// An invalid option, as a JavaScript error with code `ERR_BREAKWATER_INVALID_OPTION` whose
/// message starts with the option's name; the facade rethrows it as a `RangeError`.
pub(crate) fn invalid(field: &str, rule: &str, value: impl std::fmt::Debug) -> napi::Error {
    napi::Error::new(
        napi::Status::InvalidArg,
        format!(
            "{INVALID_OPTION}: {field} must be {rule}, but was {}",
            js_value(&format!("{value:?}"))
        ),
    )
}

/// Maps a core config error, renaming the field to the JavaScript option name.
pub(crate) fn config_error(e: ConfigError) -> napi::Error {
    napi::Error::new(
        napi::Status::InvalidArg,
        format!(
            "{INVALID_OPTION}: {} must be {}, but was {}",
            js_name(e.field),
            e.rule,
            js_value(&e.value)
        ),
    )
}
