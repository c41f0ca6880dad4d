//! The bulkhead: permits, the priority queue, cancellation, hand-over and many threads at once.

use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use breakwater::{Admission, Bulkhead};

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
