//! Metrics as a plain JavaScript object: durations in milliseconds.

use breakwater::Metrics;
use napi_derive::napi;

/// Latency percentiles in milliseconds.
#[napi(object)]
pub struct NativeLatency {
    pub count: f64,
    pub min: f64,
    pub mean: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

/// A breaker's metrics snapshot.
#[napi(object)]
pub struct NativeMetrics {
    pub state: u32,
    pub state_since_ms: f64,
    pub calls: f64,
    pub successes: f64,
    pub failures: f64,
    pub ignored: f64,
    pub rejections: f64,
    pub in_flight: f64,
    pub timeouts: f64,
    pub slow_calls: f64,
    pub stale: f64,
    pub times_opened: f64,
    pub times_half_opened: f64,
    pub time_open_ms: f64,
    pub success_rate: f64,
    pub consecutive_failures: u32,
    pub window_calls: f64,
    pub window_failures: f64,
    pub window_slow_calls: f64,
    pub window_failure_rate: f64,
    pub window_slow_call_rate: f64,
    pub latency: Option<NativeLatency>,
    pub time_in_state_ms: f64,
    pub retry_after_ms: Option<f64>,
    /// Transitions made, `[from * 5 + to]` by state number.
    pub transitions: Vec<f64>,
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

impl From<Metrics> for NativeMetrics {
    fn from(m: Metrics) -> Self {
        NativeMetrics {
            state: m.state as u32,
            state_since_ms: m.state_since_nanos as f64 / 1e6,
            calls: m.calls as f64,
            successes: m.successes as f64,
            failures: m.failures as f64,
            ignored: m.ignored as f64,
            rejections: m.rejections as f64,
            in_flight: m.in_flight as f64,
            timeouts: m.timeouts as f64,
            slow_calls: m.slow_calls as f64,
            stale: m.stale as f64,
            times_opened: m.times_opened as f64,
            times_half_opened: m.times_half_opened as f64,
            time_open_ms: ms(m.time_open),
            success_rate: m.success_rate,
            consecutive_failures: m.consecutive_failures,
            window_calls: m.window.calls as f64,
            window_failures: m.window.failures as f64,
            window_slow_calls: m.window.slow as f64,
            window_failure_rate: m.window_failure_rate,
            window_slow_call_rate: m.window_slow_call_rate,
            time_in_state_ms: ms(m.time_in_state),
            retry_after_ms: m.retry_after.map(ms),
            transitions: m.transitions.iter().flatten().map(|&n| n as f64).collect(),
            latency: m.latency.map(|l| NativeLatency {
                count: l.count as f64,
                min: ms(l.min),
                mean: ms(l.mean),
                p50: ms(l.p50),
                p95: ms(l.p95),
                p99: ms(l.p99),
                max: ms(l.max),
            }),
        }
    }
}
