//! No public API panics on any input: arbitrary configs are accepted or refused with an error,
//! and arbitrary permits, durations and clock times are absorbed.

use std::sync::Arc;
use std::time::Duration;

use breakwater::{
    Backoff, Breaker, Clock, Config, FakeClock, LatencyRule, Outcome, Permit, RateRule, Reason, SlowCallRule, Window,
};
use proptest::prelude::*;

fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        Just(Duration::ZERO),
        Just(Duration::MAX),
        (0u64..u64::MAX).prop_map(Duration::from_nanos),
        (0u64..100_000).prop_map(Duration::from_millis),
    ]
}

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(-1.0),
        Just(0.0),
        -1e12f64..1e12,
        0.0f64..101.0
    ]
}

fn count() -> impl Strategy<Value = u32> {
    prop_oneof![Just(0u32), Just(u32::MAX), 0u32..2_000]
}

fn config() -> impl Strategy<Value = Config> {
    (
        prop::option::of(count()),
        prop::option::of((float(), count())),
        prop::option::of((duration(), float(), count())),
        prop::option::of(count()),
        prop::option::of((float(), duration(), count())),
        prop_oneof![
            count().prop_map(Window::Count),
            (duration(), count()).prop_map(|(length, buckets)| Window::Time { length, buckets })
        ],
        (duration(), float(), duration(), float()),
        (
            count(),
            count(),
            prop::option::of(duration()),
            prop::option::of(duration()),
        ),
    )
        .prop_map(
            |(consecutive, rate, slow, in_window, latency, window, backoff, probes)| Config {
                consecutive_failures: consecutive,
                failure_rate: rate.map(|(threshold_percent, min_calls)| RateRule {
                    threshold_percent,
                    min_calls,
                }),
                slow_call_rate: slow.map(|(slow_call, threshold_percent, min_calls)| SlowCallRule {
                    slow_call,
                    rate: RateRule {
                        threshold_percent,
                        min_calls,
                    },
                }),
                failures_in_window: in_window,
                latency: latency.map(|(percentile, threshold, min_calls)| LatencyRule {
                    percentile,
                    threshold,
                    min_calls,
                }),
                window,
                open_duration: Backoff {
                    base: backoff.0,
                    multiplier: backoff.1,
                    cap: backoff.2,
                    jitter: backoff.3,
                },
                half_open_max_probes: probes.0,
                half_open_successes: probes.1,
                max_probe_time: probes.2,
                call_timeout: probes.3,
                track_latency: true,
            },
        )
}

#[derive(Debug, Clone)]
enum Op {
    Acquire,
    Record(u32, u8, Duration),
    Advance(Duration),
    ForceOpen(Option<Duration>),
    ForceUntil(Option<u64>),
    Reset,
    Disable,
    Metrics,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Acquire),
        (any::<u32>(), 0u8..4, duration()).prop_map(|(raw, o, d)| Op::Record(raw, o, d)),
        duration().prop_map(Op::Advance),
        prop::option::of(duration()).prop_map(Op::ForceOpen),
        prop::option::of(any::<u64>()).prop_map(Op::ForceUntil),
        Just(Op::Reset),
        Just(Op::Disable),
        Just(Op::Metrics),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn any_config_is_accepted_or_refused_with_a_named_field(config in config()) {
        match Breaker::new("fuzz", config) {
            Ok(b) => prop_assert!(b.try_acquire().is_ok()),
            Err(e) => {
                prop_assert!(!e.field.is_empty());
                prop_assert!(e.to_string().contains(" must be "));
            }
        }
    }

    #[test]
    fn any_sequence_of_calls_is_absorbed(ops in prop::collection::vec(op(), 1..80)) {
        let clock = FakeClock::new();
        let config = Config { track_latency: true, consecutive_failures: Some(2), ..Config::default() };
        let b = Breaker::with_clock("fuzz", config, Arc::new(clock.clone())).unwrap();
        let mut permits = Vec::new();
        let mut forged = 0;
        for op in ops {
            match op {
                Op::Acquire => permits.extend(b.try_acquire().ok()),
                Op::Record(raw, o, d) => {
                    let permit = permits.pop().unwrap_or_else(|| {
                        forged += 1;
                        Permit::from_raw(raw)
                    });
                    let outcome = [Outcome::Success, Outcome::Failure, Outcome::Timeout, Outcome::Ignored][o as usize];
                    b.record(permit, outcome, d);
                }
                Op::Advance(d) => clock.advance(d),
                Op::ForceOpen(d) => { b.force_open(d); }
                Op::ForceUntil(n) => { b.force_open_until(n, Reason::Remote); }
                Op::Reset => { b.reset(); }
                Op::Disable => { b.disable(); }
                Op::Metrics => { b.metrics(); }
            }
        }
        let m = b.metrics();
        if forged == 0 {
            // A permit no acquire produced is counted as an outcome, so the identity is for
            // callers that report what they acquired.
            prop_assert_eq!(m.calls, m.successes + m.failures + m.ignored + m.rejections + m.in_flight);
            prop_assert_eq!(m.in_flight, permits.len() as u64);
        }
        prop_assert!(clock.now_nanos() >= m.state_since_nanos);
    }
}
