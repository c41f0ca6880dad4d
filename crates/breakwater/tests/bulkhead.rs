//! The bulkhead: permits, the priority queue, cancellation, hand-over and many threads at once.

use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use breakwater::{Admission, Bulkhead, BulkheadShare};

/// A wake function that writes `(label, permit)` to `log`.
fn logged(log: &Arc<Mutex<Vec<(&'static str, u64)>>>, label: &'static str) -> breakwater::Wake {
    let log = log.clone();
    Box::new(move |_ticket, permit| {
        log.lock().unwrap().push((label, permit));
        true
    })
}

#[test]
fn gives_out_at_most_max_concurrent_permits_and_takes_each_back_once() {
    let b = Bulkhead::new(2, 0).unwrap();
    let p1 = b.try_acquire().unwrap();
    let p2 = b.try_acquire().unwrap();
    assert_ne!(p1, p2);
    assert_eq!(b.try_acquire(), None);
    assert!(b.release(p1));
    assert!(!b.release(p1), "a second release of one permit is refused");
    assert!(!b.release(12_345_678), "a permit never given out is refused");
    let p3 = b.try_acquire().unwrap();
    assert_ne!(p3, p1, "a reused slot gives a new id, so the old one stays stale");
    assert!(!b.release(p1));
    let stats = b.stats();
    assert_eq!((stats.in_use, stats.admitted), (2, 3));
}

#[test]
fn queued_callers_get_permits_by_priority_then_in_order_of_arrival() {
    let b = Bulkhead::new(1, 10).unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let held = b.try_acquire().unwrap();
    for (label, priority) in [("low-1", 0), ("high-1", 5), ("low-2", 0), ("high-2", 5), ("urgent", 9)] {
        assert!(matches!(
            b.acquire_or_queue(priority, logged(&log, label)),
            Admission::Queued(_)
        ));
    }
    assert_eq!(b.stats().queued, 5);
    let mut permit = held;
    for expected in ["urgent", "high-1", "high-2", "low-1", "low-2"] {
        assert!(b.release(permit));
        let (label, next) = *log.lock().unwrap().last().unwrap();
        assert_eq!(label, expected);
        permit = next;
    }
    assert!(b.release(permit));
    assert_eq!((b.stats().in_use, b.stats().queued), (0, 0));
}

#[test]
fn refuses_when_every_permit_is_taken_and_the_queue_is_full() {
    let b = Bulkhead::new(1, 1).unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let _held = b.try_acquire().unwrap();
    assert!(matches!(b.acquire_or_queue(0, logged(&log, "a")), Admission::Queued(_)));
    assert_eq!(b.acquire_or_queue(100, logged(&log, "b")), Admission::Full);
    assert_eq!(b.stats().rejected, 1);
}

#[test]
fn a_cancelled_caller_leaves_the_queue_and_the_next_one_is_served() {
    let b = Bulkhead::new(1, 5).unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let held = b.try_acquire().unwrap();
    let Admission::Queued(first) = b.acquire_or_queue(0, logged(&log, "first")) else {
        panic!()
    };
    let Admission::Queued(_) = b.acquire_or_queue(0, logged(&log, "second")) else {
        panic!()
    };
    assert!(b.cancel(first));
    assert!(!b.cancel(first), "cancelling twice is a no-op");
    assert!(b.release(held));
    assert_eq!(log.lock().unwrap()[0].0, "second");
    assert_eq!(b.stats().cancelled, 1);
}

#[test]
fn cancelling_after_the_permit_was_handed_over_says_so() {
    let b = Bulkhead::new(1, 5).unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let held = b.try_acquire().unwrap();
    let Admission::Queued(ticket) = b.acquire_or_queue(0, logged(&log, "late")) else {
        panic!()
    };
    b.release(held);
    assert!(!b.cancel(ticket), "the caller owns a permit now and must release it");
    assert!(b.release(log.lock().unwrap()[0].1));
}

#[test]
fn a_permit_for_a_caller_that_is_gone_goes_to_the_next_in_line() {
    let b = Bulkhead::new(1, 5).unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let held = b.try_acquire().unwrap();
    b.acquire_or_queue(1, Box::new(|_, _| false));
    b.acquire_or_queue(0, logged(&log, "alive"));
    b.release(held);
    assert_eq!(log.lock().unwrap().len(), 1);
    assert_eq!(b.stats().in_use, 1);
}

#[test]
fn queued_callers_go_before_new_arrivals() {
    let b = Bulkhead::new(1, 5).unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let held = b.try_acquire().unwrap();
    b.acquire_or_queue(0, logged(&log, "waiting"));
    b.release(held);
    assert_eq!(b.try_acquire(), None, "the freed permit went to the queued caller");
}

#[test]
fn limits_are_checked() {
    assert_eq!(
        Bulkhead::new(0, 0).unwrap_err().to_string(),
        "max_concurrent must be within 1..=1048576, but was 0"
    );
    assert!(Bulkhead::new(1, breakwater::MAX_QUEUE + 1).is_err());
}

#[test]
fn a_name_gives_one_bulkhead_to_the_whole_process() {
    let a = Bulkhead::named("bulkhead-test-shared", 3, 0).unwrap();
    let b = std::thread::spawn(|| Bulkhead::named("bulkhead-test-shared", 99, 9).unwrap())
        .join()
        .unwrap();
    assert!(Arc::ptr_eq(&a, &b));
    assert_eq!(b.stats().max_concurrent, 3);
    assert!(Bulkhead::remove_named("bulkhead-test-shared"));
}

#[test]
fn many_threads_never_exceed_the_limit_and_every_call_gets_through() {
    const THREADS: usize = 6;
    const CALLS: usize = 2_000;
    let b = Arc::new(Bulkhead::new(3, 64).unwrap());
    let running = Arc::new(AtomicU32::new(0));
    let most = Arc::new(AtomicU32::new(0));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (b, running, most) = (b.clone(), running.clone(), most.clone());
            std::thread::spawn(move || {
                let mut done = 0;
                for i in 0..CALLS {
                    let (tx, rx) = mpsc::channel();
                    let permit = match b.acquire_or_queue((i % 3) as i32, Box::new(move |_, p| tx.send(p).is_ok())) {
                        Admission::Now(p) => p,
                        Admission::Queued(_) => rx.recv().unwrap(),
                        Admission::Full => unreachable!("at most {THREADS} callers wait at once"),
                    };
                    let now = running.fetch_add(1, SeqCst) + 1;
                    most.fetch_max(now, SeqCst);
                    if (i + t) % 7 == 0 {
                        std::thread::yield_now();
                    }
                    running.fetch_sub(1, SeqCst);
                    assert!(b.release(permit));
                    done += 1;
                }
                done
            })
        })
        .collect();
    let total: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(total, THREADS * CALLS);
    assert!(most.load(SeqCst) <= 3, "saw {} at once", most.load(SeqCst));
    let stats = b.stats();
    assert_eq!((stats.in_use, stats.queued), (0, 0));
    assert_eq!(stats.admitted, (THREADS * CALLS) as u64);
}

