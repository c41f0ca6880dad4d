//! # breakwater
//!
//! Lock-free circuit breakers for services that must not fall over.
//!
//! A [`Breaker`] watches the calls to one dependency and stops calling it when it is unwell:
//! after consecutive failures, a failure rate, a slow-call rate, a failure count or a latency
//! percentile over a sliding window. After an open duration that backs off on every reopen, a few
//! probe calls test the dependency; enough successes close the breaker again.
//!
//! The hot path is two calls that never lock or allocate: [`Breaker::try_acquire`] hands out a
//! [`Permit`] (a plain value, so it can cross an FFI boundary), and [`Breaker::record`] takes it
//! back with the call's [`Outcome`] and duration. State lives in one atomic word changed by
//! compare-and-swap; counters and windows are striped per thread. Time comes from an injected
//! [`Clock`], so tests drive a [`FakeClock`] instead of sleeping.
//!
//! ```
//! use breakwater::{Backoff, Breaker, Config, FakeClock, Outcome, Reason, State};
//! use std::{sync::Arc, time::Duration};
//!
//! let clock = FakeClock::new();
//! let config = Config {
//!     consecutive_failures: Some(3),
//!     open_duration: Backoff::fixed(Duration::from_secs(10)),
//!     half_open_successes: 1,
//!     ..Config::default()
//! };
//! let breaker = Breaker::with_clock("broker", config, Arc::new(clock.clone()))?;
//!
//! for _ in 0..3 {
//!     let permit = breaker.try_acquire().unwrap();
//!     breaker.record(permit, Outcome::Failure, Duration::from_millis(20));
//! }
//! assert_eq!(breaker.state(), State::Open);
//! assert_eq!(breaker.try_acquire().unwrap_err().retry_after, Some(Duration::from_secs(10)));
//!
//! clock.advance(Duration::from_secs(10));
//! let probe = breaker.try_acquire().unwrap();
//! assert!(probe.is_probe());
//! let closed = breaker.record(probe, Outcome::Success, Duration::from_millis(5)).unwrap();
//! assert_eq!((closed.to, closed.reason), (State::Closed, Reason::ProbesSucceeded));
//! # Ok::<(), breakwater::ConfigError>(())
//! ```
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod backoff;
mod breaker;
mod bulkhead;
mod call;
mod caller;
mod callers;
mod clock;
mod config;
mod configure;
mod controls;
mod counters;
mod decide;
mod events;
mod histogram;
mod isolation;
mod lazy;
mod live;
mod metrics;
mod moves;
mod named;
mod open_duration;
mod permit;
mod registry;
mod rules;
mod snapshot;
mod state;
mod stripe;
mod transitions;
mod units;
mod window;

pub use backoff::{Backoff, DEFAULT_OPEN_BASE, DEFAULT_OPEN_CAP, DEFAULT_OPEN_MULTIPLIER};
pub use breaker::{Breaker, HALF_OPEN_RETRY_AFTER};
pub use bulkhead::{Admission, Bulkhead, BulkheadShare, BulkheadStats, Wake, MAX_CONCURRENT, MAX_QUEUE};
pub use call::CallError;
pub use caller::Caller;
pub use callers::Lane;
pub use clock::{Clock, FakeClock, MonotonicClock};
pub use config::*;
pub use events::{ListenerId, TransitionEvent};
pub use histogram::LatencySummary;
pub use isolation::Isolation;
pub use live::ConfigRef;
pub use metrics::Metrics;
pub use named::MAX_NAME_BYTES;
pub use permit::{Outcome, Permit, Rejected};
pub use registry::Registry;
pub use rules::WindowCounts;
pub use snapshot::Persisted;
pub use state::{is_legal, Reason, State, Transition, MAX_PROBES};
