//! Lanes: successes a binding reports through a caller's memory instead of a call are counted
//! exactly as `record_as` would count them: in metrics as soon as they are read, in the window
//! in order before the next failure, resetting the failures in a row, and never in the window of
//! a later closed period.

mod common;

use std::sync::atomic::Ordering::{Acquire, Relaxed};
use std::sync::Arc;

use breakwater::{Breaker, Caller, Config, Outcome, Permit, RateRule, State, Window};
use common::*;

/// What a binding does on a closed word: count the call in the lane's `started`, and make the
/// permit from the word.
fn start_on_word(breaker: &Breaker, caller: &Caller) -> Permit {
    let low = breaker.state_word().load(Acquire) as u32;
    assert_eq!(low & 7, 0, "closed");
    let started = &caller.lane().started;
    started.store(started.load(Relaxed).wrapping_add(1), Relaxed);
    Permit::from_raw(low & 0xFF_F807)
}

/// What a binding does when such a call succeeds and the word still gives its permit.
fn succeed_in_lane(caller: &Caller) {
    let lane = caller.lane();
    assert_eq!(lane.fast.load(Acquire), 1, "the breaker takes successes in the lane");
    lane.succeeded
        .store(lane.succeeded.load(Relaxed).wrapping_add(1), Relaxed);
}

/// One call through the lane when it succeeds (as the binding does), through `record_as` when not.
fn call(breaker: &Breaker, caller: &Caller, outcome: Outcome, in_lane: bool) {
    let permit = match breaker.state() {
        State::Closed => start_on_word(breaker, caller),
        _ => match breaker.try_acquire_as(caller) {
            Ok(p) => p,
            Err(_) => return,
        },
    };
    let word = breaker.state_word().load(Acquire) as u32;
    let current = word & 7 == 0 && Permit::from_raw(word & 0xFF_F807) == permit;
    if in_lane && outcome == Outcome::Success && current {
        succeed_in_lane(caller);
    } else {
        breaker.record_as(caller, permit, outcome, ms(1));
    }
}

#[test]
fn a_success_in_the_lane_is_in_metrics_at_the_next_read() {
    let r = rig(Config::default());
    let caller = r.breaker.caller();
    for _ in 0..3 {
        start_on_word(&r.breaker, &caller);
        succeed_in_lane(&caller);
    }
    let m = r.breaker.metrics();
    assert_eq!((m.calls, m.successes, m.in_flight), (3, 3, 0));
    assert_eq!((m.window.calls, m.window.failures), (3, 0));
}

#[test]
fn a_success_in_the_lane_resets_the_failures_in_a_row_before_the_next_failure_is_judged() {
    let r = rig(Config {
        consecutive_failures: Some(3),
        ..Config::default()
    });
    let caller = r.breaker.caller();
    for outcome in [
        Outcome::Failure,
        Outcome::Failure,
        Outcome::Success,
        Outcome::Failure,
        Outcome::Failure,
    ] {
        call(&r.breaker, &caller, outcome, true);
    }
    assert_eq!(r.breaker.state(), State::Closed);
    assert_eq!(r.breaker.metrics().consecutive_failures, 2);
    call(&r.breaker, &caller, Outcome::Failure, true);
    assert_eq!(r.breaker.state(), State::Open);
}

#[test]
fn a_failure_rate_counts_successes_in_the_lane_in_their_place_in_the_window() {
    let config = Config {
        consecutive_failures: None,
        failure_rate: Some(RateRule {
            threshold_percent: 50.0,
            min_calls: 4,
        }),
        window: Window::Count(4),
        ..Config::default()
    };
    let r = rig(config);
    let caller = r.breaker.caller();
    // F S S S S F: the window of the last 4 holds S S S F at the end (25 %), so it stays closed.
    for outcome in [
        Outcome::Failure,
        Outcome::Success,
        Outcome::Success,
        Outcome::Success,
        Outcome::Success,
    ] {
        call(&r.breaker, &caller, outcome, true);
    }
    call(&r.breaker, &caller, Outcome::Failure, true);
    let m = r.breaker.metrics();
    assert_eq!((m.state, m.window.calls, m.window.failures), (State::Closed, 4, 1));
    // Then S F: the last 4 are S F S F (50 %), so it opens.
    for outcome in [Outcome::Success, Outcome::Failure] {
        call(&r.breaker, &caller, outcome, true);
    }
    assert_eq!(r.breaker.state(), State::Open);
}

#[test]
fn successes_pending_when_the_window_is_cleared_are_counted_but_never_reach_the_next_window() {
    let r = rig(Config::default());
    let caller = r.breaker.caller();
    start_on_word(&r.breaker, &caller);
    succeed_in_lane(&caller);
    r.breaker.reset(); // closed -> closed: forgets the window, before anything folded the success
    let m = r.breaker.metrics();
    assert_eq!((m.calls, m.successes, m.in_flight), (1, 1, 0));
    assert_eq!(m.window.calls, 0);
}

#[test]
fn a_caller_that_goes_folds_its_pending_successes() {
    let r = rig(Config::default());
    let caller = r.breaker.caller();
    start_on_word(&r.breaker, &caller);
    succeed_in_lane(&caller);
    drop(caller);
    let m = r.breaker.metrics();
    assert_eq!(
        (m.calls, m.successes, m.ignored, m.in_flight, m.window.calls),
        (1, 1, 0, 0, 1)
    );
}

