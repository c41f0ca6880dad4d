//! What the fleet (`breakwater/fleet`) does to a breaker on another instance's word: transitions
//! with reason `remote`. A second `#[napi] impl` block of `NativeBreaker`, kept apart from the
//! handle's own controls. Deadlines arrive as milliseconds from now on this process's monotonic
//! clock: the fleet turns Redis time into a remaining time, never a wall-clock instant.

use breakwater::Reason;
use napi::Env;
use napi_derive::napi;

use crate::breaker::NativeBreaker;
use crate::options::millis;
use crate::wire::transition_code;

#[napi]
impl NativeBreaker {
    /// Forced open because the fleet opened (reason `remote`): for `forMs` if given (then it
    /// probes on its own, as when Redis is gone), else until the fleet says otherwise. Forcing a
    /// forced-open breaker again moves its deadline. Returns the transition code.
    #[napi(catch_unwind)]
    pub fn remote_open(&self, env: Env, for_ms: Option<f64>) -> napi::Result<f64> {
        let deadline = match for_ms {
            Some(ms) => {
                let wait = millis("remoteOpen duration", ms).map_err(|e| e.throw(&env))?;
                let now = self.inner.clock().now_nanos();
                Some(now.saturating_add(wait.as_nanos().min(u64::MAX as u128) as u64))
            }
            None => None,
        };
        Ok(transition_code(self.inner.force_open_until(deadline, Reason::Remote)))
    }

    /// Open or forced open -> half-open now because this instance holds the fleet's probe lease
    /// (reason `remote`). Returns the transition code (0: not moved).
    #[napi(catch_unwind)]
    pub fn remote_half_open(&self) -> f64 {
        transition_code(self.inner.half_open(Reason::Remote))
    }

    /// Closed because the fleet closed (reason `remote`). Returns the transition code.
    #[napi(catch_unwind)]
    pub fn remote_close(&self) -> f64 {
        transition_code(self.inner.close_remote())
    }
}
