//! Callers: calls a binding lets through on the state word alone are in flight in metrics while
//! they run, and a caller that goes (its thread ended) leaves nothing in flight.

mod common;

use std::sync::atomic::Ordering::{Acquire, Relaxed};
use std::sync::Arc;

use breakwater::{Breaker, Caller, Config, Outcome, Permit, State};
use common::*;

/// What a binding does on a closed word: count the call in the caller's `started` (JavaScript
/// adds 1 through a typed array), and make the permit from the word.
fn start_on_word(breaker: &Breaker, caller: &Caller) -> Permit {
    let low = breaker.state_word().load(Acquire) as u32;
    assert_eq!(low & 7, 0, "closed");
    let started = caller.started();
    started.store(started.load(Relaxed).wrapping_add(1), Relaxed);
    Permit::from_raw(low & 0xFF_F807)
}

#[test]
fn calls_let_through_on_the_state_word_are_in_flight_while_they_run() {
    let r = rig(Config::default());
    let caller = r.breaker.caller();
    let running: Vec<Permit> = (0..10).map(|_| start_on_word(&r.breaker, &caller)).collect();
    let m = r.breaker.metrics();
    assert_eq!((m.calls, m.in_flight, m.successes), (10, 10, 0));
    for p in running {
        r.breaker.record_as(&caller, p, Outcome::Success, ms(1));
    }
    let m = r.breaker.metrics();
    assert_eq!((m.calls, m.in_flight, m.successes), (10, 0, 10));
}

#[test]
fn a_caller_counts_permits_from_try_acquire_as_too_and_trips_like_any_other() {
    let r = rig(Config {
        consecutive_failures: Some(3),
        ..Config::default()
    });
    let caller = r.breaker.caller();
    for _ in 0..3 {
        let p = r.breaker.try_acquire_as(&caller).unwrap();
        assert_eq!(r.breaker.metrics().in_flight, 1);
        r.breaker.record_as(&caller, p, Outcome::Failure, ms(1));
    }
    assert_eq!(r.breaker.state(), State::Open);
    assert!(r.breaker.try_acquire_as(&caller).is_err());
    let m = r.breaker.metrics();
    assert_eq!((m.calls, m.failures, m.rejections, m.in_flight), (4, 3, 1, 0));
}

#[test]
fn a_caller_that_goes_mid_call_leaves_nothing_in_flight_and_its_calls_count_as_ignored() {
    let r = rig(Config::default());
    let caller = r.breaker.caller();
    let done = start_on_word(&r.breaker, &caller);
    r.breaker.record_as(&caller, done, Outcome::Success, ms(1));
    let _abandoned = [start_on_word(&r.breaker, &caller), start_on_word(&r.breaker, &caller)];
    assert_eq!(r.breaker.metrics().in_flight, 2);
    drop(caller); // its thread ended with two calls running
    let m = r.breaker.metrics();
    assert_eq!((m.calls, m.successes, m.ignored, m.in_flight), (3, 1, 2, 0));
    assert_eq!(
        m.calls,
        m.successes + m.failures + m.ignored + m.rejections + m.in_flight
    );
}

#[test]
fn a_forged_report_cannot_make_in_flight_negative() {
    let r = rig(Config::default());
    let caller = r.breaker.caller();
    let p = r.breaker.try_acquire_as(&caller).unwrap();
    r.breaker.record_as(&caller, p, Outcome::Success, ms(1));
    r.breaker.record_as(&caller, p, Outcome::Success, ms(1)); // reported twice
    let m = r.breaker.metrics();
    assert_eq!(m.in_flight, 0);
    drop(caller);
    assert_eq!(r.breaker.metrics().ignored, 0);
}

#[test]
fn a_caller_of_another_breaker_counts_in_the_breakers_own_stripes() {
    let r = rig(Config::default());
    let other = Arc::new(Breaker::new("other", Config::default()).unwrap());
    let stranger = other.caller();
    let p = r.breaker.try_acquire_as(&stranger).unwrap();
    r.breaker.record_as(&stranger, p, Outcome::Success, ms(1));
    let m = r.breaker.metrics();
    assert_eq!((m.calls, m.successes, m.in_flight), (1, 1, 0));
    assert_eq!(other.metrics().calls, 0);
}

#[test]
fn callers_on_many_threads_add_up_and_threads_that_end_leave_no_count_behind() {
    let breaker = Arc::new(Breaker::new("callers", Config::default()).unwrap());
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let breaker = breaker.clone();
            std::thread::spawn(move || {
                let caller = breaker.caller();
                for _ in 0..10_000 {
                    let p = start_on_word(&breaker, &caller);
                    breaker.record_as(&caller, p, Outcome::Success, ms(1));
                }
                // Leaves one call running as the thread ends.
                start_on_word(&breaker, &caller);
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let m = breaker.metrics();
    assert_eq!((m.calls, m.successes, m.ignored, m.in_flight), (40_004, 40_000, 4, 0));
}
