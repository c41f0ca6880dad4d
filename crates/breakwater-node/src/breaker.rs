//! `NativeBreaker`: one JavaScript handle of a breaker. Its numbers are packed by `wire`.

use std::cell::Cell;
use std::ffi::c_void;
use std::ptr;
use std::rc::Rc;
use std::sync::Arc;

use breakwater::{Breaker, Reason};
use napi::__private::___CALL_FROM_FACTORY;
use napi::bindgen_prelude::{get_class_constructor, tag_object, Float64Array, ToNapiValue, TypeTag};
use napi::{sys, Env};
use napi_derive::napi;

use crate::handle::Handle;
use crate::isolation::NativeIsolation;
use crate::options::millis;
use crate::state_view::check;
use crate::wire::transition_code;
use crate::{bound, metrics, state_view};

/// A breaker of the process-wide (or a private) registry, as one handle sees it.
#[napi]
pub struct NativeBreaker {
    handle: Rc<Handle>,
    pub(crate) inner: Arc<Breaker>,
    /// The handle's slot in this thread's table of the shared hot-path functions, once asked.
    slot: Cell<Option<u32>>,
}

impl NativeBreaker {
    pub(crate) fn new(breaker: Arc<Breaker>) -> NativeBreaker {
        NativeBreaker {
            handle: Handle::new(breaker.clone()),
            inner: breaker,
            slot: Cell::new(None),
        }
    }

    /// The breaker itself, for the other `#[napi] impl` blocks of this class.
    pub(crate) fn breaker(&self) -> &Arc<Breaker> {
        &self.inner
    }
}

/// A new [`NativeBreaker`] on its way to JavaScript, wrapped with less than napi-rs's class glue
/// spends: that glue also files every instance in a per-thread map and a shared cell (about 75
/// bytes a breaker) for `Reference`s and finalize callbacks that no breaker uses. The object
/// is the same: made by the class's constructor, tagged with the class's type tag (which every
/// method checks), and its native half freed by a finalizer when the collector takes it.
pub struct NewBreaker(pub(crate) NativeBreaker);

impl ToNapiValue for NewBreaker {
    unsafe fn to_napi_value(env: sys::napi_env, made: Self) -> napi::Result<sys::napi_value> {
        let ctor_ref = get_class_constructor("NativeBreaker\0")
            .ok_or_else(|| napi::Error::from_reason("the NativeBreaker class is not registered"))?;
        let mut ctor = ptr::null_mut();
        let mut object = ptr::null_mut();
        // SAFETY: `env` is the live environment of the current call; the constructor is the
        // class's own, which makes an empty instance while `___CALL_FROM_FACTORY` is set (as
        // napi-rs's own factories do), reset right after.
        unsafe {
            check(sys::napi_get_reference_value(env, ctor_ref, &mut ctor))?;
            ___CALL_FROM_FACTORY.with(|f| f.set(true));
            let status = sys::napi_new_instance(env, ctor, 0, ptr::null_mut(), &mut object);
            ___CALL_FROM_FACTORY.with(|f| f.set(false));
            check(status)?;
        }
        let native = Box::into_raw(Box::new(made.0)).cast::<c_void>();
        // SAFETY: `object` was just made and holds no wrap; `native` is a live, leaked box that
        // the finalizer frees once (a failed wrap never calls it: freed here instead).
        unsafe {
            if let Err(e) = check(sys::napi_wrap(
                env,
                object,
                native,
                Some(free_breaker),
                ptr::null_mut(),
                ptr::null_mut(),
            )) {
                drop(Box::from_raw(native.cast::<NativeBreaker>()));
                return Err(e);
            }
            // A failed tag leaves a wrapped object that no method accepts; the finalizer still frees it.
            tag_object(env, object, &<NativeBreaker as TypeTag>::type_tag())?;
        }
        Ok(object)
    }
}

unsafe extern "C" fn free_breaker(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    // SAFETY: `data` is the box leaked in `NewBreaker::to_napi_value`; Node calls this once.
    drop(unsafe { Box::from_raw(data.cast::<NativeBreaker>()) });
}

