//! Isolation is reference-counted: the breaker stays forced open while any hold is held, a hold
//! ends only its own isolation, and nothing ends someone else's later change.

mod common;

use std::sync::Arc;

use breakwater::{Config, Reason, State};
use common::*;

#[test]
fn the_breaker_stays_forced_open_until_the_last_hold_is_given_back() {
    let r = rig(Config::default());
    let (a, t) = r.breaker.isolate();
    assert_eq!(t.map(|t| (t.to, t.reason)), Some((State::ForcedOpen, Reason::Manual)));
    let (b, t) = r.breaker.isolate();
    assert_eq!(t, None, "the second hold joins the isolation");
    assert_eq!(r.breaker.end_isolation(a), None);
    assert_eq!(r.breaker.state(), State::ForcedOpen, "one hold is still held");
    assert!(r.breaker.is_isolated());
    let closed = r.breaker.end_isolation(b).unwrap();
    assert_eq!(
        (closed.from, closed.to, closed.reason),
        (State::ForcedOpen, State::Closed, Reason::Manual)
    );
    assert!(!r.breaker.is_isolated());
    assert_eq!(r.transitions().len(), 2);
}

#[test]
fn an_old_hold_does_not_end_a_later_force_open() {
    let r = rig(Config::default());
    let (old, _) = r.breaker.isolate();
    r.breaker.force_open(None); // someone else forces it open, until reset
    assert!(!r.breaker.is_isolated(), "the isolation ended with the change");
    assert_eq!(r.breaker.end_isolation(old), None);
    assert_eq!(r.breaker.state(), State::ForcedOpen);
    r.breaker.force_open(Some(secs(5)));
    assert_eq!(r.breaker.state(), State::ForcedOpen);
}

#[test]
fn a_reset_ends_the_isolation_and_its_holds_release_nothing_later() {
    let r = rig(Config::default());
    let (a, _) = r.breaker.isolate();
    let (b, _) = r.breaker.isolate();
    r.breaker.reset();
    let (c, t) = r.breaker.isolate();
    assert_eq!(t.unwrap().to, State::ForcedOpen, "a new isolation");
    assert_eq!(r.breaker.end_isolation(a), None);
    assert_eq!(r.breaker.end_isolation(b), None);
    assert_eq!(
        r.breaker.state(),
        State::ForcedOpen,
        "the holds of the old isolation release nothing"
    );
    assert_eq!(r.breaker.end_isolation(c).unwrap().to, State::Closed);
}

#[test]
fn an_isolation_of_a_breaker_already_forced_open_until_reset_leaves_it_forced_open() {
    let r = rig(Config::default());
    r.breaker.force_open(None);
    let (hold, t) = r.breaker.isolate();
    assert_eq!(t, None);
    assert_eq!(r.breaker.end_isolation(hold), None);
    assert_eq!(r.breaker.state(), State::ForcedOpen, "only a reset ends that");
}

#[test]
fn an_isolation_of_an_open_breaker_forces_it_open_and_its_end_closes_it() {
    let r = rig(Config {
        consecutive_failures: Some(1),
        ..Config::default()
    });
    r.fail(1);
    let (hold, t) = r.breaker.isolate();
    assert_eq!(t.map(|t| (t.from, t.to)), Some((State::Open, State::ForcedOpen)));
    r.clock.advance(secs(3600));
    assert!(r.breaker.try_acquire().is_err(), "no deadline: no probes");
    assert_eq!(r.breaker.end_isolation(hold).unwrap().to, State::Closed);
}

#[test]
fn a_health_check_does_not_half_open_an_isolated_breaker() {
    let r = rig(Config::default());
    let (hold, _) = r.breaker.isolate();
    assert_eq!(r.breaker.half_open(Reason::HealthCheck), None);
    assert_eq!(r.breaker.state(), State::ForcedOpen);
    assert!(r
        .breaker
        .hold_off_until(r.breaker.clock().now_nanos() + 1_000_000_000)
        .is_none());
    assert_eq!(r.breaker.end_isolation(hold).unwrap().to, State::Closed);
}

#[test]
fn a_listener_may_isolate_the_breaker_it_hears_from() {
    let r = rig(Config::default());
    let breaker = Arc::new(r.breaker);
    let weak = Arc::downgrade(&breaker);
    let holds = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = holds.clone();
    breaker.on_transition(move |t| {
        if t.to == State::Closed {
            if let Some(b) = weak.upgrade() {
                sink.lock().unwrap().push(b.isolate().0);
            }
        }
    });
    let (hold, _) = breaker.isolate();
    breaker.end_isolation(hold); // closes; the listener isolates again, no deadlock
    assert_eq!(breaker.state(), State::ForcedOpen);
    assert_eq!(holds.lock().unwrap().len(), 1);
}

#[test]
fn holds_taken_on_several_threads_keep_the_breaker_isolated_until_the_last_is_given_back() {
    let r = rig(Config::default());
    let breaker = Arc::new(r.breaker);
    for round in 0..50 {
        let holds: Vec<_> = (0..4)
            .map(|_| {
                let b = breaker.clone();
                std::thread::spawn(move || b.isolate().0)
            })
            .map(|t| t.join().unwrap())
            .collect();
        assert_eq!(breaker.state(), State::ForcedOpen, "round {round}");
        let ended: Vec<_> = holds
            .into_iter()
            .map(|h| {
                let b = breaker.clone();
                std::thread::spawn(move || b.end_isolation(h))
            })
            .map(|t| t.join().unwrap())
            .collect();
        assert_eq!(ended.iter().filter(|t| t.is_some()).count(), 1, "only the last closes");
        assert_eq!(breaker.state(), State::Closed, "round {round}");
    }
}
