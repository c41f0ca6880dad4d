//! A registry's subscribers: every transition of every breaker, whichever thread makes it, once
//! and in the order each breaker made them.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::Duration;

use breakwater::{Config, FakeClock, Outcome, Reason, Registry, State, TransitionEvent};

fn collect(registry: &Registry) -> (Arc<Mutex<Vec<TransitionEvent>>>, breakwater::ListenerId) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let id = registry.subscribe(move |e| sink.lock().unwrap().push(e.clone()));
    (seen, id)
}

/// Threads moving one breaker through every state at once (rules, probes on a shared fake clock,
/// manual controls): each event's `from` is the previous event's `to`, and the subscriber got
/// exactly the transitions the breaker counted.
#[test]
fn subscribers_hear_every_transition_of_every_thread_once_and_in_order() {
    let clock = FakeClock::new();
    let registry = Arc::new(Registry::with_clock(Arc::new(clock.clone())));
    let (seen, _) = collect(&registry);
    let config = Config {
        consecutive_failures: Some(2),
        half_open_max_probes: 2,
        half_open_successes: 1,
        ..Config::default()
    };
    let breaker = registry.get_or_create("flappy", config).unwrap();
    let start = Arc::new(Barrier::new(4));
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let (breaker, clock, start) = (breaker.clone(), clock.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                let mut x = t.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
                for _ in 0..20_000 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    match x % 16 {
                        0 => drop(breaker.reset()),
                        1 => drop(breaker.force_open(Some(Duration::from_millis(5)))),
                        2 => drop(breaker.disable()),
                        3 => clock.advance(Duration::from_secs(60)),
                        _ => {
                            if let Ok(permit) = breaker.try_acquire() {
                                let outcome = if x % 3 == 0 { Outcome::Success } else { Outcome::Failure };
                                breaker.record(permit, outcome, Duration::from_millis(1));
                            }
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let seen = seen.lock().unwrap();
    let counted: u64 = breaker.metrics().transitions.iter().flatten().sum();
    assert_eq!(seen.len() as u64, counted, "every transition heard once");
    assert!(counted > 1_000, "the threads moved the breaker often: {counted}");
    let mut state = State::Closed;
    for (i, e) in seen.iter().enumerate() {
        assert_eq!(
            e.transition.from, state,
            "event {i} starts where the one before ended: {e:?}"
        );
        assert_eq!(&*e.name, "flappy");
        state = e.transition.to;
    }
    assert_eq!(state, breaker.state(), "the last event is where the breaker is");
}

#[test]
fn a_transition_of_any_breaker_of_the_registry_reaches_a_subscriber_with_its_retry_after() {
    let clock = FakeClock::new();
    let registry = Registry::with_clock(Arc::new(clock.clone()));
    let (seen, id) = collect(&registry);
    let config = Config {
        consecutive_failures: Some(1),
        ..Config::default()
    };
    let later = thread::scope(|s| {
        s.spawn(|| {
            let b = registry
                .get_or_create("created-after-subscribing", config.clone())
                .unwrap();
            b.record(b.try_acquire().unwrap(), Outcome::Failure, Duration::ZERO);
            b
        })
        .join()
        .unwrap()
    });
    clock.advance(Duration::from_secs(10));
    let other = registry.get_or_create("forced", Config::default()).unwrap();
    other.force_open_until(None, Reason::Remote);
    {
        let seen = seen.lock().unwrap();
        let summary: Vec<_> = seen
            .iter()
            .map(|e| (&*e.name, e.transition.to, e.transition.reason, e.retry_after))
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "created-after-subscribing",
                    State::Open,
                    Reason::ConsecutiveFailures,
                    Some(Duration::from_secs(30))
                ),
                ("forced", State::ForcedOpen, Reason::Remote, None),
            ]
        );
    }
    assert!(registry.unsubscribe(id));
    assert!(!registry.unsubscribe(id), "twice is once");
    later.reset();
    assert_eq!(
        seen.lock().unwrap().len(),
        2,
        "an unsubscribed subscriber hears nothing more"
    );
}

#[test]
fn a_subscriber_that_panics_is_skipped_and_the_others_and_the_breaker_carry_on() {
    let registry = Registry::new();
    registry.subscribe(|_| panic!("subscriber bug"));
    let heard = Arc::new(AtomicU64::new(0));
    let count = heard.clone();
    registry.subscribe(move |_| {
        count.fetch_add(1, Relaxed);
    });
    let b = registry.get_or_create("orders", Config::default()).unwrap();
    for _ in 0..3 {
        b.force_open(None);
        b.reset();
    }
    assert_eq!(heard.load(Relaxed), 6);
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn a_breaker_made_outside_a_registry_has_no_subscribers_and_counts_its_transitions() {
    let b = breakwater::Breaker::new("alone", Config::default()).unwrap();
    b.force_open(None);
    b.reset();
    let t = b.metrics().transitions;
    assert_eq!((t[0][3], t[3][0]), (1, 1));
}

#[test]
fn events_name_their_breaker_by_an_id_no_other_breaker_of_the_process_has() {
    let registry = Registry::new();
    let (seen, _) = collect(&registry);
    let old = registry.get_or_create("orders", Config::default()).unwrap();
    registry.remove("orders");
    let new = registry.get_or_create("orders", Config::default()).unwrap();
    assert_ne!(old.id(), new.id());
    assert_ne!(
        Registry::new().get_or_create("orders", Config::default()).unwrap().id(),
        new.id()
    );
    old.force_open(None);
    new.disable();
    let ids: Vec<_> = seen.lock().unwrap().iter().map(|e| e.breaker_id).collect();
    assert_eq!(ids, [old.id(), new.id()]);
}
