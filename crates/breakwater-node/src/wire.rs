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

/// Where the generated file goes, from this crate's directory.
#[cfg(test)]
pub(crate) const GENERATED_PATH: &str = "../../src/generated/wire.ts";

/// `src/generated/wire.ts`: the constants above as TypeScript, so the facade's decoding is
/// compiled with them (inlined by the bundler, no property read per call). Run by the test that
/// checks the committed copy.
#[cfg(test)]
pub(crate) fn typescript() -> String {
    let list = |names: &mut dyn Iterator<Item = &str>| {
        let quoted: Vec<_> = names.map(|n| format!("'{n}'")).collect();
        format!("[{}] as const", quoted.join(", "))
    };
    let outcomes: String = OUTCOMES
        .iter()
        .enumerate()
        .map(|(i, (name, _))| format!("\n  {name} = {i},"))
        .collect();
    let wire: String = [
        ("Permits are below this; an acquire that moved the breaker adds `TransitionUnit * transition code`.", "TransitionUnit", TRANSITION_UNIT.to_string()),
        ("A transition code is `1 + from + StateRadix * to + ReasonUnit * reason`.", "StateRadix", STATE_RADIX.to_string()),
        ("See `StateRadix`.", "ReasonUnit", REASON_UNIT.to_string()),
        ("A refusal is `-(1 + state + StateRadix * transition + RefusalRetryUnit * (retryAfterMs + 1))`.", "RefusalRetryUnit", REFUSAL_RETRY_UNIT.to_string()),
        ("The state in the state word's low half.", "WordStateMask", format!("0b{WORD_STATE_MASK:b}")),
        ("The permit bits (state and generation) of the state word's low half; a closed word's permit is `TransitionUnit +` them.", "WordPermitBits", format!("0x{WORD_PERMIT_BITS:x}")),
    ]
    .iter()
    .map(|(doc, name, value)| format!("\n  /** {doc} */\n  {name} = {value},"))
    .collect();
    // (doc, declaration): each becomes `/** doc */` and `export declaration`.
    let items = [
        (
            "The state names, by state number.",
            format!(
                "const STATE_NAMES = {}",
                list(&mut State::ALL.iter().map(|s| s.as_str()))
            ),
        ),
        (
            "The reason names, by the reason part of a transition code.",
            format!(
                "const REASON_NAMES = {}",
                list(&mut Reason::ALL.iter().map(|r| r.as_str()))
            ),
        ),
        (
            "The numbers of the packing, as a const enum so the bundler writes them into the decoding as literals.",
            format!("const enum Wire {{{wire}\n}}"),
        ),
        (
            "How a call ended, as `record` takes it; any other number counts as ignored.",
            format!("const enum Outcome {{{outcomes}\n}}"),
        ),
        (
            "The named fields of a metrics record, in order; the transition counts `[from * 5 + to]` follow.",
            format!("const METRIC_FIELDS = {}", list(&mut METRIC_FIELDS.iter().copied())),
        ),
        (
            "Numbers in one breaker's metrics record.",
            format!("const RECORD_LEN = {RECORD_LEN}"),
        ),
        (
            "What the binding's `wireFingerprint()` must answer: it packs these numbers this way.",
            format!("const WIRE_FINGERPRINT = '{}'", fingerprint()),
        ),
    ];
    let mut ts = String::from(
        "// Generated from crates/breakwater-node/src/wire.rs by `cargo test -p breakwater-node`. DO NOT EDIT.\n\
         // Regenerate: BREAKWATER_WRITE_WIRE=1 cargo test -p breakwater-node generated_wire\n",
    );
    for (doc, declaration) in items {
        ts.push_str(&format!("\n/** {doc} */\nexport {declaration}\n"));
    }
    ts
}

#[cfg(test)]
mod tests {
    use super::*;
    use breakwater::{Breaker, Config, Permit};

    /// The decoding rules of `src/wire.ts`, in Rust: what the facade makes of each number.
    mod js {
        use super::super::*;

        pub type Move = (State, State, Reason);

        pub fn transition(code: f64) -> Option<Move> {
            if code == 0.0 {
                return None;
            }
            let n = code as u32 - 1;
            let radix = STATE_RADIX;
            Some((
                State::ALL[(n % radix) as usize],
                State::ALL[((n / radix) % radix) as usize],
                Reason::ALL[(n / REASON_UNIT) as usize],
            ))
        }

        /// `Ok((permit, transition))` or `Err((state, retryAfterMs, transition))`.
        #[allow(clippy::type_complexity)]
        pub fn acquired(code: f64) -> Result<(f64, Option<Move>), (State, Option<f64>, Option<Move>)> {
            if code >= 0.0 {
                return Ok((code % TRANSITION_UNIT, transition((code / TRANSITION_UNIT).floor())));
            }
            let n = -code - 1.0;
            let radix = f64::from(STATE_RADIX);
            let retry = (n / REFUSAL_RETRY_UNIT).floor();
            let state = State::ALL[(n % radix) as usize];
            let moved = transition(((n % REFUSAL_RETRY_UNIT) / radix).floor());
            Err((state, if retry == 0.0 { None } else { Some(retry - 1.0) }, moved))
        }
    }