/// A release racing a caller that is joining the queue: the freed permit must reach the caller
/// (or the caller must take it), never stay free while the caller waits for it.
#[test]
fn a_permit_freed_while_a_caller_joins_the_queue_is_never_left_free_while_it_waits() {
    const ROUNDS: usize = 100_000;
    let b = Arc::new(Bulkhead::new(1, 4).unwrap());
    let barrier = Arc::new(std::sync::Barrier::new(2));
    let (permits, to_release) = mpsc::channel::<u64>();
    let releaser = {
        let (b, barrier) = (b.clone(), barrier.clone());
        std::thread::spawn(move || {
            for held in to_release {
                barrier.wait(); // start together
                assert!(b.release(held));
                barrier.wait(); // both done
            }
        })
    };
    for round in 0..ROUNDS {
        permits.send(b.try_acquire().unwrap()).unwrap();
        barrier.wait();
        let (tx, rx) = mpsc::channel();
        let admission = b.acquire_or_queue(0, Box::new(move |_, p| tx.send(p).is_ok()));
        barrier.wait();
        let stats = b.stats();
        assert_eq!(
            (stats.in_use, stats.queued),
            (1, 0),
            "round {round}: {admission:?} left {stats:?}"
        );
        let permit = match admission {
            Admission::Now(p) => p,
            Admission::Queued(_) => rx.try_recv().expect("woken before the release returned"),
            Admission::Full => unreachable!(),
        };
        assert!(b.release(permit));
    }
    drop(permits);
    releaser.join().unwrap();
}

