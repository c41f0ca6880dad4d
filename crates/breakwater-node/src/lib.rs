//! Node.js binding of breakwater: glue only. The TypeScript facade in `src/` is the public API;
//! these classes are its native half. The hot path is two sync calls that return plain numbers.
#![deny(unsafe_op_in_unsafe_fn)]

mod bulkhead;
mod errors;
mod fast;
mod metrics;
mod options;
mod thread_permits;

use std::sync::Arc;
use std::time::Duration;

use breakwater::{Breaker, FakeClock, Outcome, Permit, Reason, Registry, State, Transition};
use napi_derive::napi;

use crate::errors::config_error;
use crate::metrics::NativeMetrics;
use crate::options::{millis, NativeOptions};

/// Permits are below 2^24; an acquire that also moved the breaker adds `2^24 * transition code`.
const TRANSITION_UNIT: f64 = 16_777_216.0;

/// A transition as one small number: `1 + from + 8 * to + 64 * reason` (0: none).
fn transition_code(t: Option<Transition>) -> f64 {
    t.map_or(0.0, |t| {
        f64::from(1 + t.from as u32 + 8 * t.to as u32 + 64 * reason_index(t.reason))
    })
}

fn reason_index(r: Reason) -> u32 {
    Reason::ALL.iter().position(|x| *x == r).unwrap_or(0) as u32
}

/// A breaker of the process-wide (or a private) registry.
#[napi]
pub struct NativeBreaker {
    inner: Arc<Breaker>,
}

#[napi]
impl NativeBreaker {
    /// Asks to make a call. `>= 0`: a permit (plus `2^24 * transition` when the acquire moved the
    /// breaker to half-open). `< 0`: rejected, `-(1 + state + 8 * transition + 8192 * (retryAfterMs + 1))`
    /// with `retryAfterMs + 1 = 0` when there is no deadline.
    #[napi(catch_unwind)]
    pub fn try_acquire(&self) -> f64 {
        acquire(&self.inner)
    }

    /// Reports a call: outcome 0 success, 1 failure, 2 timeout, 3 ignored; `elapsedMs` may be
    /// fractional. Returns the transition code it caused (0: none). Out-of-range input is
    /// absorbed: an unknown permit counts as stale, an unknown outcome as ignored.
    #[napi(catch_unwind)]
    pub fn record(&self, permit: f64, outcome: f64, elapsed_ms: f64) -> f64 {
        record(&self.inner, permit, outcome, elapsed_ms)
    }

    /// The hot path as functions bound to this breaker, `[acquire, record, permitted]`, with the
    /// signatures of `tryAcquire`, `record` and `isCallPermitted`: they skip the method dispatch,
    /// which is most of a method call's cost (`bench/native-calls.mjs`).
    #[napi(
        catch_unwind,
        ts_return_type = "[() => number, (permit: number, outcome: number, elapsedMs: number) => number, () => boolean]"
    )]
    pub fn bound_functions(&self, env: napi::Env) -> napi::Result<fast::BoundPair> {
        fast::bind(&env, &self.inner)
    }

    /// The breaker's state word as an 8-byte ArrayBuffer over the native memory (read it, never
    /// write it): a closed breaker lets a call through without a native call. Its low 32 bits
    /// (little-endian) hold the state (bits 0..3); when closed, `2^24 + (low & 0xFFF807)` is a
    /// permit for `record`. The buffer keeps the breaker alive.
    #[napi(catch_unwind, ts_return_type = "ArrayBuffer")]
    pub fn state_view(&self, env: napi::Env) -> napi::Result<fast::StateView> {
        fast::state_view(&env, &self.inner)
    }

    /// The breaker's name.
    #[napi(getter, catch_unwind)]
    pub fn name(&self) -> String {
        self.inner.name().to_string()
    }

    /// Whether call durations matter to this breaker (slow-call or latency rule, latency tracking).
    #[napi(getter, catch_unwind)]
    pub fn uses_call_duration(&self) -> bool {
        self.inner.config().uses_call_duration()
    }

    /// The state: 0 closed, 1 open, 2 half-open, 3 forced open, 4 disabled.
    #[napi(getter, catch_unwind)]
    pub fn state(&self) -> u32 {
        self.inner.state() as u32
    }

    /// Whether a call would be permitted now, without taking a permit.
    #[napi(catch_unwind)]
    pub fn is_call_permitted(&self) -> bool {
        self.inner.is_call_permitted()
    }

    /// A metrics snapshot.
    #[napi(catch_unwind)]
    pub fn metrics(&self) -> NativeMetrics {
        NativeMetrics::from(self.inner.metrics())
    }

    /// Closes the breaker; returns the transition code.
    #[napi(catch_unwind)]
    pub fn reset(&self) -> f64 {
        transition_code(self.inner.reset())
    }

    /// Lets every call through; returns the transition code.
    #[napi(catch_unwind)]
    pub fn disable(&self) -> f64 {
        transition_code(self.inner.disable())
    }

    /// Refuses every call, for `forMs` if given; returns the transition code.
    #[napi(catch_unwind)]
    pub fn force_open(&self, for_ms: Option<f64>) -> napi::Result<f64> {
        let duration = for_ms.map(|ms| millis("forceOpen duration", ms)).transpose()?;
        Ok(transition_code(self.inner.force_open(duration)))
    }

    /// Open or forced open -> half-open now (a health check passed); returns the transition code.
    #[napi(catch_unwind)]
    pub fn half_open(&self) -> f64 {
        transition_code(self.inner.half_open(Reason::HealthCheck))
    }

    /// Forced open for `forMs` because the dependency asked callers to wait (reason `retry_after`);
    /// an existing forced-open deadline is only ever moved later. Returns the transition code.
    #[napi(catch_unwind)]
    pub fn hold_off(&self, for_ms: f64) -> napi::Result<f64> {
        let wait = millis("holdOff duration", for_ms)?;
        let deadline = self
            .inner
            .clock()
            .now_nanos()
            .saturating_add(wait.as_nanos().min(u64::MAX as u128) as u64);
        Ok(transition_code(self.inner.hold_off_until(deadline)))
    }

    /// Whether two handles are the same breaker.
    #[napi(catch_unwind)]
    pub fn is_same(&self, other: &NativeBreaker) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

