//! Round trips of every packing in `wire.rs`, and the check that the generated files are current.

use super::generate::{typescript, GENERATED_PATH};
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