/// A small seeded generator, so a failing stress run can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) % n
    }
}

fn seed() -> u64 {
    let seed = std::env::var("BREAKWATER_STRESS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| u64::from(std::process::id()) << 16 | 1);
    println!("seed {seed} (set BREAKWATER_STRESS_SEED to replay)");
    seed
}

fn assert_idle(b: &Arc<Bulkhead>) {
    let stats = b.stats();
    assert_eq!((stats.in_use, stats.queued), (0, 0), "{stats:?}");
    let fresh = BulkheadShare::new(b.clone());
    let permit = fresh.try_acquire().expect("a fresh caller gets a permit at once");
    assert!(fresh.release(permit));
}

#[test]
fn a_permit_handed_to_an_owner_that_ends_before_claiming_it_comes_back() {
    // The wake reached the owner's queue but never ran (its environment was torn down): the
    // lane still has the permit when it is closed (thread end) or dropped (handle finalized).
    for end in [BulkheadShare::close as fn(&BulkheadShare), |_: &BulkheadShare| {}] {
        let b = Arc::new(Bulkhead::new(1, 5).unwrap());
        let main = BulkheadShare::new(b.clone());
        let worker = BulkheadShare::new(b.clone());
        let held = main.try_acquire().unwrap();
        let Admission::Queued(_) = worker.acquire_or_queue(0, |_| true) else {
            panic!()
        };
        assert!(main.release(held));
        assert_eq!(b.stats().in_use, 1, "handed to the worker's caller");
        end(&worker);
        drop(worker);
        assert_idle(&b);
    }
}

#[test]
fn a_permit_handed_to_an_owner_that_ends_at_the_same_moment_comes_back_whatever_the_timing() {
    // The owner ends (closed at thread end, or dropped) while another thread hands it a permit;
    // its wake is delivered, refused (closing) or queued and never run; it may have claimed.
    const ROUNDS: u64 = 20_000;
    let mut rng = Rng(seed());
    let b = Arc::new(Bulkhead::new(1, 5).unwrap());
    let main = BulkheadShare::new(b.clone());
    let barrier = Arc::new(std::sync::Barrier::new(2));
    for round in 0..ROUNDS {
        let held = main.try_acquire().unwrap();
        let (notify_mode, end_mode, spin) = (rng.below(3), rng.below(3), rng.below(64));
        let owner = {
            let (b, barrier) = (b.clone(), barrier.clone());
            std::thread::spawn(move || {
                let lane = BulkheadShare::new(b);
                let (tx, rx) = mpsc::channel();
                let Admission::Queued(ticket) = lane.acquire_or_queue(0, move |t| match notify_mode {
                    0 => tx.send(t).is_ok(), // delivered
                    1 => false,              // the thread-safe function is closing
                    _ => true,               // queued to the thread, never run
                }) else {
                    panic!("round {round}: the main lane holds the only permit")
                };
                barrier.wait();
                for _ in 0..spin {
                    std::hint::spin_loop();
                }
                if end_mode == 0 && rx.try_recv() == Ok(ticket) {
                    lane.claim(ticket).expect("a woken caller has its permit"); // ends holding it
                }
                if end_mode == 1 {
                    lane.close(); // the thread's destructor; the handle is dropped after
                }
                drop(lane);
            })
        };
        barrier.wait();
        assert!(main.release(held));
        owner.join().unwrap();
        let stats = b.stats();
        assert_eq!((stats.in_use, stats.queued), (0, 0), "round {round}: {stats:?}");
    }
    assert_idle(&b);
}

#[test]
fn a_caller_that_cancels_while_its_permit_is_handed_over_owes_nothing() {
    const ROUNDS: u64 = 20_000;
    let mut rng = Rng(seed());
    let b = Arc::new(Bulkhead::new(1, 5).unwrap());
    let main = BulkheadShare::new(b.clone());
    let waiter = BulkheadShare::new(b.clone());
    let barrier = Arc::new(std::sync::Barrier::new(2));
    let (permits, to_release) = mpsc::channel::<u64>();
    let releaser = {
        let (main, barrier) = (main.clone(), barrier.clone());
        std::thread::spawn(move || {
            for held in to_release {
                barrier.wait();
                assert!(main.release(held));
                barrier.wait();
            }
        })
    };
    for round in 0..ROUNDS {
        permits.send(main.try_acquire().unwrap()).unwrap();
        let told = rng.below(2) == 0;
        let Admission::Queued(ticket) = waiter.acquire_or_queue(0, move |_| told) else {
            panic!()
        };
        barrier.wait();
        for _ in 0..rng.below(64) {
            std::hint::spin_loop();
        }
        // A caller that cannot be told (`notify` false) was skipped already; any other can leave.
        let left = waiter.cancel(ticket);
        assert!(left || !told, "round {round}: a waiting caller can always leave");
        assert_eq!(
            waiter.claim(ticket),
            None,
            "round {round}: nothing is owed after cancel"
        );
        barrier.wait();
        let stats = b.stats();
        assert_eq!((stats.in_use, stats.queued), (0, 0), "round {round}: {stats:?}");
    }
    drop(permits);
    releaser.join().unwrap();
    assert_idle(&b);
}

#[test]
fn owners_that_hold_queue_cancel_release_and_end_at_random_give_every_permit_back() {
    const OWNERS: u64 = 6;
    const STEPS: u64 = 20_000;
    let seed = seed();
    let b = Arc::new(Bulkhead::new(3, 8).unwrap());
    let threads: Vec<_> = (0..OWNERS)
        .map(|o| {
            let b = b.clone();
            std::thread::spawn(move || {
                let mut rng = Rng(seed ^ (o + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                let (tx, rx) = mpsc::channel::<u64>();
                let mut lane = BulkheadShare::new(b.clone());
                let (mut held, mut waiting) = (Vec::new(), Vec::new());
                let mut ends = 0;
                for _ in 0..STEPS {
                    while let Ok(ticket) = rx.try_recv() {
                        if let Some(i) = waiting.iter().position(|t| *t == ticket) {
                            waiting.swap_remove(i);
                            held.extend(lane.claim(ticket));
                        }
                    }
                    assert!(b.stats().in_use <= 3);
                    match rng.below(10) {
                        0..=2 => match lane.acquire_or_queue(rng.below(3) as i32, {
                            let (tx, lost) = (tx.clone(), rng.below(4) == 0);
                            move |t| lost || tx.send(t).is_ok()
                        }) {
                            Admission::Now(p) => held.push(p),
                            Admission::Queued(t) => waiting.push(t),
                            Admission::Full => {}
                        },
                        3..=5 if !held.is_empty() => {
                            let p = held.swap_remove(rng.below(held.len() as u64) as usize);
                            assert!(lane.release(p));
                        }
                        6 if !waiting.is_empty() => {
                            let t = waiting.swap_remove(rng.below(waiting.len() as u64) as usize);
                            assert!(lane.cancel(t));
                        }
                        7 => {
                            // The owner ends with what it holds and waits for; a new one starts.
                            if rng.below(2) == 0 {
                                lane.close();
                            }
                            lane = BulkheadShare::new(b.clone());
                            (held, waiting) = (Vec::new(), Vec::new());
                            ends += 1;
                        }
                        _ => std::thread::yield_now(),
                    }
                }
                ends
            })
        })
        .collect();
    let ends: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(ends > 0);
    assert_idle(&b);
}
