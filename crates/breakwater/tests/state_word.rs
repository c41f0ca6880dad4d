//! Calls let through on the state word alone (a binding reading it through shared memory) count
//! exactly as calls through `try_acquire`.

mod common;

use std::sync::atomic::Ordering::Acquire;

use breakwater::{Config, Outcome, Permit, State};
use common::*;

/// The permit a binding makes from a closed word, or `None` when the word is not closed.
fn permit_from_word(rig: &Rig) -> Option<Permit> {
    let low = rig.breaker.state_word().load(Acquire) as u32;
    (low & 7 == 0).then(|| Permit::from_raw(low & 0xFF_F807))
}

#[test]
fn a_closed_word_gives_the_permit_try_acquire_would() {
    let r = rig(Config::default());
    let from_word = permit_from_word(&r).unwrap();
    assert_eq!(from_word.raw(), r.acquire().raw());
}

#[test]
fn calls_reported_unacquired_count_and_trip_like_any_other() {
    let r = rig(Config {
        consecutive_failures: Some(3),
        ..Config::default()
    });
    for _ in 0..2 {
        let p = permit_from_word(&r).unwrap();
        r.breaker.record_unacquired(p, Outcome::Success, ms(1));
    }
    for _ in 0..3 {
        let p = permit_from_word(&r).unwrap();
        r.breaker.record_unacquired(p, Outcome::Failure, ms(1));
    }
    assert_eq!(r.breaker.state(), State::Open);
    assert!(permit_from_word(&r).is_none(), "an open word gives no permit");
    let m = r.breaker.metrics();
    assert_eq!((m.calls, m.successes, m.failures, m.in_flight), (5, 2, 3, 0));
}

#[test]
fn a_permit_from_a_word_that_moved_on_counts_as_stale() {
    let r = rig(Config::default());
    let p = permit_from_word(&r).unwrap();
    r.breaker.force_open(None);
    r.breaker.reset();
    r.breaker.record_unacquired(p, Outcome::Failure, ms(1));
    let m = r.breaker.metrics();
    assert_eq!((m.stale, m.consecutive_failures), (1, 0), "counted, but moved nothing");
}
