//! A hot loop for profilers and instruction counts, breakwater and its Rust peers side by side:
//! `cargo run --release -p breakwater --example hotloop -- <library>-<closed|open> N`, e.g. under
//! `valgrind --tool=callgrind`, whose instruction counts repeat exactly from run to run.
//! `breakwater-permitted-open N` asks `is_call_permitted` of an open breaker, the floor of a refusal.
//! `breakwater-threads N` makes N closed calls split over 2 threads, after one call of the main
//! thread (which keeps the stripe seat it leased, as a benchmark's main thread does).

use std::hint::black_box;
use std::time::Duration;

use breakwater::{Breaker, Config, Outcome};
use failsafe::CircuitBreaker as _;

const HOUR: Duration = Duration::from_secs(3600);

fn ok() -> Result<u64, ()> {
    Ok(black_box(42))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let case = args.next().unwrap_or_else(|| "breakwater-closed".into());
    let n: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let open = case.ends_with("-open");
    let mut permitted = 0u64;
    if case == "breakwater-threads" {
        let breaker = Breaker::new("hot", Config::default()).unwrap();
        let call = || {
            let permit = black_box(&breaker).try_acquire().unwrap();
            black_box(ok().unwrap());
            breaker.record(permit, Outcome::Success, Duration::from_nanos(40));
        };
        call();
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| (0..n / 2).for_each(|_| call()));
            }
        });
        permitted = breaker.metrics().successes - 1;
    } else if case.starts_with("breakwater") {
        // The loops of `benches/breaker.rs`: unwrap a closed permit, look at a refusal only.
        let breaker = Breaker::new("hot", Config::default()).unwrap();
        if open {
            breaker.force_open(None);
            if case.starts_with("breakwater-permitted") {
                for _ in 0..n {
                    permitted += u64::from(black_box(&breaker).is_call_permitted());
                }
            } else {
                for _ in 0..n {
                    permitted += u64::from(black_box(&breaker).try_acquire().is_ok());
                }
            }
        } else {
            for _ in 0..n {
                let permit = black_box(&breaker).try_acquire().unwrap();
                black_box(ok().unwrap());
                breaker.record(permit, Outcome::Success, Duration::from_nanos(40));
                permitted += 1;
            }
        }
    } else if case.starts_with("failsafe") {
        let policy = failsafe::failure_policy::consecutive_failures(5, failsafe::backoff::constant(HOUR));
        let breaker = failsafe::Config::new().failure_policy(policy).build();
        for _ in 0..if open { 5 } else { 0 } {
            let _ = breaker.call(|| Err::<(), ()>(()));
        }
        for _ in 0..n {
            permitted += u64::from(black_box(&breaker).call(ok).is_ok());
        }
    } else {
        let breaker = recloser::Recloser::custom()
            .error_rate(0.5)
            .closed_len(100)
            .open_wait(HOUR)
            .build();
        for _ in 0..if open { 200 } else { 0 } {
            let _ = breaker.call(|| Err::<(), ()>(()));
        }
        for _ in 0..n {
            permitted += u64::from(black_box(&breaker).call(ok).is_ok());
        }
    }
    println!("{case}: {permitted} of {n} permitted");
}
