//! Review of issue 15's core changes: the 16-byte permit, the one-test closed paths, the seats
//! (twice the cores, at most 8) with more threads than seats, configs shared between breakers
//! (`Live::shared`), parts made at first use (`LazyBox`), and memory after a call storm. Every
//! count asserted is exact.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::Ordering::{Acquire, Relaxed};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;

use breakwater::{
    Breaker, Caller, Clock, Config, FakeClock, Metrics, Outcome, Permit, Reason, Registry, State, Window,
};
use common::*;
use proptest::prelude::*;

/// Counts what each thread allocates and frees (net bytes), so a test measures its own thread
/// while others run.
struct PerThread;

thread_local! {
    static NET: Cell<isize> = const { Cell::new(0) };
}

fn net() -> isize {
    NET.with(Cell::get)
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for PerThread {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = NET.try_with(|n| n.set(n.get() + layout.size() as isize));
        // SAFETY: the caller upholds `alloc`'s contract, passed on as it is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let _ = NET.try_with(|n| n.set(n.get() - layout.size() as isize));
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: PerThread = PerThread;

/// Every test of this file runs alone: seats are leased process-wide, and the allocation counts
/// and the config-sharing table see what other tests' threads do.
static SERIAL: Mutex<()> = Mutex::new(());

fn alone() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// calls = successes + failures + ignored + rejections + in flight.
fn conserved(m: &Metrics) -> bool {
    m.calls == m.successes + m.failures + m.ignored + m.rejections + m.in_flight
}

/// xorshift64: a repeatable sequence per thread.
fn rng(seed: u64) -> impl FnMut(u64) -> u64 {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    move |n| {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s % n
    }
}

/// What a binding does on a closed word: counts the call in the lane and makes the permit from
/// the word; `None` if the word is not closed.
fn start_on_word(breaker: &Breaker, caller: &Caller) -> Option<(Permit, u32)> {
    let low = breaker.state_word().load(Acquire) as u32;
    if low & 7 != 0 {
        return None;
    }
    caller.start();
    Some((Permit::from_raw(low & 0xFF_F807), low))
}

#[test]
fn three_times_the_seats_of_threads_mixing_every_path_and_forced_moves_keep_every_count_exact() {
    let _alone = alone();
    let threads = 24; // 3x the most seats there are: most threads write the shared stripe
    let rounds = 1_500;
    let clock = FakeClock::new();
    let breaker = Arc::new(
        Breaker::with_clock(
            "storm",
            Config {
                consecutive_failures: Some(5),
                open_duration: breakwater::Backoff::fixed(ms(1)),
                ..Config::default()
            },
            Arc::new(clock.clone()),
        )
        .unwrap(),
    );
    let barrier = Arc::new(Barrier::new(threads));
    // Per thread: (let through, refused, reported successes, failures (timeouts too), ignored)
    let tallies: Vec<_> = (0..threads)
        .map(|t| {
            let (breaker, barrier, clock) = (breaker.clone(), barrier.clone(), clock.clone());
            thread::spawn(move || {
                let mut next = rng(t as u64 + 1);
                let caller = breaker.caller();
                let lane = caller.lane();
                let mut tally = [0u64; 5];
                barrier.wait();
                for _ in 0..rounds {
                    let outcome = match next(10) {
                        0 => Outcome::Failure,
                        1 => Outcome::Timeout,
                        2 => Outcome::Ignored,
                        _ => Outcome::Success,
                    };
                    match next(40) {
                        0 if t == 0 => {
                            breaker.force_open(Some(ms(1)));
                        }
                        1 if t == 1 => {
                            breaker.reset();
                        }
                        2 if t == 2 => {
                            clock.advance(ms(2));
                        }
                        3 if t == 3 => {
                            breaker.half_open(Reason::Manual);
                        }
                        _ => {}
                    }
                    let via = next(3);
                    let permit = if via == 0 {
                        // a binding's lane: on a closed word without asking the core
                        match start_on_word(&breaker, &caller) {
                            Some((permit, word)) => {
                                tally[0] += 1;
                                let still = breaker.state_word().load(Acquire) as u32 == word;
                                if outcome == Outcome::Success && still && lane.fast.load(Acquire) == 1 {
                                    let s = &lane.succeeded;
                                    s.store(s.load(Relaxed).wrapping_add(1), Relaxed);
                                } else {
                                    breaker.record_as(&caller, permit, outcome, ms(1));
                                }
                                tally[count_of(outcome)] += 1;
                                continue;
                            }
                            None => breaker.try_acquire_as(&caller),
                        }
                    } else if via == 1 {
                        breaker.try_acquire_as(&caller)
                    } else {
                        breaker.try_acquire()
                    };
                    match permit {
                        Ok(p) => {
                            tally[0] += 1;
                            if via == 2 {
                                breaker.record(p, outcome, ms(1));
                            } else {
                                breaker.record_as(&caller, p, outcome, ms(1));
                            }
                            tally[count_of(outcome)] += 1;
                        }
                        Err(_) => tally[1] += 1,
                    }
                }
                tally
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    let sum = |i: usize| tallies.iter().map(|t| t[i]).sum::<u64>();
    let m = breaker.metrics();
    assert!(conserved(&m), "{m:?}");
    assert_eq!(m.in_flight, 0);
    assert_eq!(m.calls, sum(0) + sum(1));
    assert_eq!(m.rejections, sum(1));
    assert_eq!(m.successes, sum(2));
    assert_eq!(m.failures, sum(3));
    assert_eq!(m.ignored, sum(4));
    let moves: u64 = m.transitions.iter().flatten().sum();
    let into = |to: usize| m.transitions.iter().map(|from| from[to]).sum::<u64>();
    assert_eq!(
        m.times_opened,
        into(1) + into(3),
        "opened = every move into open or forced open"
    );
    assert_eq!(m.times_half_opened, into(2));
    assert!(moves > 0);
}

fn count_of(outcome: Outcome) -> usize {
    match outcome {
        Outcome::Success => 2,
        Outcome::Failure | Outcome::Timeout => 3,
        Outcome::Ignored => 4,
    }
}

#[test]
fn stale_permits_of_every_kind_count_once_as_stale_and_move_nothing() {
    let _alone = alone();
    let r = rig(Config {
        consecutive_failures: Some(1),
        half_open_max_probes: 2,
        half_open_successes: 2,
        open_duration: breakwater::Backoff::fixed(ms(10)),
        ..Config::default()
    });
    let b = &r.breaker;
    let caller = b.caller();
    // A closed permit, a closed permit through a caller, one from the word.
    let closed = b.try_acquire().unwrap();
    let closed_as = b.try_acquire_as(&caller).unwrap();
    let (from_word, _) = start_on_word(b, &caller).unwrap();
    assert_eq!(closed.raw(), from_word.raw());
    assert!(closed.transition().is_none());
    // Trip, wait, and take probes: the first carries the open -> half-open transition.
    r.fail(1);
    r.clock.advance(ms(10));
    let probe = b.try_acquire().unwrap();
    let t = probe.transition().expect("this acquire half-opened the breaker");
    assert_eq!(
        (t.from, t.to, t.reason),
        (State::Open, State::HalfOpen, Reason::OpenElapsed)
    );
    assert_eq!(t.at_nanos, r.clock.now_nanos());
    let held = b.try_acquire_as(&caller).unwrap();
    assert!(held.is_probe() && probe.is_probe());
    assert_eq!(Permit::from_raw(probe.raw()).raw(), probe.raw());
    assert!(
        Permit::from_raw(probe.raw()).transition().is_none(),
        "the raw bits carry no transition"
    );
    // Move on: force open then reset, a new closed period.
    b.force_open(None);
    b.reset();
    let before = b.metrics();
    assert_eq!(b.state(), State::Closed);
    // Every old permit, reported with a failure: stale, none opens the new closed period
    // (consecutive_failures is 1).
    assert_eq!(b.record(closed, Outcome::Failure, ms(1)), None);
    assert_eq!(b.record_as(&caller, closed_as, Outcome::Failure, ms(1)), None);
    assert_eq!(b.record_as(&caller, from_word, Outcome::Failure, ms(1)), None);
    assert_eq!(b.record(probe, Outcome::Failure, ms(1)), None);
    assert_eq!(b.record_as(&caller, held, Outcome::Failure, ms(1)), None);
    // and a copy of one, made from its raw bits, again: it was reported already.
    assert_eq!(b.record(Permit::from_raw(probe.raw()), Outcome::Failure, ms(1)), None);
    let m = b.metrics();
    assert_eq!(b.state(), State::Closed);
    assert_eq!(m.stale - before.stale, 6);
    assert_eq!(m.consecutive_failures, 0);
    assert_eq!(m.window.calls, 0, "no stale report is in the new period's window");
    assert_eq!(m.in_flight, 0);
    assert_eq!(m.failures - before.failures, 6);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any number as a permit, in any state: no panic, nothing in flight below zero, no move
    /// unless the permit is the current one.
    #[test]
    fn any_raw_permit_in_any_state_is_counted_without_panic_and_moves_only_when_current(
        raw in any::<u32>(),
        outcome in 0u8..4,
        state in 0u8..5,
    ) {
        let _alone = alone();
        let r = rig(Config { consecutive_failures: Some(1), ..Config::default() });
        let b = &r.breaker;
        match state {
            1 => r.fail(1),
            2 => { r.fail(1); r.clock.advance(secs(120)); let _ = b.try_acquire(); }
            3 => { b.force_open(None); }
            4 => { b.disable(); }
            _ => {}
        }
        let word_before = b.state_word().load(Acquire);
        let before = b.metrics();
        let outcome = [Outcome::Success, Outcome::Failure, Outcome::Timeout, Outcome::Ignored][outcome as usize];
        let moved = b.record(Permit::from_raw(raw), outcome, ms(1));
        let m = b.metrics();
        let current = (word_before as u32 ^ raw) & 0xFF_F807 == 0;
        if !current {
            prop_assert!(moved.is_none());
            prop_assert_eq!(b.state_word().load(Acquire), word_before);
        }
        prop_assert!(m.in_flight <= before.in_flight);
        prop_assert!(m.stale >= before.stale);
        prop_assert_eq!(m.calls, before.calls);
    }
}

#[test]
fn breakers_of_one_config_configured_from_many_threads_at_once_each_read_only_their_own() {
    let _alone = alone();
    let threads = 12;
    let breakers: Vec<_> = (0..threads)
        .map(|i| Arc::new(Breaker::new(&format!("live-{i}"), Config::default()).unwrap()))
        .collect();
    let untouched = Breaker::new("live-untouched", Config::default()).unwrap();
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = breakers
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let (b, barrier) = (b.clone(), barrier.clone());
            thread::spawn(move || {
                barrier.wait();
                for round in 0..300u32 {
                    // Half the threads go back to the default now and then: shared again.
                    let n = if round % 7 == 0 {
                        None
                    } else {
                        Some(i as u32 * 1000 + round % 5 + 1)
                    };
                    b.configure(Config {
                        consecutive_failures: n.or(Config::default().consecutive_failures),
                        failure_rate: if n.is_some() {
                            None
                        } else {
                            Config::default().failure_rate
                        },
                        ..Config::default()
                    })
                    .unwrap();
                    let got = b.config().consecutive_failures;
                    assert_eq!(
                        got,
                        n.or(Config::default().consecutive_failures),
                        "thread {i} round {round}"
                    );
                }
                // The last config decides the breaker's behaviour: i + 2 failures in a row.
                b.configure(Config {
                    consecutive_failures: Some(i as u32 + 2),
                    failure_rate: None,
                    ..Config::default()
                })
                .unwrap();
                for k in 0..=i + 1 {
                    assert_eq!(b.state(), State::Closed, "thread {i} after {k} failures");
                    let p = b.try_acquire().unwrap();
                    b.record(p, Outcome::Failure, ms(1));
                }
                assert_eq!(b.state(), State::Open, "thread {i} opens at its own count");
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(*untouched.config(), Config::default());
    for (i, b) in breakers.iter().enumerate() {
        assert_eq!(b.config().consecutive_failures, Some(i as u32 + 2));
    }
}

#[test]
fn the_first_transition_raced_by_many_threads_is_made_once_and_heard_once_by_each_listener() {
    let _alone = alone();
    for _ in 0..20 {
        let threads = 16;
        let breaker = Arc::new(
            Breaker::new(
                "lazy",
                Config {
                    consecutive_failures: Some(1),
                    ..Config::default()
                },
            )
            .unwrap(),
        );
        let heard = Arc::new(AtomicU64::new(0));
        let barrier = Arc::new(Barrier::new(threads));
        let moved: u64 = (0..threads)
            .map(|t| {
                let (breaker, heard, barrier) = (breaker.clone(), heard.clone(), barrier.clone());
                thread::spawn(move || {
                    let permit = breaker.try_acquire().unwrap();
                    barrier.wait();
                    // Half make Moves by listening, half by failing: the first of either allocates it.
                    if t % 2 == 0 {
                        let h = heard.clone();
                        breaker.on_transition(move |_| {
                            h.fetch_add(1, Ordering::Relaxed);
                        });
                    }
                    u64::from(breaker.record(permit, Outcome::Failure, ms(1)).is_some())
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap())
            .sum();
        let m = breaker.metrics();
        assert_eq!(moved, 1, "one failure opened it; the others were stale or came after");
        assert_eq!((m.times_opened, m.transitions[0][1]), (1, 1));
        assert_eq!(m.failures, threads as u64);
        assert!(heard.load(Ordering::Relaxed) <= threads as u64 / 2);
        // Every listener is there now: the next transition is heard by each exactly once.
        let before = heard.load(Ordering::Relaxed);
        breaker.reset();
        assert_eq!(heard.load(Ordering::Relaxed) - before, threads as u64 / 2);
    }
}

#[test]
fn breakers_of_distinct_configs_made_and_dropped_in_rounds_leave_no_memory_behind() {
    let _alone = alone();
    let round = |k: u32| {
        let made: Vec<_> = (0..500u32)
            .map(|i| {
                Breaker::new(
                    "mem",
                    Config {
                        consecutive_failures: Some(k * 1_000 + i + 1), // a config no other breaker has
                        ..Config::default()
                    },
                )
                .unwrap()
            })
            .collect();
        for b in &made {
            let p = b.try_acquire().unwrap();
            b.record(p, Outcome::Failure, ms(1));
            b.force_open(None); // makes the lazily made parts
        }
        drop(made);
    };
    // The sharing table keeps a dead config's allocation until its next sweep (at most about
    // one round's worth here); a leak would keep every round's 500 configs and lazy parts.
    for k in 0..10 {
        round(k);
    }
    let start = net();
    for k in 10..30 {
        round(k);
    }
    let grown = net() - start;
    assert!(
        grown < 256 * 1024,
        "{grown} bytes kept after 20 more rounds of 500 breakers"
    );
}

#[test]
fn a_call_storm_after_the_first_calls_allocates_nothing_more() {
    let _alone = alone();
    let registry = Registry::new();
    let breakers: Vec<_> = (0..200)
        .map(|i| {
            let config = Config {
                failure_rate: None,
                ..Config::default()
            };
            registry.get_or_create(&format!("storm-{i}"), config).unwrap()
        })
        .collect();
    let caller = breakers[0].caller();
    let lane = caller.lane();
    let once = |b: &Breaker| {
        let p = b.try_acquire().unwrap();
        b.record(p, Outcome::Success, ms(1));
        let p = b.try_acquire().unwrap();
        b.record(p, Outcome::Failure, ms(1));
    };
    for b in &breakers {
        once(b);
    }
    let (_, _) = start_on_word(&breakers[0], &caller).unwrap();
    lane.succeeded.store(1, Relaxed);
    let _ = breakers[0].metrics();
    let start = net();
    for _ in 0..200 {
        for b in &breakers {
            once(b);
        }
        start_on_word(&breakers[0], &caller).unwrap();
        lane.succeeded
            .store(lane.succeeded.load(Relaxed).wrapping_add(1), Relaxed);
    }
    assert_eq!(net() - start, 0, "calls allocate nothing");
    let m = breakers[0].metrics();
    assert_eq!(
        (m.calls, m.successes, m.failures, m.in_flight),
        (402 + 201, 201 + 201, 201, 0)
    );
}

#[test]
fn a_lane_near_u32_max_wraps_and_every_count_stays_exact() {
    let _alone = alone();
    let r = rig(Config::default());
    let b = &r.breaker;
    let caller = b.caller();
    let lane = caller.lane();
    assert_eq!(lane.fast.load(Acquire), 1);
    // Move the lane forward by 2^30 finished calls at a time (each fold takes fewer than 2^31).
    let step = 1u32 << 30;
    for _ in 0..3 {
        lane.started
            .store(lane.started.load(Relaxed).wrapping_add(step), Relaxed);
        lane.succeeded
            .store(lane.succeeded.load(Relaxed).wrapping_add(step), Relaxed);
        assert_eq!(b.metrics().in_flight, 0);
    }
    // Now 3 * 2^30: just below u32::MAX by 2^30. Close in on it, then wrap with real calls.
    let gap = u32::MAX - lane.started.load(Relaxed) - 5;
    lane.started.store(lane.started.load(Relaxed) + gap, Relaxed);
    lane.succeeded.store(lane.succeeded.load(Relaxed) + gap, Relaxed);
    assert_eq!(b.metrics().in_flight, 0);
    let mut held = Vec::new();
    for i in 0..20 {
        let (p, _) = start_on_word(b, &caller).unwrap();
        if i % 2 == 0 {
            lane.succeeded
                .store(lane.succeeded.load(Relaxed).wrapping_add(1), Relaxed);
        } else {
            held.push(p);
        }
    }
    assert!(lane.started.load(Relaxed) < 100, "the lane wrapped");
    let m = b.metrics();
    let total = 3 * u64::from(step) + u64::from(gap) + 20;
    assert_eq!((m.calls, m.successes, m.in_flight), (total, total - 10, 10));
    for p in held {
        b.record_as(&caller, p, Outcome::Failure, ms(1));
    }
    let m = b.metrics();
    assert_eq!(
        (m.calls, m.successes, m.failures, m.in_flight),
        (total, total - 10, 10, 0)
    );
    assert!(conserved(&m));
    // The caller going folds its totals in: nothing changes.
    drop(caller);
    let after = b.metrics();
    assert_eq!((after.calls, after.successes, after.in_flight), (total, total - 10, 0));
}

#[test]
fn many_threads_starting_at_once_on_a_fresh_breaker_each_count_in_a_stripe_and_none_is_lost() {
    let _alone = alone();
    // Fresh threads lease seats at once (and threads ending give them back mid-storm).
    let breaker = Arc::new(Breaker::new("seats", Config::default()).unwrap());
    let total = Arc::new(Mutex::new(0u64));
    for wave in 0..4 {
        let barrier = Arc::new(Barrier::new(20));
        let hs: Vec<_> = (0..20)
            .map(|t| {
                let (b, barrier, total) = (breaker.clone(), barrier.clone(), total.clone());
                thread::spawn(move || {
                    barrier.wait();
                    let n = 200 + (t * 7 + wave) % 50;
                    for _ in 0..n {
                        let p = b.try_acquire().unwrap();
                        b.record(p, Outcome::Success, ms(1));
                    }
                    *total.lock().unwrap() += n as u64;
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    }
    let m = breaker.metrics();
    let n = *total.lock().unwrap();
    assert_eq!((m.calls, m.successes, m.in_flight), (n, n, 0));
    let Window::Count(size) = breaker.config().window else {
        panic!("the default window counts calls")
    };
    // The documented striping: the last N calls of each stripe, at most 8 seats and the shared
    // stripe (README, "The window is striped"): seats are leased by threads of the whole process.
    let size = u64::from(size);
    assert!(
        (size..=9 * size).contains(&m.window.calls) && m.window.calls % size == 0,
        "{} calls in the window",
        m.window.calls
    );
    // One thread alone sees exactly the last N.
    let single = Breaker::new("alone", Config::default()).unwrap();
    for _ in 0..1_000 {
        let p = single.try_acquire().unwrap();
        single.record(p, Outcome::Success, ms(1));
    }
    assert_eq!(single.metrics().window.calls, size);
    assert_eq!(m.window.failures, 0);
}

#[test]
fn names_shared_with_the_registry_key_survive_get_remove_and_recreate_races_from_many_threads() {
    let _alone = alone();
    let registry = Arc::new(Registry::new());
    let names: Vec<String> = (0..4).map(|i| format!("shared-name-{i}-é")).collect();
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let (registry, names) = (registry.clone(), names.clone());
            thread::spawn(move || {
                let mut next = rng(t + 100);
                let mut kept = Vec::new();
                for _ in 0..2_000 {
                    let name = &names[next(4) as usize];
                    match next(3) {
                        0 => {
                            registry.remove(name);
                        }
                        1 => {
                            if let Some(b) = registry.get(name) {
                                assert_eq!(b.name(), name.as_str());
                            }
                        }
                        _ => {
                            let b = registry.get_or_create(name, Config::default()).unwrap();
                            assert_eq!(b.name(), name.as_str());
                            let p = b.try_acquire().unwrap();
                            b.record(p, Outcome::Success, ms(1));
                            if next(50) == 0 {
                                kept.push(b); // outlives its removal
                            }
                        }
                    }
                }
                kept
            })
        })
        .collect();
    let kept: Vec<_> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    for b in &kept {
        assert!(names.iter().any(|n| n == b.name()));
        assert!(b.metrics().calls >= 1);
    }
    for name in &names {
        if let Some(b) = registry.get(name) {
            assert_eq!(b.name(), name.as_str());
        }
    }
}
