//! The table of legal transitions, tested pair by pair: from each state, every action the API
//! offers is tried on a fresh breaker, and the states reached must be exactly the table's row.

mod common;

use std::collections::BTreeSet;

use breakwater::{is_legal, Backoff, Clock, Config, Outcome, Permit, Reason, State};
use common::*;

fn config() -> Config {
    Config {
        consecutive_failures: Some(1),
        failure_rate: None,
        open_duration: Backoff::fixed(secs(1)),
        half_open_max_probes: 1,
        half_open_successes: 1,
        max_probe_time: Some(secs(1)),
        ..Config::default()
    }
}

/// A fresh breaker in `state`, with the probe it holds when half-open.
fn in_state(state: State) -> (Rig, Option<Permit>) {
    let r = rig(config());
    let mut probe = None;
    match state {
        State::Closed => {}
        State::Open => r.fail(1),
        State::HalfOpen => {
            r.fail(1);
            r.clock.advance(secs(1));
            probe = Some(r.acquire());
        }
        State::ForcedOpen => {
            r.breaker.force_open(Some(secs(1)));
        }
        State::Disabled => {
            r.breaker.disable();
        }
    }
    assert_eq!(r.breaker.state(), state);
    r.seen.lock().unwrap().clear();
    (r, probe)
}

type Action = fn(&Rig, Option<Permit>);

const ACTIONS: &[(&str, Action)] = &[
    ("a call fails", |r, _| {
        r.call(Outcome::Failure, ms(1));
    }),
    ("a call succeeds", |r, _| {
        r.call(Outcome::Success, ms(1));
    }),
    ("the held probe succeeds", |r, p| {
        if let Some(p) = p {
            r.breaker.record(p, Outcome::Success, ms(1));
        }
    }),
    ("the held probe fails", |r, p| {
        if let Some(p) = p {
            r.breaker.record(p, Outcome::Failure, ms(1));
        }
    }),
    ("the held probe is ignored", |r, p| {
        if let Some(p) = p {
            r.breaker.record(p, Outcome::Ignored, ms(1));
        }
    }),
    ("time passes, then a call", |r, _| {
        r.clock.advance(secs(1));
        let _ = r.breaker.try_acquire();
    }),
    ("reset", |r, _| {
        r.breaker.reset();
    }),
    ("disable", |r, _| {
        r.breaker.disable();
    }),
    ("force open", |r, _| {
        r.breaker.force_open(None);
    }),
    ("force open for a while", |r, _| {
        r.breaker.force_open(Some(secs(5)));
    }),
    ("remote force open", |r, _| {
        r.breaker.force_open_until(Some(1), Reason::Remote);
    }),
    ("the dependency asks to wait", |r, _| {
        r.breaker.hold_off_until(r.clock.now_nanos() + 5_000_000_000);
    }),
    ("a health check passes", |r, _| {
        r.breaker.half_open(Reason::HealthCheck);
    }),
];

#[test]
fn every_pair_of_states_is_reachable_exactly_when_the_table_allows_it() {
    for from in State::ALL {
        let mut reached = BTreeSet::new();
        for (name, action) in ACTIONS {
            let (r, probe) = in_state(from);
            action(&r, probe);
            for t in r.transitions() {
                assert!(
                    is_legal(t.from, t.to),
                    "{name} from {from}: illegal {} -> {}",
                    t.from,
                    t.to
                );
                if t.from == from {
                    reached.insert(t.to);
                }
            }
        }
        for to in State::ALL {
            assert_eq!(
                reached.contains(&to),
                is_legal(from, to),
                "{from} -> {to}: reached {}, table says {}",
                reached.contains(&to),
                is_legal(from, to)
            );
        }
    }
}