#[test]
fn breakers_whose_successes_can_differ_take_none_in_the_lane() {
    let time = Config {
        window: Window::Time {
            length: secs(10),
            buckets: 10,
        },
        ..Config::default()
    };
    let timed = Config {
        track_latency: true,
        ..Config::default()
    };
    for config in [time, timed] {
        let r = rig(config);
        assert_eq!(r.breaker.caller().lane().fast.load(Acquire), 0);
    }
    assert_eq!(rig(Config::default()).breaker.caller().lane().fast.load(Acquire), 1);
}

/// A small deterministic generator, so a failing sequence can be replayed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

#[test]
fn random_sequences_through_the_lane_give_the_same_metrics_and_states_as_through_record() {
    for seed in 0..200u64 {
        let mut rng = Lcg(seed);
        let config = Config {
            consecutive_failures: Some(3),
            failure_rate: Some(RateRule {
                threshold_percent: 50.0,
                min_calls: 5,
            }),
            window: Window::Count(8),
            open_duration: breakwater::Backoff::fixed(ms(50)),
            ..Config::default()
        };
        let (a, b) = (rig(config.clone()), rig(config));
        let (ca, cb) = (a.breaker.caller(), b.breaker.caller());
        for step in 0..300 {
            let outcome = match rng.next(10) {
                0..=5 => Outcome::Success,
                6..=7 => Outcome::Failure,
                8 => Outcome::Timeout,
                _ => Outcome::Ignored,
            };
            call(&a.breaker, &ca, outcome, false);
            call(&b.breaker, &cb, outcome, true);
            if rng.next(7) == 0 {
                a.clock.advance(ms(20));
                b.clock.advance(ms(20));
            }
            if rng.next(50) == 0 {
                a.breaker.reset();
                b.breaker.reset();
            }
            assert_eq!(a.breaker.state(), b.breaker.state(), "seed {seed}, step {step}");
            // Read now and then only, so successes pile up in the lane between reads.
            if rng.next(5) != 0 {
                continue;
            }
            let (ma, mb) = (a.breaker.metrics(), b.breaker.metrics());
            assert_eq!(
                (
                    ma.state,
                    ma.calls,
                    ma.successes,
                    ma.failures,
                    ma.ignored,
                    ma.in_flight,
                    ma.stale
                ),
                (
                    mb.state,
                    mb.calls,
                    mb.successes,
                    mb.failures,
                    mb.ignored,
                    mb.in_flight,
                    mb.stale
                ),
                "seed {seed}, step {step}"
            );
            assert_eq!(ma.window, mb.window, "seed {seed}, step {step}");
            assert_eq!(
                ma.consecutive_failures, mb.consecutive_failures,
                "seed {seed}, step {step}"
            );
            assert_eq!(ma.transitions, mb.transitions, "seed {seed}, step {step}");
        }
        assert_eq!(*a.seen.lock().unwrap(), *b.seen.lock().unwrap(), "seed {seed}");
    }
}

#[test]
fn successes_in_the_lanes_of_other_threads_are_counted_once_each() {
    let r = rig(Config {
        consecutive_failures: None,
        ..Config::default()
    });
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let breaker = Arc::clone(&r.breaker);
            std::thread::spawn(move || {
                let caller = breaker.caller();
                for i in 0..10_000u32 {
                    start_on_word(&breaker, &caller);
                    if i % 100 == 0 {
                        let p = breaker.try_acquire_as(&caller).unwrap();
                        breaker.record_as(&caller, p, Outcome::Failure, ms(1));
                    }
                    succeed_in_lane(&caller);
                    if i % 1000 == 0 {
                        breaker.metrics();
                    }
                }
                caller // kept alive until every thread is done, so its lane is folded by a read
            })
        })
        .collect();
    let callers: Vec<Caller> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let m = r.breaker.metrics();
    assert_eq!((m.successes, m.failures, m.in_flight), (30_000, 300, 0));
    assert_eq!(m.calls, 30_300);
    drop(callers);
    let m = r.breaker.metrics();
    assert_eq!((m.successes, m.calls, m.ignored, m.in_flight), (30_000, 30_300, 0, 0));
}

#[test]
fn configure_folds_pending_successes_under_the_old_rules_and_closes_the_lane_to_a_duration_rule() {
    let r = rig(Config::default());
    let caller = r.breaker.caller();
    start_on_word(&r.breaker, &caller);
    succeed_in_lane(&caller);
    // Taken once, as a binding does when it makes its view: `lane()` itself sets the flag again.
    let lane = caller.lane();
    let slow = Config {
        slow_call_rate: Some(breakwater::SlowCallRule {
            slow_call: ms(100),
            rate: RateRule::percent(50.0),
        }),
        ..Config::default()
    };
    r.breaker.configure(slow).expect("a valid change");
    assert_eq!(
        lane.fast.load(Acquire),
        0,
        "a slow-call rule needs every call's duration"
    );
    let m = r.breaker.metrics();
    assert_eq!(
        (m.successes, m.window.calls),
        (1, 1),
        "the pending success folded, once"
    );
    r.breaker.configure(Config::default()).expect("a valid change");
    assert_eq!(
        lane.fast.load(Acquire),
        1,
        "no duration rule: successes go through the lane again"
    );
}
