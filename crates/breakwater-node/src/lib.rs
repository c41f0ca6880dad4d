//! Node.js binding of breakwater: glue only. The TypeScript facade in `src/` is the public API;
//! these classes are its native half. The hot path is two sync calls that return plain numbers.
#![deny(unsafe_op_in_unsafe_fn)]

mod bulkhead;
mod errors;
mod events;
mod fast;
mod isolation;
mod metrics;
mod options;
mod thread_permits;

use std::cell::OnceCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use breakwater::{Breaker, Caller, FakeClock, Outcome, Permit, Reason, Registry, State, Transition};
use napi::bindgen_prelude::{Float64Array, Function};
use napi::Env;
use napi_derive::napi;

use crate::errors::{js_string, throw_options_differ, Invalid};
use crate::events::NativeSubscription;
use crate::isolation::NativeIsolation;

use crate::options::{differences, millis, NativeOptions};

/// Permits are below 2^24; an acquire that also moved the breaker adds `2^24 * transition code`.
const TRANSITION_UNIT: f64 = 16_777_216.0;

/// A transition as one small number: `1 + from + 8 * to + 64 * reason` (0: none).
pub(crate) fn transition_code(t: Option<Transition>) -> f64 {
    t.map_or(0.0, |t| {
        f64::from(1 + t.from as u32 + 8 * t.to as u32 + 64 * reason_index(t.reason))
    })
}

fn reason_index(r: Reason) -> u32 {
    Reason::ALL.iter().position(|x| *x == r).unwrap_or(0) as u32
}

/// What one JavaScript handle holds of its breaker: the breaker, and the handle's caller (made
/// on its first call), which counts the calls the handle lets through so metrics see them while
/// they run, and holds the half-open probes it took until they are reported. The handle's
/// functions and views each hold it (one caller for all of them: a probe is reported through the
/// handle that took it); the last of them to be finalized (at the latest when the thread's
/// environment ends, as when a worker is terminated mid-call) drops the caller, whose unreported
/// calls then count as ignored, its probes freeing their slots at once. None of its functions
/// is left to report after that.
pub(crate) struct Handle {
    pub(crate) breaker: Arc<Breaker>,
    caller: OnceCell<Caller>,
}

impl Handle {
    fn new(breaker: Arc<Breaker>) -> Rc<Handle> {
        Rc::new(Handle {
            breaker,
            caller: OnceCell::new(),
        })
    }

    pub(crate) fn caller(&self) -> &Caller {
        self.caller.get_or_init(|| self.breaker.caller())
    }
}

/// A breaker of the process-wide (or a private) registry, as one handle sees it.
#[napi]
pub struct NativeBreaker {
    handle: Rc<Handle>,
    inner: Arc<Breaker>,
}

impl NativeBreaker {
    fn new(breaker: Arc<Breaker>) -> NativeBreaker {
        NativeBreaker {
            handle: Handle::new(breaker.clone()),
            inner: breaker,
        }
    }
}

#[napi]
impl NativeBreaker {
    /// Asks to make a call. `>= 0`: a permit (plus `2^24 * transition` when the acquire moved the
    /// breaker to half-open). `< 0`: rejected, `-(1 + state + 8 * transition + 8192 * (retryAfterMs + 1))`
    /// with `retryAfterMs + 1 = 0` when there is no deadline.
    #[napi(catch_unwind)]
    pub fn try_acquire(&self) -> f64 {
        acquire(&self.handle)
    }

    /// Reports a call: outcome 0 success, 1 failure, 2 timeout, 3 ignored; `elapsedMs` may be
    /// fractional. Returns the transition code it caused (0: none). Out-of-range input is
    /// absorbed: an unknown permit counts as stale, an unknown outcome as ignored.
    #[napi(catch_unwind)]
    pub fn record(&self, permit: f64, outcome: f64, elapsed_ms: f64) -> f64 {
        record(&self.handle, permit, outcome, elapsed_ms)
    }