    /// Refusal deadlines to try, in milliseconds: none, small, 30 days, and the largest the core's
    /// 40-bit deadline allows, which still fits in 2^53 once packed.
    const RETRIES_MS: [Option<u64>; 6] = [
        None,
        Some(0),
        Some(1),
        Some(999),
        Some(2_592_000_000),
        Some((1 << 40) - 2),
    ];

    fn every_transition() -> impl Iterator<Item = Option<Transition>> {
        let moves = State::ALL.into_iter().flat_map(|from| {
            State::ALL.into_iter().flat_map(move |to| {
                Reason::ALL.into_iter().map(move |reason| {
                    Some(Transition {
                        from,
                        to,
                        reason,
                        at_nanos: 0,
                    })
                })
            })
        });
        std::iter::once(None).chain(moves)
    }

    fn as_move(t: Option<Transition>) -> Option<js::Move> {
        t.map(|t| (t.from, t.to, t.reason))
    }

    #[test]
    fn every_transition_code_decodes_to_its_transition() {
        let mut seen = std::collections::HashSet::new();
        for t in every_transition() {
            let code = transition_code(t);
            assert!(code <= f64::from(MAX_TRANSITION_CODE), "{t:?}");
            assert!(seen.insert(code as u32), "two transitions share code {code}");
            assert_eq!(js::transition(code), as_move(t), "{t:?}");
        }
    }

