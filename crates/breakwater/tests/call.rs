//! `Breaker::call` and friends: outcomes, filters, rejections, timeouts on tokio's paused clock,
//! and a dropped future that must not leak its permit.
#![cfg(feature = "tokio")]

use std::future::pending;
use std::time::Duration;

use breakwater::{Breaker, CallError, Config, State};

fn breaker(consecutive: u32) -> Breaker {
    Breaker::new(
        "call",
        Config {
            consecutive_failures: Some(consecutive),
            call_timeout: Some(Duration::from_millis(50)),
            ..Config::default()
        },
    )
    .unwrap()
}

#[tokio::test]
async fn errors_count_as_failures_and_open_the_breaker() {
    let b = breaker(2);
    assert_eq!(b.call(async { Ok::<_, &str>(1) }).await, Ok(1));
    for _ in 0..2 {
        assert_eq!(
            b.call(async { Err::<u8, _>("boom") }).await,
            Err(CallError::Inner("boom"))
        );
    }
    let mut polled = false;
    let rejected = b
        .call(async {
            polled = true;
            Ok::<_, &str>(1)
        })
        .await;
    assert!(matches!(rejected, Err(CallError::Rejected(r)) if r.state == State::Open));
    assert!(!polled, "a rejected call is never run");
    let m = b.metrics();
    assert_eq!((m.successes, m.failures, m.rejections), (1, 2, 1));
}

#[tokio::test]
async fn call_with_lets_the_caller_decide_what_is_a_failure() {
    let b = breaker(1);
    let not_found = b
        .call_with(|r: &Result<u8, u16>| matches!(r, Err(500..)), async { Err(404) })
        .await;
    assert_eq!(not_found, Err(CallError::Inner(404)));
    assert_eq!(b.state(), State::Closed, "a 404 is the caller's problem");
    let _ = b
        .call_with(|r: &Result<u8, u16>| matches!(r, Err(500..)), async { Err(503) })
        .await;
    assert_eq!(b.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn a_call_past_its_timeout_is_dropped_and_counted_as_a_timeout() {
    let b = breaker(1);
    let timed_out = b.call_timeout(None, pending::<Result<(), ()>>()).await;
    assert_eq!(timed_out, Err(CallError::Timeout(Duration::from_millis(50))));
    let m = b.metrics();
    assert_eq!((m.failures, m.timeouts, m.in_flight, m.state), (1, 1, 0, State::Open));
}

#[tokio::test(start_paused = true)]
async fn an_explicit_timeout_overrides_the_configured_one() {
    let b = breaker(5);
    let quick = b.call_timeout(Some(Duration::from_millis(5)), async {
        tokio::time::sleep(Duration::from_millis(10)).await;
        Ok::<_, ()>(())
    });
    assert_eq!(quick.await, Err(CallError::Timeout(Duration::from_millis(5))));
    let in_time = b.call_timeout(Some(Duration::from_millis(20)), async {
        tokio::time::sleep(Duration::from_millis(10)).await;
        Ok::<_, ()>(7)
    });
    assert_eq!(in_time.await, Ok(7));
}

#[tokio::test(start_paused = true)]
async fn a_dropped_call_reports_its_permit_as_ignored() {
    let b = breaker(1);
    let call = b.call(pending::<Result<(), ()>>());
    let cancelled = tokio::time::timeout(Duration::from_millis(1), call).await;
    assert!(cancelled.is_err());
    let m = b.metrics();
    assert_eq!((m.calls, m.ignored, m.in_flight, m.state), (1, 1, 0, State::Closed));
}
