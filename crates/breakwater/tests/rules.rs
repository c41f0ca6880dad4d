//! Each trip rule, the latency rule included, on the fake clock. The design papers' scenarios,
//! backoff, probes and manual control are in `lifecycle.rs`.

mod common;

use std::time::Duration;

use breakwater::{Config, LatencyRule, Outcome, RateRule, Reason, SlowCallRule, State, Window};
use common::*;

/// A config with no trip rules, for tests of one rule.
fn no_rules() -> Config {
    Config {
        consecutive_failures: None,
        failure_rate: None,
        ..Config::default()
    }
}

#[test]
fn opens_after_five_consecutive_failures_by_default() {
    let r = rig(Config::default());
    r.fail(4);
    r.succeed(1);
    r.fail(4);
    assert_eq!(r.breaker.state(), State::Closed, "a success breaks the run");
    r.fail(1);
    assert_eq!(r.breaker.state(), State::Open);
    assert_eq!(r.last().unwrap().reason, Reason::ConsecutiveFailures);
}

#[test]
fn opens_when_the_failure_rate_reaches_fifty_percent_of_ten_calls() {
    let r = rig(Config {
        consecutive_failures: None,
        ..Config::default()
    });
    r.succeed(5);
    r.fail(4);
    assert_eq!(
        r.breaker.state(),
        State::Closed,
        "9 calls are fewer than the minimum of 10"
    );
    r.fail(1);
    assert_eq!(r.last().unwrap().reason, Reason::FailureRate);
}

#[test]
fn a_success_never_opens_the_breaker() {
    let r = rig(Config {
        consecutive_failures: None,
        ..Config::default()
    });
    r.fail(5);
    r.succeed(5);
    assert_eq!(r.breaker.state(), State::Closed, "50 % of 10, but reached by a success");
    r.fail(1);
    assert_eq!(r.last().unwrap().reason, Reason::FailureRate);
}

#[test]
fn count_window_forgets_failures_older_than_its_last_n_calls() {
    let r = rig(Config {
        failure_rate: Some(RateRule {
            threshold_percent: 50.0,
            min_calls: 4,
        }),
        window: Window::Count(4),
        ..no_rules()
    });
    r.fail(1);
    r.succeed(3);
    r.succeed(1); // pushes the failure out
    r.fail(1);
    assert_eq!(r.breaker.window_counts().failures, 1);
    assert_eq!(r.breaker.state(), State::Closed);
    r.fail(1);
    assert_eq!(r.last().unwrap().reason, Reason::FailureRate);
}

#[test]
fn opens_when_the_slow_call_rate_reaches_its_threshold() {
    let r = rig(Config {
        slow_call_rate: Some(SlowCallRule {
            slow_call: ms(100),
            rate: RateRule {
                threshold_percent: 50.0,
                min_calls: 4,
            },
        }),
        ..no_rules()
    });
    r.call(Outcome::Success, ms(99));
    r.call(Outcome::Success, ms(5));
    r.call(Outcome::Success, ms(100));
    assert_eq!(r.breaker.state(), State::Closed);
    r.call(Outcome::Success, ms(250));
    assert_eq!(r.last().unwrap().reason, Reason::SlowCallRate);
    assert_eq!(r.breaker.metrics().slow_calls, 2);
}

#[test]
fn opens_on_failures_in_a_time_window_whatever_the_rate() {
    let r = rig(Config {
        failures_in_window: Some(3),
        window: Window::Time {
            length: secs(10),
            buckets: 10,
        },
        ..no_rules()
    });
    r.fail(1);
    r.succeed(100);
    r.clock.advance(secs(5));
    r.fail(1);
    r.clock.advance(secs(5));
    r.succeed(100);
    r.fail(1);
    assert_eq!(
        r.breaker.state(),
        State::Closed,
        "the failure of second 0 has left the window"
    );
    r.clock.advance(secs(1));
    r.fail(1);
    assert_eq!(r.last().unwrap().reason, Reason::FailuresInWindow);
    assert!(r.breaker.metrics().window_failure_rate < 3.0, "3 failures in 103 calls");
}

#[test]
fn time_window_failure_rate_counts_only_recent_calls() {
    let r = rig(Config {
        failure_rate: Some(RateRule {
            threshold_percent: 50.0,
            min_calls: 4,
        }),
        window: Window::Time {
            length: secs(4),
            buckets: 4,
        },
        ..no_rules()
    });
    r.fail(3);
    r.clock.advance(secs(4));
    r.succeed(2);
    r.fail(1);
    assert_eq!(
        r.breaker.state(),
        State::Closed,
        "old failures would make it 4 of 6; recent ones are 1 of 3"
    );
    r.fail(1);
    assert_eq!(r.last().unwrap().reason, Reason::FailureRate);
}

fn latency_rig(threshold_ms: u64) -> Rig {
    rig(Config {
        latency: Some(LatencyRule {
            percentile: 99.0,
            threshold: ms(threshold_ms),
            min_calls: 100,
        }),
        window: Window::Count(100),
        ..no_rules()
    })
}

#[test]
fn latencies_two_to_two_hundred_ms_give_min_2_max_200_and_p99_198() {
    let r = latency_rig(200);
    for step in 1..=100 {
        r.call(Outcome::Success, ms(2 * step));
    }
    let latency = r.breaker.metrics().latency.expect("a latency rule keeps a histogram");
    assert_eq!((latency.count, latency.min, latency.max), (100, ms(2), ms(200)));
    let p99 = latency.p99.as_secs_f64() * 1e3;
    assert!((p99 - 198.0).abs() <= 1.98, "p99 {p99} ms is within 1 % of 198");
    assert_eq!(r.breaker.state(), State::Closed, "P99 198 ms is not above 200 ms");
}

#[test]
fn a_p99_of_250_ms_against_a_200_ms_rule_opens() {
    let r = latency_rig(200);
    for step in 1..=98 {
        r.call(Outcome::Success, ms(2 * step));
    }
    r.call(Outcome::Success, ms(250));
    assert_eq!(
        r.breaker.state(),
        State::Closed,
        "one slow call in 99 is the P99's max, not yet it"
    );
    r.call(Outcome::Success, ms(250));
    assert_eq!(r.last().unwrap().reason, Reason::LatencyPercentile);
}

#[test]
fn p99_exactly_at_the_threshold_stays_closed() {
    let r = latency_rig(200);
    for _ in 0..100 {
        r.call(Outcome::Success, ms(200));
    }
    assert_eq!(r.breaker.state(), State::Closed);
}

#[test]
fn durations_reach_the_rules_unrounded() {
    let r = latency_rig(1);
    for _ in 0..100 {
        r.call(Outcome::Success, Duration::from_nanos(1_000_001));
    }
    assert_eq!(r.breaker.state(), State::Open, "1 ms + 1 ns is above 1 ms");
}