#[test]
fn each_transition_carries_its_reason() {
    let (r, _) = in_state(State::Closed);
    r.fail(1);
    assert_eq!(r.last().unwrap().reason, Reason::ConsecutiveFailures);
    r.clock.advance(secs(1));
    let probe = r.acquire();
    assert_eq!(probe.transition().unwrap().reason, Reason::OpenElapsed);
    let t = r.breaker.record(probe, Outcome::Failure, ms(1)).unwrap();
    assert_eq!(
        (t.from, t.to, t.reason),
        (State::HalfOpen, State::Open, Reason::ProbeFailed)
    );
    r.clock.advance(secs(1));
    let probe = r.acquire();
    let t = r.breaker.record(probe, Outcome::Success, ms(1)).unwrap();
    assert_eq!((t.to, t.reason), (State::Closed, Reason::ProbesSucceeded));
    let t = r
        .breaker
        .force_open_until(Some(secs(9).as_nanos() as u64), Reason::Remote)
        .unwrap();
    assert_eq!((t.to, t.reason), (State::ForcedOpen, Reason::Remote));
    r.clock.advance(secs(9));
    let probe = r.acquire();
    assert_eq!(probe.transition().unwrap().reason, Reason::ForcedOpenElapsed);
    assert_eq!(r.breaker.disable().unwrap().reason, Reason::Manual);
    assert_eq!(
        r.transitions().len(),
        8,
        "listeners saw every transition once: {:?}",
        r.transitions()
    );
}

#[test]
fn forcing_a_forced_open_breaker_again_moves_its_deadline_without_a_transition() {
    let (r, _) = in_state(State::ForcedOpen);
    assert_eq!(r.breaker.force_open(Some(secs(10))), None);
    r.clock.advance(secs(5));
    let rejected = r.breaker.try_acquire().unwrap_err();
    assert_eq!(
        (rejected.state, rejected.retry_after),
        (State::ForcedOpen, Some(secs(5)))
    );
    assert!(r.transitions().is_empty());
}

#[test]
fn resetting_a_closed_breaker_is_not_a_transition_but_clears_its_counts() {
    let r = rig(Config {
        consecutive_failures: Some(3),
        ..config()
    });
    r.fail(2);
    assert_eq!(r.breaker.reset(), None);
    assert_eq!(r.breaker.metrics().consecutive_failures, 0);
    assert_eq!(r.breaker.window_counts().calls, 0);
    r.fail(2);
    assert_eq!(r.breaker.state(), State::Closed);
    assert!(r.transitions().is_empty());
}

#[test]
fn a_passed_health_check_half_opens_an_open_breaker_before_its_time() {
    let (r, _) = in_state(State::Open);
    let t = r.breaker.half_open(Reason::HealthCheck).unwrap();
    assert_eq!(
        (t.from, t.to, t.reason),
        (State::Open, State::HalfOpen, Reason::HealthCheck)
    );
    assert!(r.acquire().is_probe(), "the next call is a probe");
    let (closed, _) = in_state(State::Closed);
    assert_eq!(
        closed.breaker.half_open(Reason::HealthCheck),
        None,
        "nothing to resume from"
    );
}

#[test]
fn a_retry_after_forces_open_but_never_shortens_a_longer_wait() {
    let (r, _) = in_state(State::Closed);
    let now = r.clock.now_nanos();
    let t = r.breaker.hold_off_until(now + secs(2).as_nanos() as u64).unwrap();
    assert_eq!((t.to, t.reason), (State::ForcedOpen, Reason::RetryAfter));
    assert_eq!(r.breaker.try_acquire().unwrap_err().retry_after, Some(secs(2)));
    assert!(r.breaker.hold_off_until(now + secs(1).as_nanos() as u64).is_none());
    assert_eq!(r.breaker.try_acquire().unwrap_err().retry_after, Some(secs(2)));
    r.breaker.force_open(None);
    assert!(
        r.breaker.hold_off_until(now + secs(9).as_nanos() as u64).is_none(),
        "forced open until reset stays so"
    );
    r.breaker.disable();
    assert!(
        r.breaker.hold_off_until(now + secs(9).as_nanos() as u64).is_none(),
        "disabled lets everything through"
    );
}
