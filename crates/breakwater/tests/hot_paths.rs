//! The hot path's shortcuts pinned against what the general path does: a plain success (fast,
//! no histogram) on a closed permit, the same success on any other permit, the one-test closed
//! acquire, the out-of-line refusal, and threads beyond the stripes' seats.

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use breakwater::{
    Backoff, Breaker, Clock, Config, FakeClock, LatencyRule, Outcome, RateRule, Reason, SlowCallRule, State,
    HALF_OPEN_RETRY_AFTER,
};

const FAST: Duration = Duration::from_nanos(40);
const MS: u64 = 1_000_000;

fn on_fake_clock(config: Config) -> (Breaker, FakeClock) {
    let clock = FakeClock::new();
    let breaker = Breaker::with_clock("hot", config, Arc::new(clock.clone())).unwrap();
    (breaker, clock)
}

#[test]
fn a_plain_success_counts_once_in_the_counters_and_the_window_and_resets_the_failures_in_a_row() {
    let (breaker, _) = on_fake_clock(Config {
        consecutive_failures: Some(3),
        ..Config::default()
    });
    for outcome in [Outcome::Failure, Outcome::Failure, Outcome::Success] {
        let permit = breaker.try_acquire().unwrap();
        assert_eq!(breaker.record(permit, outcome, FAST), None);
    }
    let m = breaker.metrics();
    assert_eq!(
        (m.calls, m.successes, m.failures, m.in_flight, m.stale),
        (3, 1, 2, 0, 0)
    );
    assert_eq!((m.window.calls, m.window.failures), (3, 2));
    assert_eq!(m.consecutive_failures, 0, "the success reset the failures in a row");
    for _ in 0..2 {
        let permit = breaker.try_acquire().unwrap();
        breaker.record(permit, Outcome::Failure, FAST);
    }
    assert_eq!(
        breaker.state(),
        State::Closed,
        "two failures in a row after the reset, not four"
    );
}

#[test]
fn a_plain_success_on_a_permit_of_an_earlier_closed_period_counts_as_stale_and_stays_out_of_the_window() {
    let (breaker, _) = on_fake_clock(Config::default());
    let old = breaker.try_acquire().unwrap();
    breaker.reset();
    assert_eq!(breaker.record(old, Outcome::Success, FAST), None);
    let m = breaker.metrics();
    assert_eq!((m.successes, m.stale, m.in_flight), (1, 1, 0));
    assert_eq!(m.window.calls, 0, "the reset window holds no call of the period before");
}

#[test]
fn a_plain_success_of_a_probe_closes_the_breaker_when_enough_probes_succeeded() {
    let (breaker, clock) = on_fake_clock(Config {
        consecutive_failures: Some(1),
        open_duration: Backoff::fixed(Duration::from_millis(10)),
        half_open_max_probes: 2,
        half_open_successes: 2,
        ..Config::default()
    });
    let permit = breaker.try_acquire().unwrap();
    breaker.record(permit, Outcome::Failure, FAST);
    clock.advance(Duration::from_millis(10));
    let (first, second) = (breaker.try_acquire().unwrap(), breaker.try_acquire().unwrap());
    assert!(first.is_probe() && second.is_probe());
    assert_eq!(breaker.record(first, Outcome::Success, FAST), None);
    assert_eq!(breaker.state(), State::HalfOpen);
    let closed = breaker
        .record(second, Outcome::Success, FAST)
        .expect("the second probe closes it");
    assert_eq!((closed.from, closed.to), (State::HalfOpen, State::Closed));
    assert_eq!(breaker.metrics().successes, 2);
}

#[test]
fn a_success_at_the_slow_call_duration_takes_the_flagged_path() {
    let (breaker, _) = on_fake_clock(Config {
        slow_call_rate: Some(SlowCallRule {
            slow_call: Duration::from_millis(5),
            rate: RateRule {
                threshold_percent: 100.0,
                min_calls: 2,
            },
        }),
        ..Config::default()
    });
    let permit = breaker.try_acquire().unwrap();
    breaker.record(permit, Outcome::Success, Duration::from_nanos(5 * MS - 1));
    let permit = breaker.try_acquire().unwrap();
    breaker.record(permit, Outcome::Success, Duration::from_millis(5));
    let m = breaker.metrics();
    assert_eq!((m.successes, m.slow_calls, m.window.calls, m.window.slow), (2, 1, 2, 1));
    assert_eq!(breaker.state(), State::Closed, "one slow call of two is 50 %");
    let permit = breaker.try_acquire().unwrap();
    let opened = breaker.record(permit, Outcome::Success, Duration::from_millis(6));
    assert_eq!(opened.map(|t| t.to), None, "2 slow of 3 is below 100 %");
}

#[test]
fn a_fast_success_of_a_breaker_that_tracks_latency_is_timed() {
    let (breaker, _) = on_fake_clock(Config {
        latency: Some(LatencyRule::p99(Duration::from_secs(1))),
        ..Config::default()
    });
    for _ in 0..3 {
        let permit = breaker.try_acquire().unwrap();
        breaker.record(permit, Outcome::Success, FAST);
    }
    let latency = breaker.metrics().latency.expect("a latency rule keeps a histogram");
    assert_eq!(latency.count, 3);
}

