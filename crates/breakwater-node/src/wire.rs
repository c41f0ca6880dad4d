//! Every number the binding hands JavaScript, packed in one place: permits, refusals, transition
//! codes, call outcomes, the state word's bits the facade reads through its view, and the metrics
//! record. `src/wire.ts` unpacks them with the constants of `src/generated/wire.ts`, which
//! [`typescript`] writes from this file (a test fails when the committed copy is not current).
//!
//! Numbers, not objects: an object made field by field through napi costs microseconds, a number
//! nanoseconds, and the hot path (`tryAcquire`, `record`) is one number each way.

use std::time::Duration;

use breakwater::{LatencySummary, Metrics, Outcome, Reason, State, Transition};
use napi_derive::napi;

/// Permits are below 2^24; an acquire that also moved the breaker adds `2^24 * transition code`.
pub(crate) const TRANSITION_UNIT: f64 = 16_777_216.0;

/// The states, and the from and to of a transition code, are counted in this radix (3 bits).
pub(crate) const STATE_RADIX: u32 = 8;

/// A transition code is `1 + from + 8 * to + 64 * reason`.
pub(crate) const REASON_UNIT: u32 = STATE_RADIX * STATE_RADIX;

/// A refusal is `-(1 + state + 8 * transition + 8192 * (retryAfterMs + 1))`.
pub(crate) const REFUSAL_RETRY_UNIT: f64 = 8192.0;

/// The largest transition code; it must fit between a refusal's state and its retry part.
const MAX_TRANSITION_CODE: u32 =
    1 + (STATE_RADIX - 1) * (1 + STATE_RADIX) + REASON_UNIT * (Reason::ALL.len() as u32 - 1);
const _: () = assert!((MAX_TRANSITION_CODE + 1) * STATE_RADIX <= REFUSAL_RETRY_UNIT as u32);
const _: () = assert!(State::ALL.len() as u32 <= STATE_RADIX);

/// The state word's state: its low 3 bits (see `breakwater::Breaker::state_word`).
pub(crate) const WORD_STATE_MASK: u32 = 0b111;

/// The bits of the state word's low half a permit keeps (state and generation): a closed word
/// gives the permit `TRANSITION_UNIT + (low & WORD_PERMIT_BITS)`, the `2^24` marking it as taken
/// on the word (see `record`).
pub(crate) const WORD_PERMIT_BITS: u32 = 0xFF_F807;

/// The outcomes `record` takes, by number; any other number counts as ignored.
pub(crate) const OUTCOMES: [(&str, Outcome); 4] = [
    ("Success", Outcome::Success),
    ("Failure", Outcome::Failure),
    ("Timeout", Outcome::Timeout),
    ("Ignored", Outcome::Ignored),
];

/// A transition as one small number: `1 + from + 8 * to + 64 * reason` (0: none).
#[inline]
pub(crate) fn transition_code(t: Option<Transition>) -> f64 {
    t.map_or(0.0, |t| {
        f64::from(1 + t.from as u32 + STATE_RADIX * t.to as u32 + REASON_UNIT * reason_index(t.reason))
    })
}

fn reason_index(r: Reason) -> u32 {
    Reason::ALL.iter().position(|x| *x == r).unwrap_or(0) as u32
}

/// A permit for JavaScript: its bits, plus `2^24 * transition` when the acquire moved the breaker.
#[inline]
pub(crate) fn permit_code(raw: u32, transition: Option<Transition>) -> f64 {
    f64::from(raw) + TRANSITION_UNIT * transition_code(transition)
}

/// A refusal for JavaScript: `-(1 + state + 8 * transition + 8192 * (retryAfterMs + 1))`, with
/// `retryAfterMs + 1 = 0` when there is no deadline (whole milliseconds, rounded down).
#[inline]
pub(crate) fn refusal_code(state: State, retry_after: Option<Duration>, transition: Option<Transition>) -> f64 {
    let retry = retry_after.map_or(0.0, |d| (d.as_millis() as f64) + 1.0);
    -(1.0 + f64::from(state as u32) + f64::from(STATE_RADIX) * transition_code(transition) + REFUSAL_RETRY_UNIT * retry)
}

/// The permit in a number `record` was given: its bits below `2^24`. In integers, because a
/// float remainder is a libm call, a tenth of a report's native instructions. `as u64` saturates
/// (NaN and negatives give 0); truncating before the remainder gives the same bits as after it
/// below 2^64, and above it an unknown permit either way.
#[inline]
pub(crate) fn permit_bits(permit: f64) -> u32 {
    (permit as u64 % TRANSITION_UNIT as u64) as u32
}

/// The outcome `record` was given: 0 success, 1 failure, 2 timeout; anything else (NaN
/// included) ignored.
#[inline]
pub(crate) fn outcome(code: f64) -> Outcome {
    match code {
        0.0 => Outcome::Success,
        1.0 => Outcome::Failure,
        2.0 => Outcome::Timeout,
        _ => Outcome::Ignored,
    }
}

/// A call's duration in (possibly fractional) milliseconds; anything not positive and finite is zero.
#[inline]
pub(crate) fn elapsed(ms: f64) -> Duration {
    if ms.is_finite() && ms > 0.0 {
        Duration::from_secs_f64((ms / 1e3).min(1e9))
    } else {
        Duration::ZERO
    }
}

/// The named fields of a metrics record, in order; the transition counts `[from * 5 + to]` (by
/// state number) follow them. Durations are in milliseconds; NaN marks a field that does not
/// apply (no latency tracked, no deadline).
pub(crate) const METRIC_FIELDS: [&str; 30] = [
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
pub(crate) const RECORD_LEN: usize = METRIC_FIELDS.len() + STATES * STATES;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Appends `m` as one record to `out`, in the order of [`METRIC_FIELDS`].
pub(crate) fn pack_metrics(m: &Metrics, out: &mut Vec<f64>) {
    let latency = m.latency.as_ref();
    let lat = |f: fn(&LatencySummary) -> f64| latency.map_or(f64::NAN, f);
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

/// Everything the facade's decoding assumes, as one short string: the generated file holds it too,
/// and the facade compares the two once at load, so a binary built from other wire code is
/// refused at once instead of misread.
pub(crate) fn fingerprint() -> String {
    let mut all = format!(
        "{TRANSITION_UNIT}/{STATE_RADIX}/{REASON_UNIT}/{REFUSAL_RETRY_UNIT}/{WORD_STATE_MASK}/{WORD_PERMIT_BITS}/{RECORD_LEN}"
    );
    let names = State::ALL
        .iter()
        .map(|s| s.as_str())
        .chain(Reason::ALL.iter().map(|r| r.as_str()));
    for name in names.chain(OUTCOMES.iter().map(|(n, _)| *n)).chain(METRIC_FIELDS) {
        all.push('/');
        all.push_str(name);
    }
    // FNV-1a, 64 bits: short and stable.
    let hash = all.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}")
}

/// A short hash of everything the facade's decoding assumes: `WIRE_FINGERPRINT` of
/// `src/generated/wire.ts` when both come from the same wire code (checked at load).
#[napi(catch_unwind)]
pub fn wire_fingerprint() -> String {
    fingerprint()
}

#[cfg(test)]
mod generate;
#[cfg(test)]
mod tests;
