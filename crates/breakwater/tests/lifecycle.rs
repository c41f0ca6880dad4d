//! A breaker's life after it trips, on the fake clock: the design papers' scenarios, open-duration
//! backoff, half-open probes, stale permits, manual control, listeners and metrics.

mod common;

use breakwater::{
    Backoff, Config, Outcome, RateRule, Reason, SlowCallRule, State, DEFAULT_MIN_CALLS, HALF_OPEN_RETRY_AFTER,
};
use common::*;

#[test]
fn paper_scenario_threshold_3_open_reject_probe_then_close() {
    let r = rig(Config {
        consecutive_failures: Some(3),
        open_duration: Backoff::fixed(secs(60)),
        half_open_max_probes: 1,
        half_open_successes: 1,
        ..Config::default()
    });
    r.fail(3);
    assert_eq!(r.breaker.state(), State::Open);
    let rejected = r.breaker.try_acquire().unwrap_err();
    assert_eq!((rejected.state, rejected.retry_after), (State::Open, Some(secs(60))));
    r.clock.advance(secs(60));
    let probe = r.acquire();
    assert_eq!(r.breaker.state(), State::HalfOpen);
    assert_eq!(
        r.breaker.try_acquire().unwrap_err().state,
        State::HalfOpen,
        "one probe at a time"
    );
    r.breaker.record(probe, Outcome::Success, ms(1));
    assert_eq!(r.breaker.state(), State::Closed);
}

#[test]
fn paper_scenario_two_failures_open_and_two_successes_after_150_ms_close() {
    let r = rig(Config {
        consecutive_failures: Some(2),
        half_open_successes: 2,
        open_duration: Backoff::fixed(ms(100)),
        ..Config::default()
    });
    r.fail(2);
    assert_eq!(r.breaker.state(), State::Open);
    r.clock.advance(ms(150));
    r.succeed(1);
    assert_eq!(r.breaker.state(), State::HalfOpen);
    r.succeed(1);
    assert_eq!(r.breaker.state(), State::Closed);
}

#[test]
fn open_duration_backs_off_1_2_4_up_to_60_s_and_a_full_close_resets_it() {
    let r = rig(Config {
        consecutive_failures: Some(1),
        open_duration: Backoff {
            base: secs(1),
            multiplier: 2.0,
            cap: secs(60),
            jitter: 0.0,
        },
        half_open_successes: 1,
        ..Config::default()
    });
    r.fail(1);
    let mut waits = Vec::new();
    for _ in 0..=10 {
        let wait = r.breaker.try_acquire().unwrap_err().retry_after.unwrap();
        waits.push(wait.as_secs());
        r.clock.advance(wait);
        r.fail(1); // the probe fails: reopen
    }
    assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60, 60, 60, 60]);
    let wait = r.breaker.try_acquire().unwrap_err().retry_after.unwrap();
    r.clock.advance(wait);
    r.succeed(1);
    r.fail(1);
    assert_eq!(r.breaker.try_acquire().unwrap_err().retry_after, Some(secs(1)));
}

#[test]
fn jittered_open_durations_stay_within_their_bounds() {
    let r = rig(Config {
        consecutive_failures: Some(1),
        open_duration: Backoff {
            base: secs(10),
            multiplier: 1.0,
            cap: secs(11),
            jitter: 0.5,
        },
        ..Config::default()
    });
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..200 {
        r.fail(1);
        let wait = r.breaker.try_acquire().unwrap_err().retry_after.unwrap();
        assert!(wait >= secs(5) && wait <= secs(11), "{wait:?}");
        seen.insert(wait.as_millis());
        r.breaker.reset();
    }
    assert!(seen.len() > 50, "jitter spreads the deadlines: {} distinct", seen.len());
}

#[test]
fn a_refusal_in_half_open_says_retry_within_a_second_not_at_the_probe_expiry() {
    let r = rig(Config {
        consecutive_failures: Some(1),
        open_duration: Backoff::fixed(secs(1)),
        half_open_max_probes: 1,
        ..Config::default()
    });
    r.fail(1);
    r.clock.advance(secs(1));
    let probe = r.acquire();
    let refused = r.breaker.try_acquire().unwrap_err();
    assert_eq!(refused.state, State::HalfOpen);
    assert_eq!(refused.retry_after, Some(secs(1)), "not the 60 s probe expiry");
    r.clock.advance(secs(1));
    r.breaker.record(probe, Outcome::Success, ms(3));
    assert!(r.breaker.try_acquire().is_ok(), "a second later the slot is free again");
}