#[test]
fn a_disabled_breaker_lets_calls_through_and_counts_them() {
    let (breaker, _) = on_fake_clock(Config::default());
    breaker.disable();
    let permit = breaker.try_acquire().expect("disabled breakers let every call through");
    assert_eq!(permit.state(), State::Disabled);
    assert_eq!(breaker.metrics().in_flight, 1);
    breaker.record(permit, Outcome::Failure, FAST);
    let m = breaker.metrics();
    assert_eq!((m.calls, m.failures, m.in_flight, m.state), (1, 1, 0, State::Disabled));
}

#[test]
fn a_refusal_says_the_state_and_the_time_left_and_is_counted() {
    let (breaker, clock) = on_fake_clock(Config {
        consecutive_failures: Some(1),
        open_duration: Backoff::fixed(Duration::from_secs(30)),
        ..Config::default()
    });
    let permit = breaker.try_acquire().unwrap();
    breaker.record(permit, Outcome::Failure, FAST);
    clock.advance(Duration::from_nanos(10 * MS + 7));
    let rejected = breaker.try_acquire().unwrap_err();
    assert_eq!(rejected.state, State::Open);
    assert_eq!(rejected.retry_after, Some(Duration::from_nanos(29_990 * MS - 7)));
    assert_eq!(rejected.transition, None);
    breaker.force_open(None);
    let forced = breaker.try_acquire().unwrap_err();
    assert_eq!((forced.state, forced.retry_after), (State::ForcedOpen, None));
    let m = breaker.metrics();
    assert_eq!((m.calls, m.rejections, m.in_flight), (3, 2, 0));
}

#[test]
fn a_half_opening_acquire_reports_its_transition_and_a_full_half_open_breaker_refuses_with_a_short_retry() {
    let (breaker, clock) = on_fake_clock(Config {
        consecutive_failures: Some(1),
        open_duration: Backoff::fixed(Duration::from_millis(10)),
        half_open_max_probes: 1,
        ..Config::default()
    });
    let permit = breaker.try_acquire().unwrap();
    breaker.record(permit, Outcome::Failure, FAST);
    clock.advance(Duration::from_millis(10));
    let probe = breaker.try_acquire().unwrap();
    let moved = probe.transition().expect("the acquire half-opened the breaker");
    assert_eq!(
        (moved.from, moved.to, moved.reason, moved.at_nanos),
        (State::Open, State::HalfOpen, Reason::OpenElapsed, clock.now_nanos())
    );
    let rejected = breaker.try_acquire().unwrap_err();
    assert_eq!(
        (rejected.state, rejected.retry_after),
        (State::HalfOpen, Some(HALF_OPEN_RETRY_AFTER))
    );
}

#[test]
fn a_caller_holds_the_probe_it_takes_and_counts_every_call_it_starts() {
    let clock = FakeClock::new();
    let breaker = Arc::new(
        Breaker::with_clock(
            "hot-caller",
            Config {
                consecutive_failures: Some(1),
                open_duration: Backoff::fixed(Duration::from_millis(10)),
                half_open_successes: 1,
                ..Config::default()
            },
            Arc::new(clock.clone()),
        )
        .unwrap(),
    );
    let caller = breaker.caller();
    let permit = breaker.try_acquire_as(&caller).unwrap();
    breaker.record_as(&caller, permit, Outcome::Failure, FAST);
    assert!(breaker.try_acquire_as(&caller).is_err());
    clock.advance(Duration::from_millis(10));
    let probe = breaker.try_acquire_as(&caller).unwrap();
    assert!(probe.is_probe());
    // Reported by anyone but its caller, the held probe counts as stale and closes nothing.
    assert_eq!(breaker.record(probe, Outcome::Success, FAST), None);
    assert_eq!(breaker.state(), State::HalfOpen);
    let closed = breaker.record_as(&caller, probe, Outcome::Success, FAST);
    assert_eq!(closed.map(|t| t.to), Some(State::Closed));
    let m = breaker.metrics();
    assert_eq!(
        (m.calls, m.rejections, m.successes, m.failures, m.stale),
        (3, 1, 2, 1, 1)
    );
}

#[test]
fn threads_beyond_the_seats_count_every_call_exactly() {
    // More threads at once than any machine here has seats (at most 8): some write the shared
    // stripe with atomic read-modify-writes, the rest their own.
    const THREADS: u64 = 12;
    const CALLS: u64 = 20_000;
    let breaker = Breaker::new("hot-threads", Config::default()).unwrap();
    let start = Barrier::new(THREADS as usize);
    thread::scope(|s| {
        for t in 0..THREADS {
            let (breaker, start) = (&breaker, &start);
            s.spawn(move || {
                start.wait();
                for i in 0..CALLS {
                    let permit = breaker.try_acquire().unwrap();
                    let outcome = if (i + t) % 50 == 0 {
                        Outcome::Ignored
                    } else {
                        Outcome::Success
                    };
                    breaker.record(permit, outcome, FAST);
                }
                // Every thread holds the seat it leased until it ends.
                start.wait();
            });
        }
    });
    let m = breaker.metrics();
    let ignored = THREADS * CALLS / 50;
    assert_eq!(
        (m.calls, m.successes, m.ignored, m.in_flight, m.stale),
        (THREADS * CALLS, THREADS * CALLS - ignored, ignored, 0, 0)
    );
    assert_eq!(m.window.calls % 100, 0, "every stripe's window of 100 calls is full");
    assert_eq!(m.window.failures, 0);
    assert_eq!(m.state, State::Closed);
}
