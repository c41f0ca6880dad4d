//! breakwater against failsafe and recloser, same cases, same run.
//!
//! `cargo bench -p breakwater` (add `-- --quick` for a short run). Compare medians within one run;
//! absolute numbers on a shared machine are noise, ratios are not.

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use breakwater::{Backoff, Breaker, Clock, Config, FakeClock, MonotonicClock, Outcome, Registry};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use failsafe::CircuitBreaker as _;

const HOUR: Duration = Duration::from_secs(3600);

fn breakwater_breaker() -> Breaker {
    Breaker::new("bench", Config::default()).unwrap()
}

fn open_breakwater() -> Breaker {
    let b = Breaker::new(
        "bench-open",
        Config {
            open_duration: Backoff::fixed(HOUR),
            ..Config::default()
        },
    )
    .unwrap();
    b.force_open(Some(HOUR));
    b
}

fn failsafe_breaker() -> impl failsafe::CircuitBreaker {
    let backoff = failsafe::backoff::constant(HOUR);
    failsafe::Config::new()
        .failure_policy(failsafe::failure_policy::consecutive_failures(5, backoff))
        .build()
}

fn recloser_breaker() -> recloser::Recloser {
    recloser::Recloser::custom()
        .error_rate(0.5)
        .closed_len(100)
        .open_wait(HOUR)
        .build()
}

fn ok() -> Result<u64, ()> {
    Ok(black_box(42))
}

fn err() -> Result<u64, ()> {
    Err(())
}

fn closed(c: &mut Criterion) {
    let mut g = c.benchmark_group("closed acquire + success");
    let bw = breakwater_breaker();
    g.bench_function("breakwater", |b| {
        b.iter(|| {
            let permit = bw.try_acquire().unwrap();
            black_box(ok().unwrap());
            bw.record(permit, Outcome::Success, Duration::from_nanos(40))
        })
    });
    let fs = failsafe_breaker();
    g.bench_function("failsafe", |b| b.iter(|| fs.call(ok)));
    let rc = recloser_breaker();
    g.bench_function("recloser", |b| b.iter(|| rc.call(ok)));
    g.finish();
}

fn open(c: &mut Criterion) {
    let mut g = c.benchmark_group("open rejection");
    let bw = open_breakwater();
    g.bench_function("breakwater", |b| b.iter(|| bw.try_acquire().is_err()));
    g.bench_function("breakwater is_call_permitted", |b| b.iter(|| bw.is_call_permitted()));
    // The floor of any rejection that checks the time: one read of the monotonic clock.
    let clock = MonotonicClock;
    g.bench_function("clock read alone (MonotonicClock)", |b| b.iter(|| clock.now_nanos()));
    let fs = failsafe_breaker();
    for _ in 0..5 {
        let _ = fs.call(err);
    }
    assert!(fs.call(ok).is_err(), "failsafe breaker is open");
    g.bench_function("failsafe", |b| b.iter(|| fs.call(ok)));
    let rc = recloser_breaker();
    for _ in 0..200 {
        let _ = rc.call(err);
    }
    assert!(rc.call(ok).is_err(), "recloser breaker is open");
    g.bench_function("recloser", |b| b.iter(|| rc.call(ok)));
    g.finish();
}

fn half_open(c: &mut Criterion) {
    let clock = FakeClock::new();
    let bw = Breaker::with_clock(
        "bench-half-open",
        Config {
            consecutive_failures: Some(1),
            open_duration: Backoff::fixed(Duration::from_millis(1)),
            half_open_max_probes: 100,
            ..Config::default()
        },
        Arc::new(clock.clone()),
    )
    .unwrap();
    let permit = bw.try_acquire().unwrap();
    bw.record(permit, Outcome::Failure, Duration::ZERO);
    clock.advance(Duration::from_millis(1));
    let probe = bw.try_acquire().unwrap();
    assert!(probe.is_probe());
    // Ignored probes free their slot without closing the breaker, so it stays half-open.
    c.bench_function("half-open probe acquire + release/breakwater", |b| {
        b.iter(|| {
            let p = bw.try_acquire().unwrap();
            bw.record(p, Outcome::Ignored, Duration::ZERO)
        })
    });
}

/// Runs `iters` calls split over `threads` threads and returns the wall time of all of them.
fn threaded(threads: u64, iters: u64, call: impl Fn() + Sync) -> Duration {
    let start = Barrier::new(threads as usize + 1);
    thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                start.wait();
                for _ in 0..iters / threads {
                    call();
                }
            });
        }
        start.wait();
        // Scoped threads are joined when the scope ends: time from the start until then.
        Instant::now()
    })
    .elapsed()
}

fn contended(c: &mut Criterion) {
    let mut g = c.benchmark_group("threads on one breaker (time per call, all threads)");
    let bw = breakwater_breaker();
    let fs = failsafe_breaker();
    let rc = recloser_breaker();
    for threads in [1u64, 2] {
        g.bench_with_input(BenchmarkId::new("breakwater", threads), &threads, |b, &n| {
            b.iter_custom(|iters| {
                threaded(n, iters, || {
                    let p = bw.try_acquire().unwrap();
                    bw.record(p, Outcome::Success, Duration::from_nanos(40));
                })
            })
        });
        g.bench_with_input(BenchmarkId::new("failsafe", threads), &threads, |b, &n| {
            b.iter_custom(|iters| {
                threaded(n, iters, || {
                    let _ = fs.call(ok);
                })
            })
        });
        g.bench_with_input(BenchmarkId::new("recloser", threads), &threads, |b, &n| {
            b.iter_custom(|iters| {
                threaded(n, iters, || {
                    let _ = rc.call(ok);
                })
            })
        });
    }
    g.finish();
}

fn registry(c: &mut Criterion) {
    let registry = Registry::new();
    for i in 0..1_000 {
        registry
            .get_or_create(&format!("service-{i}"), Config::default())
            .unwrap();
    }
    c.bench_function("registry lookup by name (1,000 breakers)/breakwater", |b| {
        b.iter(|| registry.get(black_box("service-517")))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(40);
    targets = closed, open, half_open, contended, registry
}
criterion_main!(benches);