#[test]
fn probes_never_reported_expire_and_reopen_the_breaker() {
    let r = rig(Config {
        consecutive_failures: Some(1),
        open_duration: Backoff::fixed(secs(1)),
        half_open_max_probes: 2,
        max_probe_time: Some(secs(5)),
        ..Config::default()
    });
    r.fail(1);
    r.clock.advance(secs(1));
    let lost = [r.acquire(), r.acquire()];
    let rejected = r.breaker.try_acquire().unwrap_err();
    assert_eq!(
        (rejected.state, rejected.retry_after),
        (State::HalfOpen, Some(HALF_OPEN_RETRY_AFTER)),
        "a slot may free before the probes expire in 5 s"
    );
    r.clock.advance(ms(4_500));
    let rejected = r.breaker.try_acquire().unwrap_err();
    assert_eq!(rejected.retry_after, Some(ms(500)), "the expiry, when it is sooner");
    r.clock.advance(ms(500));
    let rejected = r.breaker.try_acquire().unwrap_err();
    assert_eq!(rejected.state, State::Open);
    assert_eq!(rejected.transition.unwrap().reason, Reason::ProbeTimedOut);
    for permit in lost {
        assert_eq!(
            r.breaker.record(permit, Outcome::Success, secs(9)),
            None,
            "late probes are stale"
        );
    }
    let m = r.breaker.metrics();
    assert_eq!((m.state, m.stale, m.in_flight), (State::Open, 2, 0));
}

#[test]
fn an_ignored_probe_frees_its_slot_without_deciding_anything() {
    let r = rig(Config {
        consecutive_failures: Some(1),
        open_duration: Backoff::fixed(secs(1)),
        half_open_max_probes: 1,
        half_open_successes: 1,
        ..Config::default()
    });
    r.fail(1);
    r.clock.advance(secs(1));
    let probe = r.acquire();
    r.breaker.record(probe, Outcome::Ignored, ms(1));
    assert_eq!(r.breaker.state(), State::HalfOpen);
    r.succeed(1);
    assert_eq!(r.breaker.state(), State::Closed);
}

#[test]
fn a_slow_probe_reopens_when_slow_calls_are_watched() {
    let r = rig(Config {
        consecutive_failures: Some(1),
        slow_call_rate: Some(SlowCallRule {
            slow_call: ms(100),
            rate: RateRule::percent(50.0),
        }),
        open_duration: Backoff::fixed(secs(1)),
        ..Config::default()
    });
    r.fail(1);
    r.clock.advance(secs(1));
    let t = r.call(Outcome::Success, ms(150)).unwrap().unwrap();
    assert_eq!((t.to, t.reason), (State::Open, Reason::ProbeFailed));
}

#[test]
fn a_stale_permit_is_counted_but_cannot_move_the_new_state() {
    let r = rig(Config {
        consecutive_failures: Some(1),
        open_duration: Backoff::fixed(secs(1)),
        half_open_max_probes: 1,
        half_open_successes: 1,
        ..Config::default()
    });
    let early = r.acquire();
    let early_failure = r.acquire();
    r.fail(1);
    r.clock.advance(secs(1));
    let probe = r.acquire();
    assert_eq!(r.breaker.record(early, Outcome::Success, ms(1)), None, "not a probe");
    assert_eq!(
        r.breaker.record(early_failure, Outcome::Failure, ms(1)),
        None,
        "not a probe"
    );
    assert_eq!(r.breaker.state(), State::HalfOpen);
    r.breaker.record(probe, Outcome::Success, ms(1));
    let m = r.breaker.metrics();
    assert_eq!((m.state, m.successes, m.failures, m.stale), (State::Closed, 2, 2, 2));
}

#[test]
fn a_disabled_breaker_permits_and_counts_every_call_but_never_opens() {
    let r = rig(Config::default());
    r.breaker.disable();
    r.fail(100);
    let m = r.breaker.metrics();
    assert_eq!((m.state, m.failures, m.calls), (State::Disabled, 100, 100));
}

#[test]
fn force_open_rejects_until_its_deadline_then_probes() {
    let r = rig(Config::default());
    r.breaker.force_open(None);
    assert_eq!(r.breaker.try_acquire().unwrap_err().retry_after, None, "no deadline");
    r.clock.advance(secs(3600));
    assert!(r.breaker.try_acquire().is_err());
    r.breaker.force_open(Some(secs(2)));
    assert_eq!(r.breaker.try_acquire().unwrap_err().retry_after, Some(secs(2)));
    r.clock.advance(secs(2));
    assert!(r.acquire().is_probe());
}

#[test]
fn is_call_permitted_answers_without_moving_state() {
    let r = rig(Config {
        consecutive_failures: Some(1),
        open_duration: Backoff::fixed(secs(1)),
        ..Config::default()
    });
    assert!(r.breaker.is_call_permitted());
    r.fail(1);
    assert!(!r.breaker.is_call_permitted());
    r.clock.advance(secs(1));
    assert!(r.breaker.is_call_permitted());
    assert_eq!(r.breaker.state(), State::Open);
    assert_eq!(r.breaker.metrics().calls, 1, "no call was counted");
}

#[test]
fn a_panicking_listener_neither_breaks_the_breaker_nor_silences_the_others() {
    let r = rig(Config {
        consecutive_failures: Some(1),
        ..Config::default()
    });
    r.breaker.on_transition(|_| panic!("listener bug"));
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    r.fail(1);
    std::panic::set_hook(hook);
    assert_eq!(r.breaker.state(), State::Open);
    assert_eq!(r.transitions().len(), 1, "the rig's own listener still ran");
}

