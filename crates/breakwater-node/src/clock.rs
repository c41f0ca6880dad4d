//! `NativeFakeClock`: the clock of `breakwater/testing`.

use breakwater::FakeClock;
use napi::Env;
use napi_derive::napi;

use crate::options::millis;

/// A clock for tests: breakers of a registry made with it move only when it is advanced.
#[napi]
pub struct NativeFakeClock {
    pub(crate) inner: FakeClock,
}

#[napi]
impl NativeFakeClock {
    /// A fake clock at time zero.
    #[napi(constructor, catch_unwind)]
    pub fn new() -> Self {
        Self {
            inner: FakeClock::new(),
        }
    }

    /// Moves time forward, by at most 30 days at a time.
    #[napi(catch_unwind)]
    pub fn advance(&self, env: Env, ms: f64) -> napi::Result<()> {
        self.inner.advance(millis("advance", ms).map_err(|e| e.throw(&env))?);
        Ok(())
    }

    /// The time in milliseconds since the clock was made.
    #[napi(getter, catch_unwind)]
    pub fn now_ms(&self) -> f64 {
        use breakwater::Clock;
        self.inner.now_nanos() as f64 / 1e6
    }
}

impl Default for NativeFakeClock {
    fn default() -> Self {
        Self::new()
    }
}
