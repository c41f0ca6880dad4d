//! Helpers shared by the integration tests: a breaker on a fake clock and one-line calls.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use breakwater::{Breaker, Config, FakeClock, Outcome, Permit, Transition};

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A breaker on a fresh fake clock, with every transition it makes collected.
pub struct Rig {
    pub breaker: Arc<Breaker>,
    pub clock: FakeClock,
    pub seen: Arc<Mutex<Vec<Transition>>>,
}

pub fn rig(config: Config) -> Rig {
    let clock = FakeClock::new();
    let breaker = Arc::new(Breaker::with_clock("test", config, Arc::new(clock.clone())).expect("valid config"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    breaker.on_transition(move |t| sink.lock().unwrap().push(*t));
    Rig { breaker, clock, seen }
}

impl Rig {
    /// Acquires and reports one call; `None` if it was rejected.
    pub fn call(&self, outcome: Outcome, took: Duration) -> Option<Option<Transition>> {
        let permit = self.breaker.try_acquire().ok()?;
        Some(self.breaker.record(permit, outcome, took))
    }

    pub fn fail(&self, n: usize) {
        for _ in 0..n {
            self.call(Outcome::Failure, ms(1)).expect("permitted");
        }
    }

    pub fn succeed(&self, n: usize) {
        for _ in 0..n {
            self.call(Outcome::Success, ms(1)).expect("permitted");
        }
    }

    pub fn acquire(&self) -> Permit {
        self.breaker.try_acquire().expect("permitted")
    }

    pub fn transitions(&self) -> Vec<Transition> {
        self.seen.lock().unwrap().clone()
    }

    pub fn last(&self) -> Option<Transition> {
        self.seen.lock().unwrap().last().copied()
    }
}