/// `tryAcquire`'s answer as one number (see its doc).
pub(crate) fn acquire(breaker: &Breaker) -> f64 {
    match breaker.try_acquire() {
        Ok(permit) => f64::from(permit.raw()) + TRANSITION_UNIT * transition_code(permit.transition()),
        Err(rejected) => {
            let retry = rejected.retry_after.map_or(0.0, |d| (d.as_millis() as f64) + 1.0);
            -(1.0 + f64::from(rejected.state as u32) + 8.0 * transition_code(rejected.transition) + 8192.0 * retry)
        }
    }
}

/// `record` on plain numbers; anything out of range is absorbed (stale permit, ignored outcome).
/// A permit in `[2^24, 2^25)` is one JavaScript made from a closed state word: counted as acquired.
pub(crate) fn record(breaker: &Breaker, permit: f64, outcome: f64, elapsed_ms: f64) -> f64 {
    let outcome = match outcome as u32 {
        0 => Outcome::Success,
        1 => Outcome::Failure,
        2 => Outcome::Timeout,
        _ => Outcome::Ignored,
    };
    // Permits in [2^24, 2^25) were made in JavaScript from a closed state word (see `stateView`).
    let permit = permit.max(0.0);
    let unacquired = (TRANSITION_UNIT..2.0 * TRANSITION_UNIT).contains(&permit);
    let permit = Permit::from_raw((permit % TRANSITION_UNIT) as u32);
    let elapsed = if elapsed_ms.is_finite() && elapsed_ms > 0.0 {
        Duration::from_secs_f64((elapsed_ms / 1e3).min(1e9))
    } else {
        Duration::ZERO
    };
    transition_code(if unacquired {
        breaker.record_unacquired(permit, outcome, elapsed)
    } else {
        breaker.record(permit, outcome, elapsed)
    })
}

/// A clock for tests: breakers of a registry made with it move only when it is advanced.
#[napi]
pub struct NativeFakeClock {
    inner: FakeClock,
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

    /// Moves time forward.
    #[napi(catch_unwind)]
    pub fn advance(&self, ms: f64) -> napi::Result<()> {
        self.inner.advance(millis("advance", ms)?);
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

/// Breakers by name.
#[napi]
pub struct NativeRegistry {
    inner: RegistryRef,
}

enum RegistryRef {
    Global,
    Own(Arc<Registry>),
}

impl NativeRegistry {
    fn get_ref(&self) -> &Registry {
        match &self.inner {
            RegistryRef::Global => Registry::global(),
            RegistryRef::Own(r) => r,
        }
    }
}

/// One breaker's entry of a health view.
#[napi(object)]
pub struct NativeHealthEntry {
    /// The breaker's name.
    pub name: String,
    /// Its metrics.
    pub metrics: NativeMetrics,
}

#[napi]
impl NativeRegistry {
    /// A private registry, on the monotonic clock or on `clock`.
    #[napi(constructor, catch_unwind)]
    pub fn new(clock: Option<&NativeFakeClock>) -> Self {
        let registry = match clock {
            Some(c) => Registry::with_clock(Arc::new(c.inner.clone())),
            None => Registry::new(),
        };
        Self {
            inner: RegistryRef::Own(Arc::new(registry)),
        }
    }

    /// The process-wide registry, the same in every worker thread.
    #[napi(factory, catch_unwind)]
    pub fn global() -> Self {
        Self {
            inner: RegistryRef::Global,
        }
    }

    /// The breaker called `name`, created with `options` if missing.
    #[napi(catch_unwind)]
    pub fn get_or_create(&self, name: String, options: Option<NativeOptions>) -> napi::Result<NativeBreaker> {
        let config = options.unwrap_or_default().to_config()?;
        let inner = self.get_ref().get_or_create(&name, config).map_err(config_error)?;
        Ok(NativeBreaker { inner })
    }

    /// The breaker called `name`, if any.
    #[napi(catch_unwind)]
    pub fn get(&self, name: String) -> Option<NativeBreaker> {
        self.get_ref().get(&name).map(|inner| NativeBreaker { inner })
    }

    /// Removes the breaker called `name`; whether there was one.
    #[napi(catch_unwind)]
    pub fn remove(&self, name: String) -> bool {
        self.get_ref().remove(&name).is_some()
    }

    /// Every name, sorted.
    #[napi(catch_unwind)]
    pub fn names(&self) -> Vec<String> {
        self.get_ref().names()
    }

    /// Every breaker's metrics, sorted by name.
    #[napi(catch_unwind)]
    pub fn health(&self) -> Vec<NativeHealthEntry> {
        self.get_ref()
            .snapshot()
            .into_iter()
            .map(|(name, m)| NativeHealthEntry {
                name,
                metrics: NativeMetrics::from(m),
            })
            .collect()
    }
}

/// The state names, indexed by state number.
#[napi(catch_unwind)]
pub fn state_names() -> Vec<String> {
    State::ALL.iter().map(|s| s.as_str().to_string()).collect()
}

/// The reason names, indexed by the reason part of a transition code.
#[napi(catch_unwind)]
pub fn reason_names() -> Vec<String> {
    Reason::ALL.iter().map(|r| r.as_str().to_string()).collect()
}
