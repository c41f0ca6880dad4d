//! Threads hammering one breaker (through every state, on a shared fake clock) and one registry.
//! Invariants: probes in flight never exceed the limit, every acquire ends in exactly one
//! outcome, and compare-and-swap collisions really happened (so the test tested something).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Barrier, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use breakwater::{Backoff, Breaker, Config, FakeClock, Outcome, Registry, State};

const THREADS: usize = 4;
const ROUNDS: usize = 60_000;
const PROBES: u32 = 2;

/// The tests of this file run one at a time: they need both cores to make threads collide.
fn alone() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Default, Debug, PartialEq, Eq, Clone, Copy)]
struct Tally {
    acquired: u64,
    rejected: u64,
    successes: u64,
    failures: u64,
    ignored: u64,
}

#[test]
fn threads_hammering_one_breaker_keep_its_invariants() {
    let _alone = alone();
    // Collisions need both threads on a CPU at the same instant; on a busy 2-core machine one
    // run may see none, so repeat (every invariant checked each time) until some were seen.
    let mut collisions = 0;
    for _ in 0..20 {
        collisions += hammer();
        if collisions > 0 {
            break;
        }
    }
    assert!(
        collisions > 0,
        "threads collided on the state word in at least one of 20 runs"
    );
}

/// One run of four threads on one breaker; asserts the invariants and returns the CAS retries.
fn hammer() -> u64 {
    let clock = FakeClock::new();
    let config = Config {
        consecutive_failures: Some(3),
        open_duration: Backoff::fixed(Duration::from_millis(1)),
        half_open_max_probes: PROBES,
        half_open_successes: 2,
        ..Config::default()
    };
    let breaker = Arc::new(Breaker::with_clock("stress", config, Arc::new(clock.clone())).unwrap());
    let probes: Arc<Mutex<HashMap<u32, u32>>> = Arc::default();
    let start = Arc::new(Barrier::new(THREADS));
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (breaker, clock, probes, start) = (breaker.clone(), clock.clone(), probes.clone(), start.clone());
            thread::spawn(move || {
                let mut tally = Tally::default();
                let mut seed = t as u64 * 7919 + 1;
                start.wait();
                for round in 0..ROUNDS {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    let roll = (seed >> 33) % 100;
                    if round % 64 == 0 {
                        clock.advance(Duration::from_millis(1));
                    }
                    let Ok(permit) = breaker.try_acquire() else {
                        tally.rejected += 1;
                        continue;
                    };
                    tally.acquired += 1;
                    if permit.is_probe() {
                        let mut held = probes.lock().unwrap();
                        let n = held.entry(permit.raw()).or_default();
                        *n += 1;
                        assert!(*n <= PROBES, "{n} probes in flight in one half-open period");
                    }
                    let outcome = match roll {
                        0..=34 => Outcome::Failure,
                        35..=39 => Outcome::Ignored,
                        _ => Outcome::Success,
                    };
                    if permit.is_probe() {
                        *probes.lock().unwrap().get_mut(&permit.raw()).unwrap() -= 1;
                    }
                    breaker.record(permit, outcome, Duration::from_micros(roll));
                    match outcome {
                        Outcome::Failure => tally.failures += 1,
                        Outcome::Ignored => tally.ignored += 1,
                        _ => tally.successes += 1,
                    }
                }
                tally
            })
        })
        .collect();
    let total = workers
        .into_iter()
        .map(|w| w.join().unwrap())
        .fold(Tally::default(), |a, b| Tally {
            acquired: a.acquired + b.acquired,
            rejected: a.rejected + b.rejected,
            successes: a.successes + b.successes,
            failures: a.failures + b.failures,
            ignored: a.ignored + b.ignored,
        });
    let m = breaker.metrics();
    assert_eq!(m.calls, (THREADS * ROUNDS) as u64);
    assert_eq!(m.calls, total.acquired + total.rejected);
    assert_eq!(
        (m.successes, m.failures, m.ignored, m.rejections, m.in_flight),
        (total.successes, total.failures, total.ignored, total.rejected, 0)
    );
    assert!(
        m.times_opened > 100 && m.times_half_opened > 100,
        "the breaker cycled: {m:?}"
    );
    println!(
        "{} calls, {} openings, {} half-openings, {} CAS retries, {} stale",
        m.calls, m.times_opened, m.times_half_opened, m.cas_retries, m.stale
    );
    m.cas_retries
}