impl Drop for NativeBreaker {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.get() {
            bound::vacate(slot);
        }
    }
}

/// This thread's hot-path functions, shared by every breaker handle of the thread, each taking
/// the handle's `slot` first: `[acquire(slot), record(slot, permit, outcome, elapsedMs),
/// permitted(slot)]`, with the answers of `tryAcquire`, `record` and `isCallPermitted`. One set
/// per thread instead of one per handle (`boundFunctions`) keeps a breaker small.
#[napi(
    catch_unwind,
    ts_return_type = "[(slot: number) => number, (slot: number, permit: number, outcome: number, elapsedMs: number) => number, (slot: number) => boolean]"
)]
pub fn thread_functions(env: Env) -> napi::Result<bound::BoundPair> {
    bound::thread_functions(&env)
}

#[napi]
impl NativeBreaker {
    /// Asks to make a call. `>= 0`: a permit, with the transition the acquire made (to half-open);
    /// `< 0`: refused, with the state, the time to wait and any transition. Packed as
    /// `crates/breakwater-node/src/wire.rs` says, unpacked by `src/wire.ts`.
    #[napi(catch_unwind)]
    pub fn try_acquire(&self) -> f64 {
        bound::acquire(&self.handle)
    }

    /// Reports a call: outcome 0 success, 1 failure, 2 timeout, 3 ignored; `elapsedMs` may be
    /// fractional. Returns the transition code it caused (0: none; see `wire.rs`). Out-of-range input is
    /// absorbed: an unknown permit counts as stale, an unknown outcome as ignored.
    #[napi(catch_unwind)]
    pub fn record(&self, permit: f64, outcome: f64, elapsed_ms: f64) -> f64 {
        bound::record(&self.handle, permit, outcome, elapsed_ms)
    }

    /// The hot path as functions bound to this breaker, `[acquire, record, permitted]`, with the
    /// signatures of `tryAcquire`, `record` and `isCallPermitted`: they skip the method dispatch,
    /// which is most of a method call's cost (`bench/native-calls.mjs`).
    #[napi(
        catch_unwind,
        ts_return_type = "[() => number, (permit: number, outcome: number, elapsedMs: number) => number, () => boolean]"
    )]
    pub fn bound_functions(&self, env: napi::Env) -> napi::Result<bound::BoundPair> {
        bound::bind(&env, &self.handle)
    }

    /// The breaker's state word as an 8-byte ArrayBuffer over the native memory (read it, never
    /// write it): a closed breaker lets a call through without a native call. Its low 32 bits
    /// (little-endian) hold the state and, when closed, a permit for `record` (`WORD_STATE_MASK`
    /// and `WORD_PERMIT_BITS` of `wire.rs`), once the call is counted in `startedView`. The
    /// buffer keeps the breaker alive.
    #[napi(catch_unwind, ts_return_type = "ArrayBuffer")]
    pub fn state_view(&self, env: napi::Env) -> napi::Result<state_view::View> {
        state_view::state_view(&env, &self.handle)
    }

    /// This handle's lane, as a 12-byte ArrayBuffer of three little-endian `u32`s: calls started
    /// and successes reported (only this thread writes them), then 1 if the breaker takes
    /// successes through the lane (else 0). Add 1 (wrapping) to the first for each call let
    /// through on the state word, before the call runs, so metrics count it in flight until it
    /// is reported; when it succeeds, the flag is 1 and the state word still gives its permit,
    /// add 1 to the second instead of calling `record`: the core folds it in before it judges a
    /// failure and before every read.
    #[napi(catch_unwind, ts_return_type = "ArrayBuffer")]
    pub fn started_view(&self, env: napi::Env) -> napi::Result<state_view::View> {
        state_view::started_view(&env, &self.handle)
    }

    /// This handle's slot for the functions of `threadFunctions()`, in this thread: valid while
    /// this handle lives.
    #[napi(getter, catch_unwind)]
    pub fn slot(&self) -> u32 {
        match self.slot.get() {
            Some(slot) => slot,
            None => {
                let slot = bound::occupy(&self.handle);
                self.slot.set(Some(slot));
                slot
            }
        }
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
