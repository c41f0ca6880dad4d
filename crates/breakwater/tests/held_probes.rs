//! Half-open probes held by a caller: a caller that goes (its thread ended) frees the probe slots
//! it still holds at once, counted as ignored, as if it had reported them so; and no slot is ever
//! freed twice (a report that comes after is stale).

mod common;

use std::sync::mpsc;
use std::sync::Arc;
use std::thread;

use breakwater::{Backoff, Breaker, Config, FakeClock, Outcome, Permit, Reason, State};
use common::*;

/// A breaker that opens on one failure for 100 ms, then lets `probes` probes through, each of
/// which would hold its slot for an hour (so no test can pass by waiting for the expiry).
fn half_open(probes: u32, successes: u32) -> (Arc<Breaker>, FakeClock) {
    let clock = FakeClock::new();
    let config = Config {
        consecutive_failures: Some(1),
        open_duration: Backoff::fixed(ms(100)),
        half_open_max_probes: probes,
        half_open_successes: successes,
        max_probe_time: Some(secs(3600)),
        ..Config::default()
    };
    let breaker = Arc::new(Breaker::with_clock("probes", config, Arc::new(clock.clone())).unwrap());
    let p = breaker.try_acquire().unwrap();
    breaker.record(p, Outcome::Failure, ms(1));
    assert_eq!(breaker.state(), State::Open);
    clock.advance(ms(100));
    (breaker, clock)
}

/// Takes a probe in a thread of its own, which then ends without reporting it; returns the permit.
fn probe_in_a_thread_that_ends(breaker: &Arc<Breaker>) -> Permit {
    let breaker = breaker.clone();
    thread::spawn(move || {
        let caller = breaker.caller();
        let probe = breaker.try_acquire_as(&caller).expect("a probe slot is free");
        assert!(probe.is_probe());
        probe // the caller goes with the thread; the probe was never reported
    })
    .join()
    .unwrap()
}

#[test]
fn a_probe_held_by_a_thread_that_ended_frees_its_slot_at_once_counted_as_ignored() {
    let (breaker, _clock) = half_open(1, 1);
    probe_in_a_thread_that_ends(&breaker);
    assert_eq!(breaker.state(), State::HalfOpen);
    assert!(
        breaker.is_call_permitted(),
        "the slot is free without waiting for the probe expiry"
    );
    let next = breaker.try_acquire().expect("the next call probes at once");
    assert!(next.is_probe());
    let m = breaker.metrics();
    assert_eq!((m.ignored, m.stale, m.in_flight), (1, 0, 1));
    let closed = breaker.record(next, Outcome::Success, ms(1)).unwrap();
    assert_eq!((closed.to, closed.reason), (State::Closed, Reason::ProbesSucceeded));
}

#[test]
fn a_probe_reported_after_its_caller_went_is_stale_and_frees_no_slot_twice() {
    let (breaker, _clock) = half_open(1, 1);
    let orphan = probe_in_a_thread_that_ends(&breaker);
    let next = breaker.try_acquire().expect("the orphan's slot was freed");
    // The orphan's late report, however it comes, must not free the slot `next` holds.
    assert_eq!(
        breaker.record(orphan, Outcome::Success, ms(1)),
        None,
        "stale: it closes nothing"
    );
    breaker.record(orphan, Outcome::Ignored, ms(1));
    assert!(breaker.try_acquire().is_err(), "`next` still holds the only slot");
    assert_eq!(breaker.state(), State::HalfOpen);
    assert_eq!(breaker.metrics().stale, 2);
    breaker.record(next, Outcome::Success, ms(1)).unwrap();
    assert_eq!(breaker.state(), State::Closed);
}

#[test]
fn a_probe_its_caller_reported_is_not_freed_again_when_the_caller_goes() {
    let (breaker, _clock) = half_open(1, 2);
    let caller = breaker.caller();
    let first = breaker.try_acquire_as(&caller).unwrap();
    assert_eq!(breaker.record_as(&caller, first, Outcome::Success, ms(1)), None);
    let second = breaker
        .try_acquire()
        .expect("the first probe's slot was freed by its report");
    drop(caller);
    assert!(
        breaker.try_acquire().is_err(),
        "the second probe still holds the only slot"
    );
    let m = breaker.metrics();
    assert_eq!((m.successes, m.ignored, m.in_flight), (1, 0, 1));
    breaker.record(second, Outcome::Success, ms(1)).unwrap();
    assert_eq!(breaker.state(), State::Closed);
}