#[test]
fn metrics_count_every_call_in_exactly_one_outcome() {
    let r = rig(Config {
        consecutive_failures: Some(3),
        open_duration: Backoff::fixed(secs(10)),
        track_latency: true,
        ..Config::default()
    });
    r.succeed(4);
    r.call(Outcome::Ignored, ms(1));
    r.call(Outcome::Timeout, ms(30));
    let held = r.acquire();
    r.fail(2);
    for _ in 0..5 {
        assert!(r.breaker.try_acquire().is_err());
    }
    r.clock.advance(secs(4));
    let m = r.breaker.metrics();
    assert_eq!(m.calls, 14);
    assert_eq!(
        (m.successes, m.failures, m.ignored, m.rejections, m.in_flight),
        (4, 3, 1, 5, 1)
    );
    assert_eq!(
        m.calls,
        m.successes + m.failures + m.ignored + m.rejections + m.in_flight
    );
    assert_eq!((m.timeouts, m.times_opened, m.time_open), (1, 1, secs(4)));
    assert!((m.success_rate - 400.0 / 7.0).abs() < 1e-9);
    assert_eq!(m.latency.unwrap().count, 7, "ignored calls are not measured");
    r.breaker.record(held, Outcome::Success, ms(1));
    assert_eq!(r.breaker.metrics().in_flight, 0);
    assert_eq!(DEFAULT_MIN_CALLS, 10);
}

#[test]
fn a_breaker_with_the_default_window_fits_in_256_bytes() {
    let size = std::mem::size_of::<breakwater::Breaker>();
    println!("size_of::<Breaker>() = {size} bytes");
    assert!(size <= 256, "{size}");
}

#[test]
fn a_breaker_never_called_fits_in_136_bytes_whatever_the_cores() {
    // One pointer for the stripes (not one per seat), one word for the clock, the probe
    // limits in one word, the rarely read part inline: a 152-byte Arc, a 160-byte malloc chunk.
    assert_eq!(std::mem::size_of::<breakwater::Breaker>(), 136);
}

#[test]
fn a_breaker_hands_back_the_clock_it_was_made_with() {
    use breakwater::{Breaker, Clock, FakeClock, MonotonicClock, Registry};
    use std::sync::Arc;
    let monotonic = Breaker::new("monotonic", Config::default()).unwrap();
    assert!(Arc::ptr_eq(monotonic.clock(), &MonotonicClock::shared()));
    let in_registry = Registry::new().get_or_create("in-registry", Config::default()).unwrap();
    assert!(Arc::ptr_eq(in_registry.clock(), &MonotonicClock::shared()));
    let fake = FakeClock::new();
    let shared: Arc<dyn Clock> = Arc::new(fake.clone());
    let on_fake = Breaker::with_clock("fake", Config::default(), shared.clone()).unwrap();
    assert!(Arc::ptr_eq(on_fake.clock(), &shared));
    fake.advance(secs(7));
    assert_eq!(on_fake.clock().now_nanos(), 7_000_000_000);
    // Another monotonic clock is its own clock, not the shared one.
    let own: Arc<dyn Clock> = Arc::new(MonotonicClock);
    let on_own = Breaker::with_clock("own", Config::default(), own.clone()).unwrap();
    assert!(Arc::ptr_eq(on_own.clock(), &own));
    assert!(!Arc::ptr_eq(on_own.clock(), &MonotonicClock::shared()));
}

#[test]
fn a_breaker_on_a_fake_clock_times_its_refusals_by_that_clock() {
    let r = rig(Config {
        consecutive_failures: Some(1),
        open_duration: Backoff::fixed(secs(30)),
        ..Config::default()
    });
    r.fail(1);
    r.clock.advance(secs(10));
    let rejected = r.breaker.try_acquire().unwrap_err();
    assert_eq!(rejected.retry_after, Some(secs(20)));
    assert!(!r.breaker.is_call_permitted());
    r.clock.advance(secs(20));
    assert!(r.breaker.is_call_permitted());
}

#[test]
fn breakers_of_equal_configs_share_one_set_of_rules_until_one_is_configured() {
    let registry = breakwater::Registry::new();
    let breakers: Vec<_> = (0..1000)
        .map(|i| {
            registry
                .get_or_create(&format!("shared-{i}"), Config::default())
                .unwrap()
        })
        .collect();
    let first = breakers[0].config();
    let shared = |b: &breakwater::Breaker| std::ptr::eq(&*b.config(), &*first);
    assert!(
        breakers.iter().all(|b| shared(b)),
        "1,000 default breakers hold one config"
    );
    let other = Config {
        consecutive_failures: Some(7),
        ..Config::default()
    };
    assert!(!shared(&breakwater::Breaker::new("other", other.clone()).unwrap()));

    breakers[0].configure(other.clone()).unwrap();
    assert_eq!(breakers[0].config().consecutive_failures, Some(7));
    assert!(!shared(&breakers[0]), "a configured breaker stops sharing");
    assert!(breakers[1..].iter().all(|b| shared(b)), "the others keep theirs");
    assert_eq!(breakers[1].config().consecutive_failures, Some(5));

    breakers[0].configure(Config::default()).unwrap();
    assert!(
        shared(&breakers[0]),
        "configured back to the defaults, it shares them again"
    );
}
