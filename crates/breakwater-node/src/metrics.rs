//! Metrics as numbers in a `Float64Array`: one record per breaker, its fields in the order of
//! [`FIELDS`], which the facade reads once (`metricFields()`) to find each one. Creating a
//! JavaScript object field by field through napi costs microseconds per breaker; a health view
//! of 10,000 breakers is one array. Durations are in milliseconds; NaN marks a field that does
//! not apply (no latency tracked, no deadline).

use breakwater::{Metrics, State};
use napi::bindgen_prelude::Float64Array;
use napi_derive::napi;

/// The fields of a record, in order: the scalar fields, the latency summary, then the
/// transition counts `[from * 5 + to]` by state number.
const FIELDS: [&str; 30] = [
    "state",
    "stateSinceMs",
    "timeInStateMs",
    "retryAfterMs",
    "calls",
    "successes",
    "failures",
    "ignored",
    "rejections",
    "inFlight",
    "timeouts",
    "slowCalls",
    "stale",
    "timesOpened",
    "timesHalfOpened",
    "timeOpenMs",
    "successRate",
    "consecutiveFailures",
    "windowCalls",
    "windowFailures",
    "windowSlowCalls",
    "windowFailureRate",
    "windowSlowCallRate",
    "latencyCount",
    "latencyMin",
    "latencyMean",
    "latencyP50",
    "latencyP95",
    "latencyP99",
    "latencyMax",
];

const STATES: usize = State::ALL.len();

/// Numbers in one breaker's record.
pub(crate) const RECORD_LEN: usize = FIELDS.len() + STATES * STATES;

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Appends `m` as one record to `out`.
pub(crate) fn pack(m: &Metrics, out: &mut Vec<f64>) {
    let latency = m.latency.as_ref();
    let lat = |f: fn(&breakwater::LatencySummary) -> f64| latency.map_or(f64::NAN, f);
    out.extend_from_slice(&[
        f64::from(m.state as u8),
        m.state_since_nanos as f64 / 1e6,
        ms(m.time_in_state),
        m.retry_after.map_or(f64::NAN, ms),
        m.calls as f64,
        m.successes as f64,
        m.failures as f64,
        m.ignored as f64,
        m.rejections as f64,
        m.in_flight as f64,
        m.timeouts as f64,
        m.slow_calls as f64,
        m.stale as f64,
        m.times_opened as f64,
        m.times_half_opened as f64,
        ms(m.time_open),
        m.success_rate,
        f64::from(m.consecutive_failures),
        m.window.calls as f64,
        m.window.failures as f64,
        m.window.slow as f64,
        m.window_failure_rate,
        m.window_slow_call_rate,
        lat(|l| l.count as f64),
        lat(|l| ms(l.min)),
        lat(|l| ms(l.mean)),
        lat(|l| ms(l.p50)),
        lat(|l| ms(l.p95)),
        lat(|l| ms(l.p99)),
        lat(|l| ms(l.max)),
    ]);
    out.extend(m.transitions.iter().flatten().map(|&n| n as f64));
}

/// One breaker's record.
pub(crate) fn record(m: &Metrics) -> Float64Array {
    let mut out = Vec::with_capacity(RECORD_LEN);
    pack(m, &mut out);
    Float64Array::new(out)
}

/// The names of a metrics record's numbers, in order; the 25 transition counts (`[from * 5 + to]`
/// by state number) follow the ones named.
#[napi(catch_unwind)]
pub fn metric_fields() -> Vec<String> {
    FIELDS.iter().map(|f| f.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_has_one_number_per_field_and_transition_pair() {
        let breaker = breakwater::Breaker::new("x", breakwater::Config::default()).unwrap();
        let mut out = Vec::new();
        pack(&breaker.metrics(), &mut out);
        assert_eq!(out.len(), RECORD_LEN);
        assert_eq!(metric_fields().len() + STATES * STATES, RECORD_LEN);
    }
}