#[test]
fn a_held_probe_reported_by_anyone_but_its_caller_is_stale_and_its_caller_still_frees_it_once() {
    let (breaker, _clock) = half_open(1, 1);
    let (holder, stranger) = (breaker.caller(), breaker.caller());
    let probe = breaker.try_acquire_as(&holder).unwrap();
    assert_eq!(
        breaker.record(probe, Outcome::Success, ms(1)),
        None,
        "not its holder: stale"
    );
    breaker.record_as(&stranger, probe, Outcome::Ignored, ms(1));
    assert!(breaker.try_acquire().is_err(), "the holder still holds the slot");
    assert_eq!(breaker.metrics().stale, 2);
    // As a binding hands it back: through a number.
    let closed = breaker.record_as(&holder, Permit::from_raw(probe.raw()), Outcome::Success, ms(1));
    assert_eq!(closed.map(|t| t.to), Some(State::Closed));
    drop(holder);
    assert_eq!(
        breaker.metrics().ignored,
        1,
        "the stranger's report; the holder had nothing left to free"
    );
}

#[test]
fn a_held_probe_of_a_half_open_period_that_ended_counts_as_stale_when_its_caller_goes() {
    let (breaker, clock) = half_open(1, 1);
    let caller = breaker.caller();
    breaker.try_acquire_as(&caller).unwrap();
    // Another probe fails it: the breaker reopens, then half-opens again for a new period.
    clock.advance(secs(3600));
    let p = breaker.try_acquire().unwrap_err();
    assert_eq!(p.transition.map(|t| t.reason), Some(Reason::ProbeTimedOut));
    clock.advance(ms(200));
    let fresh = breaker.try_acquire().expect("a new half-open period");
    drop(caller); // its probe belongs to the period that ended
    assert!(
        breaker.try_acquire().is_err(),
        "the new period's only slot is still held"
    );
    let m = breaker.metrics();
    assert_eq!((m.ignored, m.stale, m.in_flight), (1, 1, 1));
    breaker.record(fresh, Outcome::Success, ms(1)).unwrap();
    assert_eq!(breaker.state(), State::Closed);
}

#[test]
fn callers_in_one_thread_free_only_the_probes_they_hold() {
    let (breaker, _clock) = half_open(3, 3);
    let (a, b) = (breaker.caller(), breaker.caller());
    let pa = breaker.try_acquire_as(&a).unwrap();
    let pb = breaker.try_acquire_as(&b).unwrap();
    let pc = breaker.try_acquire().unwrap();
    breaker.record_as(&a, pa, Outcome::Success, ms(1));
    let pe = breaker.try_acquire().expect("pa's slot was freed by its report");
    drop(a); // it holds nothing any more
    assert!(breaker.try_acquire().is_err(), "pb, pc and pe hold the three slots");
    drop(b); // frees pb's slot
    let pd = breaker.try_acquire().expect("b's slot was freed");
    assert!(breaker.try_acquire().is_err());
    assert_eq!(breaker.record(pb, Outcome::Success, ms(1)), None, "pb is stale now");
    assert!(breaker.try_acquire().is_err(), "and freed no slot");
    breaker.record(pe, Outcome::Ignored, ms(1));
    breaker.record(pc, Outcome::Success, ms(1));
    let closed = breaker.record(pd, Outcome::Success, ms(1)).unwrap();
    assert_eq!(closed.reason, Reason::ProbesSucceeded);
}

#[test]
fn threads_that_end_holding_probes_never_leave_a_slot_taken_nor_free_one_twice() {
    let (breaker, _clock) = half_open(4, 255);
    for round in 0..50 {
        let (tx, rx) = mpsc::channel();
        let threads: Vec<_> = (0..4)
            .map(|i| {
                let (breaker, tx) = (breaker.clone(), tx.clone());
                thread::spawn(move || {
                    let caller = breaker.caller();
                    let probe = breaker.try_acquire_as(&caller);
                    // Half of them report their probe, the others end holding it.
                    if let (Ok(p), true) = (probe, (round + i) % 2 == 0) {
                        breaker.record_as(&caller, p, Outcome::Ignored, ms(1));
                    }
                    tx.send(probe.is_ok()).unwrap();
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        drop(tx);
        assert_eq!(
            rx.iter().filter(|ok| *ok).count(),
            4,
            "round {round}: every thread got a probe"
        );
        assert_eq!(breaker.metrics().in_flight, 0);
    }
    for _ in 0..4 {
        breaker.try_acquire().expect("all four slots are free");
    }
    assert!(
        breaker.try_acquire().is_err(),
        "and no more than four: none was freed twice"
    );
    assert_eq!(breaker.metrics().ignored, 200);
}
