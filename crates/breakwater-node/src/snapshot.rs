//! `NativeBreaker::persisted` and `restore`: what a restart keeps of a breaker, as plain numbers
//! (the facade words the versioned, JSON-serialisable snapshot and checks it).

use std::time::Duration;

use breakwater::{Persisted, State, WindowCounts};
use napi_derive::napi;

use crate::breaker::NativeBreaker;
use crate::wire::transition_code;

/// A breaker's state as a new process can take it over (see `breakwater::Persisted`).
#[napi(object)]
pub struct NativePersisted {
    /// 0 closed, 1 open, 2 half-open, 3 forced open, 4 disabled.
    pub state: u32,
    /// Open or forced open: milliseconds from now until a call may probe; absent when forced
    /// open until reset, and in other states.
    pub open_for_ms: Option<f64>,
    /// Openings since the breaker last closed for real (the backoff attempt).
    pub reopen_attempt: u32,
    /// The state word's generation (for the record; not restored).
    pub generation: u32,
    /// Failures in a row.
    pub consecutive_failures: u32,
    /// The window's calls, failures, slow calls and calls over the latency threshold.
    pub window: Vec<f64>,
}

/// A count from JavaScript: whole and at least 0 (the facade checks it; this only clamps).
fn count(n: f64) -> u64 {
    if n.is_finite() && n > 0.0 {
        n as u64
    } else {
        0
    }
}

#[napi]
impl NativeBreaker {
    /// The breaker's state as `restore` takes it.
    #[napi(catch_unwind)]
    pub fn persisted(&self) -> NativePersisted {
        let p = self.breaker().persisted();
        let w = p.window;
        NativePersisted {
            state: p.state as u32,
            open_for_ms: p.open_for.map(|d| d.as_millis() as f64),
            reopen_attempt: p.reopen_attempt,
            generation: p.generation,
            consecutive_failures: p.consecutive_failures,
            window: [w.calls, w.failures, w.slow, w.over_latency].map(|n| n as f64).to_vec(),
        }
    }

    /// Takes over a breaker of an earlier process (see `breakwater::Breaker::restore`); returns
    /// the transition code it made (reason `manual`), 0 for none.
    #[napi(catch_unwind)]
    pub fn restore(&self, p: NativePersisted) -> f64 {
        let window = |i: usize| p.window.get(i).copied().map_or(0, count);
        let persisted = Persisted {
            state: State::ALL.get(p.state as usize).copied().unwrap_or(State::Closed),
            open_for: p.open_for_ms.map(|ms| Duration::from_millis(count(ms))),
            reopen_attempt: p.reopen_attempt,
            generation: p.generation,
            consecutive_failures: p.consecutive_failures,
            window: WindowCounts {
                calls: window(0),
                failures: window(1),
                slow: window(2),
                over_latency: window(3),
            },
        };
        transition_code(self.breaker().restore(&persisted))
    }
}