#[test]
fn threads_asking_the_registry_for_one_name_get_one_breaker() {
    let _alone = alone();
    let registry = Arc::new(Registry::new());
    let start = Arc::new(Barrier::new(THREADS));
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (registry, start) = (registry.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                let mut mine = Vec::new();
                for i in 0..2_000 {
                    let shared = registry.get_or_create("shared", Config::default()).unwrap();
                    mine.push(Arc::as_ptr(&shared) as usize);
                    registry.get_or_create(&format!("t{t}-{i}"), Config::default()).unwrap();
                    if i % 2 == 0 {
                        assert!(registry.remove(&format!("t{t}-{i}")).is_some());
                    }
                }
                mine
            })
        })
        .collect();
    let pointers: Vec<usize> = workers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    assert!(
        pointers.windows(2).all(|p| p[0] == p[1]),
        "every thread saw the same breaker"
    );
    assert_eq!(registry.len(), 1 + THREADS * 1_000);
    assert_eq!(registry.get("shared").unwrap().state(), State::Closed);
}

#[test]
fn short_lived_threads_hand_their_lanes_on_without_losing_a_count() {
    let _alone = alone();
    let breaker = Arc::new(Breaker::new("churn", Config::default()).unwrap());
    for _ in 0..40 {
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                let breaker = breaker.clone();
                thread::spawn(move || {
                    for _ in 0..2_500 {
                        let permit = breaker.try_acquire().unwrap();
                        breaker.record(permit, Outcome::Success, Duration::from_micros(5));
                    }
                })
            })
            .collect();
        workers.into_iter().for_each(|w| w.join().unwrap());
    }
    let m = breaker.metrics();
    assert_eq!((m.calls, m.successes, m.in_flight), (400_000, 400_000, 0));
    let windows = m.window.calls / 100;
    assert!(
        windows >= 1 && m.window.calls % 100 == 0,
        "each stripe's window is full: {}",
        m.window.calls
    );
}

/// Metrics read while other threads record the first calls of fresh latency-tracking breakers
/// (issue 10, item 11: `min > max` was thrown 182 times in 257,000 reads): every snapshot is
/// consistent, and none panics. The reader follows the writers from breaker to breaker, and
/// there are more threads than cores, so some writers are preempted mid-record.
#[test]
fn metrics_read_while_other_threads_record_are_consistent_and_never_panic() {
    let _alone = alone();
    let config = Config {
        track_latency: true,
        window: breakwater::Window::Time {
            length: Duration::from_secs(1),
            buckets: 10,
        },
        ..Config::default()
    };
    const BREAKERS: usize = 20_000;
    const WRITERS: usize = 3;
    let breakers: Arc<Vec<Breaker>> = Arc::new(
        (0..BREAKERS)
            .map(|_| Breaker::new("metrics-race", config.clone()).unwrap())
            .collect(),
    );
    let current = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (breakers, current) = (breakers.clone(), current.clone());
            thread::spawn(move || {
                for (i, breaker) in breakers.iter().enumerate() {
                    if w == 0 {
                        current.store(i, Relaxed);
                    }
                    let permit = breaker.try_acquire().unwrap();
                    let took = Duration::from_micros(1 + (i * 7919 + w * 104_729) as u64 % 50_000);
                    let outcome = if (i + w) % 3 == 0 {
                        Outcome::Failure
                    } else {
                        Outcome::Success
                    };
                    breaker.record(permit, outcome, took);
                }
            })
        })
        .collect();
    while writers.iter().any(|w| !w.is_finished()) {
        let m = breakers[current.load(Relaxed)].metrics();
        if let Some(l) = m.latency {
            assert!(
                l.min <= l.p50 && l.p50 <= l.p95 && l.p95 <= l.p99 && l.p99 <= l.max,
                "{l:?}"
            );
            assert!(l.min <= l.mean && l.mean <= l.max, "{l:?}");
        }
        assert!(m.window.failures <= m.window.calls && m.window.slow <= m.window.calls);
        assert!(
            (0.0..=100.0).contains(&m.window_failure_rate),
            "{}",
            m.window_failure_rate
        );
        assert!((0.0..=100.0).contains(&m.success_rate));
    }
    for w in writers {
        w.join().unwrap();
    }
    for breaker in breakers.iter() {
        let m = breaker.metrics();
        assert_eq!((m.calls, m.in_flight), (WRITERS as u64, 0));
    }
}