    #[test]
    fn every_permit_shape_round_trips_with_every_transition() {
        let generations = [0u32, 1, 2, 4095, 8191];
        let states = [State::Closed, State::HalfOpen, State::Disabled];
        for state in states {
            for generation in generations {
                for held in [0u32, 1 << 3] {
                    let raw = state as u32 | held | (generation << 11);
                    for t in every_transition() {
                        let code = permit_code(raw, t);
                        assert!(code >= 0.0 && code < 2f64.powi(53));
                        assert_eq!(js::acquired(code), Ok((f64::from(raw), as_move(t))), "{raw:#x} {t:?}");
                        if t.is_none() {
                            assert_eq!(permit_bits(code), raw);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn every_refusal_round_trips_with_every_transition_and_deadline() {
        for state in State::ALL {
            for retry in RETRIES_MS {
                for t in every_transition() {
                    let after = retry.map(Duration::from_millis);
                    let code = refusal_code(state, after, t);
                    assert!(code < 0.0 && code > -(2f64.powi(53)), "{code}");
                    let expected = (state, retry.map(|r| r as f64), as_move(t));
                    assert_eq!(js::acquired(code), Err(expected), "{state:?} {retry:?} {t:?}");
                }
            }
        }
        // Fractions of a millisecond are rounded down.
        let code = refusal_code(State::Open, Some(Duration::from_micros(2_999)), None);
        assert_eq!(js::acquired(code), Err((State::Open, Some(2.0), None)));
    }

    #[test]
    fn permits_from_the_state_word_are_the_permits_the_core_gives() {
        let b = Breaker::new("wire", Config::default()).unwrap();
        for round in 0..20 {
            let low = b.state_word().load(std::sync::atomic::Ordering::Acquire) as u32;
            assert_eq!(low & WORD_STATE_MASK, b.state() as u32);
            match b.state() {
                State::Closed => {
                    let permit = b.try_acquire().unwrap();
                    assert_eq!(low & WORD_PERMIT_BITS, permit.raw(), "round {round}");
                    let from_word = permit_bits(TRANSITION_UNIT + f64::from(low & WORD_PERMIT_BITS));
                    assert_eq!(Permit::from_raw(from_word), Permit::from_raw(permit.raw()));
                    b.record(permit, Outcome::Success, Duration::ZERO);
                }
                State::Disabled => assert_eq!(low & WORD_PERMIT_BITS, b.try_acquire().unwrap().raw()),
                _ => assert!(b.try_acquire().is_err()),
            }
            // Every transition moves the generation: the word's permit bits change with it.
            match round % 3 {
                0 => drop(b.force_open(None)),
                1 => drop(b.disable()),
                _ => drop(b.reset()),
            }
        }
    }

    #[test]
    fn outcomes_and_durations_read_as_record_documents() {
        for (i, (_, o)) in OUTCOMES.iter().enumerate() {
            assert_eq!(outcome(i as f64), *o);
        }
        for odd in [-1.0, 0.5, 4.0, f64::NAN, f64::INFINITY] {
            assert_eq!(outcome(odd), Outcome::Ignored);
        }
        assert_eq!(elapsed(1.5), Duration::from_micros(1_500));
        for odd in [-1.0, 0.0, f64::NAN, f64::INFINITY] {
            assert_eq!(elapsed(odd), Duration::ZERO);
        }
    }

    #[test]
    fn permit_bits_match_the_float_remainder_they_replace() {
        let edges = [
            0.0,
            1.0,
            2.5,
            16_777_215.0,
            16_777_216.0,
            16_777_218.9,
            2f64.powi(53),
            2f64.powi(63),
        ];
        let odd = [-1.0, -0.0, f64::NAN, f64::NEG_INFINITY];
        for n in edges
            .into_iter()
            .chain(edges.map(|e| e + 3.0 * TRANSITION_UNIT))
            .chain(odd)
        {
            assert_eq!(permit_bits(n), (n.max(0.0) % TRANSITION_UNIT) as u32, "{n}");
        }
        assert!(permit_bits(f64::INFINITY) < 1 << 24 && permit_bits(1e300) < 1 << 24);
    }

    #[test]
    fn a_metrics_record_has_one_number_per_field_and_transition_pair() {
        let breaker = Breaker::new("x", Config::default()).unwrap();
        let mut out = Vec::new();
        pack_metrics(&breaker.metrics(), &mut out);
        assert_eq!(out.len(), RECORD_LEN);
        assert_eq!(METRIC_FIELDS.len() + STATES * STATES, RECORD_LEN);
    }

    /// Numbers the binding makes, with what they pack, for `__test__/wire.spec.ts` to decode:
    /// every transition; every permit shape and every refusal state and deadline, each with no
    /// transition and a few, and with every transition once.
    fn cases() -> String {
        let t = |t: Option<Transition>| {
            t.map_or("null".to_string(), |t| {
                format!(
                    "[\"{}\", \"{}\", \"{}\"]",
                    t.from.as_str(),
                    t.to.as_str(),
                    t.reason.as_str()
                )
            })
        };
        let all: Vec<_> = every_transition().collect();
        let few = [all[0], all[1 + 5 * 14 + 7], all[all.len() - 1]];
        let mut transitions = Vec::new();
        for m in all.iter().skip(1) {
            transitions.push(format!("[{}, {}]", transition_code(*m), t(*m)));
        }
        let mut permits = Vec::new();
        for state in [State::Closed, State::HalfOpen, State::Disabled] {
            for generation in [0u32, 1, 4095, 8191] {
                for held in [0u32, 1 << 3] {
                    let raw = state as u32 | held | (generation << 11);
                    let moves: Vec<_> = if raw == ((8191 << 11) | 2) {
                        all.clone()
                    } else {
                        few.to_vec()
                    };
                    for m in moves {
                        permits.push(format!("[{}, {raw}, {}]", permit_code(raw, m), t(m)));
                    }
                }
            }
        }
        let mut refusals = Vec::new();
        for state in State::ALL {
            for retry in RETRIES_MS {
                let moves: Vec<_> = if state == State::HalfOpen && retry == Some(999) {
                    all.clone()
                } else {
                    few.to_vec()
                };
                for m in moves {
                    let code = refusal_code(state, retry.map(Duration::from_millis), m);
                    let retry = retry.map_or("null".to_string(), |r| r.to_string());
                    refusals.push(format!("[{code}, \"{}\", {retry}, {}]", state.as_str(), t(m)));
                }
            }
        }
        let list = |rows: Vec<String>| format!("[\n    {}\n  ]", rows.join(",\n    "));
        format!(
            "{{\n  \"comment\": \"Generated from crates/breakwater-node/src/wire.rs by cargo test -p breakwater-node (BREAKWATER_WRITE_WIRE=1 to rewrite). DO NOT EDIT.\",\n  \"transitions\": {},\n  \"permits\": {},\n  \"refusals\": {}\n}}\n",
            list(transitions),
            list(permits),
            list(refusals)
        )
    }

    /// The committed `src/generated/wire.ts` is what [`typescript`] writes.
    #[test]
    fn generated_wire_ts_is_current() {
        is_current(GENERATED_PATH, typescript());
    }

    /// The committed `__test__/fixtures/wire-cases.json` is what [`cases`] writes.
    #[test]
    fn generated_wire_cases_are_current() {
        is_current("../../__test__/fixtures/wire-cases.json", cases());
    }

    /// Fails unless the file at `path` (from this crate) holds `want`; with
    /// `BREAKWATER_WRITE_WIRE=1`, writes it first.
    fn is_current(path: &str, want: String) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
        if std::env::var_os("BREAKWATER_WRITE_WIRE").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &want).unwrap();
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "{} is not what wire.rs writes: run `BREAKWATER_WRITE_WIRE=1 cargo test -p breakwater-node generated_wire` and commit it",
            path.display()
        );
    }
}