    /// The hot path as functions bound to this breaker, `[acquire, record, permitted]`, with the
    /// signatures of `tryAcquire`, `record` and `isCallPermitted`: they skip the method dispatch,
    /// which is most of a method call's cost (`bench/native-calls.mjs`).
    #[napi(
        catch_unwind,
        ts_return_type = "[() => number, (permit: number, outcome: number, elapsedMs: number) => number, () => boolean]"
    )]
    pub fn bound_functions(&self, env: napi::Env) -> napi::Result<fast::BoundPair> {
        fast::bind(&env, &self.handle)
    }

    /// The breaker's state word as an 8-byte ArrayBuffer over the native memory (read it, never
    /// write it): a closed breaker lets a call through without a native call. Its low 32 bits
    /// (little-endian) hold the state (bits 0..3); when closed, `2^24 + (low & 0xFFF807)` is a
    /// permit for `record`, once the call is counted in `startedView`. The buffer keeps the
    /// breaker alive.
    #[napi(catch_unwind, ts_return_type = "ArrayBuffer")]
    pub fn state_view(&self, env: napi::Env) -> napi::Result<fast::View> {
        fast::state_view(&env, &self.handle)
    }

    /// This handle's count of calls started, as a 4-byte ArrayBuffer (a little-endian `u32`)
    /// that only this thread writes: add 1 (wrapping) for each call let through on the state
    /// word, before the call runs, so metrics count it in flight until `record` reports it.
    #[napi(catch_unwind, ts_return_type = "ArrayBuffer")]
    pub fn started_view(&self, env: napi::Env) -> napi::Result<fast::View> {
        fast::started_view(&env, &self.handle)
    }

    /// The breaker's call timeout in milliseconds (its `timeout` option), if it has one.
    #[napi(getter, catch_unwind)]
    pub fn call_timeout_ms(&self) -> Option<f64> {
        self.inner.config().call_timeout.map(|d| d.as_secs_f64() * 1e3)
    }

    /// A number no other breaker of the process has (state changes name their breaker by it).
    #[napi(getter, catch_unwind)]
    pub fn id(&self) -> f64 {
        self.inner.id() as f64
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
    pub fn metrics(&self) -> Float64Array {
        metrics::record(&self.inner.metrics())
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
    pub fn force_open(&self, env: Env, for_ms: Option<f64>) -> napi::Result<f64> {
        let duration = for_ms
            .map(|ms| millis("forceOpen duration", ms))
            .transpose()
            .map_err(|e| e.throw(&env))?;
        Ok(transition_code(self.inner.force_open(duration)))
    }

    /// Forces the breaker open until every isolation taken is released (in any thread): the
    /// last release closes it, if nothing else changed it since. A thread that ends releases
    /// the isolations it took; one that is collected without a release does not.
    #[napi(catch_unwind)]
    pub fn isolate(&self) -> NativeIsolation {
        NativeIsolation::take(&self.inner)
    }

    /// Open or forced open -> half-open now (a health check passed); returns the transition code.
    #[napi(catch_unwind)]
    pub fn half_open(&self) -> f64 {
        transition_code(self.inner.half_open(Reason::HealthCheck))
    }

    /// Forced open for `forMs` because the dependency asked callers to wait (reason `retry_after`);
    /// an existing forced-open deadline is only ever moved later. Returns the transition code.
    #[napi(catch_unwind)]
    pub fn hold_off(&self, env: Env, for_ms: f64) -> napi::Result<f64> {
        let wait = millis("holdOff duration", for_ms).map_err(|e| e.throw(&env))?;
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

/// `tryAcquire`'s answer as one number (see its doc), counted in the handle's caller.
pub(crate) fn acquire(handle: &Handle) -> f64 {
    match handle.breaker.try_acquire_as(handle.caller()) {
        Ok(permit) => f64::from(permit.raw()) + TRANSITION_UNIT * transition_code(permit.transition()),
        Err(rejected) => {
            let retry = rejected.retry_after.map_or(0.0, |d| (d.as_millis() as f64) + 1.0);
            -(1.0 + f64::from(rejected.state as u32) + 8.0 * transition_code(rejected.transition) + 8192.0 * retry)
        }
    }
}

/// `record` on plain numbers, for a call the handle let through (by `tryAcquire`, or on the
/// state word, counted in its `startedView`); anything out of range is absorbed: an unknown
/// permit counts as stale, an outcome other than 0, 1 or 2 (NaN included) as ignored. Permits
/// made from the state word carry `2^24` on top of the word's bits.
pub(crate) fn record(handle: &Handle, permit: f64, outcome: f64, elapsed_ms: f64) -> f64 {
    let outcome = match outcome {
        0.0 => Outcome::Success,
        1.0 => Outcome::Failure,
        2.0 => Outcome::Timeout,
        _ => Outcome::Ignored,
    };
    let permit = Permit::from_raw(permit_bits(permit));
    let elapsed = if elapsed_ms.is_finite() && elapsed_ms > 0.0 {
        Duration::from_secs_f64((elapsed_ms / 1e3).min(1e9))
    } else {
        Duration::ZERO
    };
    transition_code(handle.breaker.record_as(handle.caller(), permit, outcome, elapsed))
}

/// The permit in a number `record` was given: its bits below `2^24`. In integers, because a
/// float remainder is a libm call, a tenth of a report's native instructions. `as u64` saturates
/// (NaN and negatives give 0); truncating before the remainder gives the same bits as after it
/// below 2^64, and above it an unknown permit either way.
fn permit_bits(permit: f64) -> u32 {
    (permit as u64 % TRANSITION_UNIT as u64) as u32
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

/// Breakers by name.
#[napi]
pub struct NativeRegistry {
    inner: RegistryRef,
}

#[derive(Clone)]
pub(crate) enum RegistryRef {
    Global,
    Own(Arc<Registry>),
}

impl RegistryRef {
    pub(crate) fn get(&self) -> &Registry {
        match self {
            RegistryRef::Global => Registry::global(),
            RegistryRef::Own(r) => r,
        }
    }
}

impl NativeRegistry {
    fn get_ref(&self) -> &Registry {
        self.inner.get()
    }
}

/// Every breaker's metrics: `names[i]`'s record is `records[i * len .. (i + 1) * len]`, where len
/// is the length of one record (`metricFields()` and the transition counts).
#[napi(object)]
pub struct NativeHealth {
    /// The names, sorted.
    pub names: Vec<String>,
    /// The records, one after the other.
    pub records: Float64Array,
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

    /// The breaker called `name`, created with `options` (or the defaults) if missing. Options
    /// are always checked; when given for a breaker that exists with other options, throws an
    /// `Error` with code `ERR_BREAKWATER_OPTIONS_DIFFER` naming each option that differs with
    /// both values. Without options, the existing breaker is returned as it is.
    #[napi(catch_unwind)]
    pub fn get_or_create(&self, env: Env, name: String, options: Option<NativeOptions>) -> napi::Result<NativeBreaker> {
        let given = options.map(|o| o.to_config()).transpose().map_err(|e| e.throw(&env))?;
        let config = given.clone().unwrap_or_default();
        let breaker = self
            .get_ref()
            .get_or_create(&name, config)
            .map_err(|e| Invalid::from(e).throw(&env))?;
        if let Some(given) = given {
            let differ = differences(breaker.config(), &given);
            if !differ.is_empty() {
                let message = format!(
                    "breaker {} exists with other options: {}; give the same options, or none to use it as it is",
                    js_string(&name),
                    differ.join("; ")
                );
                return Err(throw_options_differ(&env, &message));
            }
        }
        Ok(NativeBreaker::new(breaker))
    }

    /// The breaker called `name`, if any.
    #[napi(catch_unwind)]
    pub fn get(&self, name: String) -> Option<NativeBreaker> {
        self.get_ref().get(&name).map(NativeBreaker::new)
    }

    /// Removes the breaker called `name`; its id, if there was one.
    #[napi(catch_unwind)]
    pub fn remove(&self, name: String) -> Option<f64> {
        self.get_ref().remove(&name).map(|b| b.id() as f64)
    }

    /// Every name, sorted.
    #[napi(catch_unwind)]
    pub fn names(&self) -> Vec<String> {
        self.get_ref().names()
    }

    /// Subscribes this thread to every transition of the registry's breakers, made in any
    /// thread: `wake()` is called (without keeping the thread alive) when events wait, which
    /// the subscription's `drain()` returns.
    #[napi(catch_unwind)]
    pub fn subscribe(&self, wake: Function<(), ()>) -> napi::Result<NativeSubscription> {
        NativeSubscription::new(self.inner.clone(), wake)
    }

    /// Every breaker's metrics, sorted by name, as one array of records.
    #[napi(catch_unwind)]
    pub fn health(&self) -> NativeHealth {
        let snapshot = self.get_ref().snapshot();
        let mut records = Vec::with_capacity(snapshot.len() * metrics::RECORD_LEN);
        let mut names = Vec::with_capacity(snapshot.len());
        for (name, m) in snapshot {
            metrics::pack(&m, &mut records);
            names.push(name);
        }
        NativeHealth {
            names,
            records: Float64Array::new(records),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permit_bits_match_the_float_remainder_they_replace() {
        let edges = [
            0.0,
            1.0,
            2.5,
            16_777_215.0,
            16_777_216.0,
            16_777_218.9,
            2f64.powi(53),
            2f64.powi(63),
        ];
        let odd = [-1.0, -0.0, f64::NAN, f64::NEG_INFINITY];
        for n in edges
            .into_iter()
            .chain(edges.map(|e| e + 3.0 * TRANSITION_UNIT))
            .chain(odd)
        {
            assert_eq!(permit_bits(n), (n.max(0.0) % TRANSITION_UNIT) as u32, "{n}");
        }
        assert!(permit_bits(f64::INFINITY) < 1 << 24 && permit_bits(1e300) < 1 << 24);
    }
}
