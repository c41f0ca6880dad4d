//! The hot path: `acquire` and `record` on plain numbers (packed by `wire`), as native functions
//! without napi-rs's per-call glue, made with `napi_create_function`. A call does one
//! `napi_get_cb_info`, reads its numbers and returns one; there is no `this` to unwrap.
//!
//! Two kinds: functions bound to one handle (their callback data is the handle), and one set per
//! thread shared by every handle of the thread, which passes its *slot* first: a number naming
//! the handle in this thread's table. A function object costs about half a kilobyte, so a
//! thread with 100,000 breakers makes three instead of 300,000.

use std::cell::RefCell;
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::rc::Rc;

use breakwater::Permit;
use napi::bindgen_prelude::ToNapiValue;
use napi::sys;

use crate::handle::Handle;
use crate::state_view::check;
use crate::wire;

/// `[acquire, record, permitted]`, as a JavaScript array.
pub struct BoundPair {
    acquire: sys::napi_value,
    record: sys::napi_value,
    permitted: sys::napi_value,
}

impl ToNapiValue for BoundPair {
    unsafe fn to_napi_value(env: sys::napi_env, pair: Self) -> napi::Result<sys::napi_value> {
        let mut array = ptr::null_mut();
        // SAFETY: `env` is the live environment of the current call (napi-rs passes it to us), and
        // both values were created in it during this same call.
        unsafe {
            check(sys::napi_create_array_with_length(env, 3, &mut array))?;
            check(sys::napi_set_element(env, array, 0, pair.acquire))?;
            check(sys::napi_set_element(env, array, 1, pair.record))?;
            check(sys::napi_set_element(env, array, 2, pair.permitted))?;
        }
        Ok(array)
    }
}

/// This thread's handles by slot (see the module's comment), and the free slots.
#[derive(Default)]
struct Slots {
    handles: Vec<Option<Rc<Handle>>>,
    free: Vec<u32>,
}

thread_local! {
    static SLOTS: RefCell<Slots> = RefCell::new(Slots::default());
}

/// Puts `handle` in this thread's table; its slot, until [`vacate`] frees it.
pub(crate) fn occupy(handle: &Rc<Handle>) -> u32 {
    SLOTS.with(|slots| {
        let mut slots = slots.borrow_mut();
        match slots.free.pop() {
            Some(slot) => {
                slots.handles[slot as usize] = Some(handle.clone());
                slot
            }
            None => {
                slots.handles.push(Some(handle.clone()));
                (slots.handles.len() - 1) as u32
            }
        }
    })
}

/// Frees `slot` (its handle's JavaScript object is gone). Nothing to do once the thread's table
/// is gone itself (the thread is ending).
pub(crate) fn vacate(slot: u32) {
    let _ = SLOTS.try_with(|slots| {
        // Never busy (no call made under a borrow reaches JavaScript or its collector); were it
        // so, keeping the entry beats a panic in a finalizer.
        let Ok(mut slots) = slots.try_borrow_mut() else {
            return;
        };
        if let Some(entry) = slots.handles.get_mut(slot as usize) {
            if entry.take().is_some() {
                slots.free.push(slot);
            }
        }
    });
}

/// Runs `work` on the handle in `slot`; `None` for a slot that holds none (never from the facade).
#[inline(always)]
fn with_slot<T>(slot: f64, work: impl FnOnce(&Handle) -> T) -> Option<T> {
    SLOTS.with(|slots| {
        // No call made under this borrow reaches JavaScript, so nothing can occupy or vacate a
        // slot meanwhile.
        let slots = slots.borrow();
        let handle = slots.handles.get(slot as usize)?.as_deref()?;
        Some(work(handle))
    })
}

/// This thread's shared functions, `[acquire(slot), record(slot, permit, outcome, elapsedMs),
/// permitted(slot)]`.
pub(crate) fn thread_functions(env: &napi::Env) -> napi::Result<BoundPair> {
    Ok(BoundPair {
        acquire: shared_function(env, c"acquire", slot_acquire_callback)?,
        record: shared_function(env, c"record", slot_record_callback)?,
        permitted: shared_function(env, c"permitted", slot_permitted_callback)?,
    })
}

fn shared_function(env: &napi::Env, name: &std::ffi::CStr, cb: Callback) -> napi::Result<sys::napi_value> {
    let mut value = ptr::null_mut();
    // SAFETY: `env.raw()` is the live environment of this call; `name` is a NUL-terminated
    // string that outlives the call; the function has no data.
    check(unsafe { sys::napi_create_function(env.raw(), name.as_ptr(), -1, Some(cb), ptr::null_mut(), &mut value) })?;
    Ok(value)
}

/// Reads up to `N` numeric arguments, missing or non-numeric ones as NaN.
///
/// # Safety
/// `env` and `info` must be the arguments Node passed to a callback.
unsafe fn numbers<const N: usize>(env: sys::napi_env, info: sys::napi_callback_info) -> [f64; N] {
    let mut argc = N;
    let mut argv = [ptr::null_mut(); N];
    let mut numbers = [f64::NAN; N];
    // SAFETY: per this function's contract; `argv` has room for `argc` values.
    unsafe {
        sys::napi_get_cb_info(
            env,
            info,
            &mut argc,
            argv.as_mut_ptr(),
            ptr::null_mut(),
            ptr::null_mut(),
        );
        for i in 0..argc.min(N) {
            sys::napi_get_value_double(env, argv[i], &mut numbers[i]);
        }
    }
    numbers
}

/// Throws for a slot that holds no handle.
///
/// # Safety
/// `env` must be the environment of the current callback.
unsafe fn no_such_slot(env: sys::napi_env) -> sys::napi_value {
    // SAFETY: per this function's contract.
    unsafe {
        sys::napi_throw_error(
            env,
            c"ERR_BREAKWATER_SLOT".as_ptr(),
            c"no breaker handle in this slot of this thread".as_ptr(),
        );
    }
    ptr::null_mut()
}

unsafe extern "C" fn slot_acquire_callback(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: Node calls this with the callback's own `env` and `info`.
    unsafe {
        let [slot] = numbers::<1>(env, info);
        match catch_unwind(AssertUnwindSafe(|| with_slot(slot, acquire))) {
            Ok(None) => no_such_slot(env),
            other => answer(env, other.map(Option::unwrap_or_default)),
        }
    }
}

unsafe extern "C" fn slot_record_callback(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: Node calls this with the callback's own `env` and `info`.
    unsafe {
        let [slot, permit, outcome, elapsed_ms] = numbers::<4>(env, info);
        let recorded = catch_unwind(AssertUnwindSafe(|| {
            with_slot(slot, |handle| record(handle, permit, outcome, elapsed_ms))
        }));
        match recorded {
            Ok(None) => no_such_slot(env),
            other => answer(env, other.map(Option::unwrap_or_default)),
        }
    }
}

unsafe extern "C" fn slot_permitted_callback(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: Node calls this with the callback's own `env` and `info`.
    unsafe {
        let [slot] = numbers::<1>(env, info);
        let permitted = catch_unwind(AssertUnwindSafe(|| {
            with_slot(slot, |handle| handle.breaker.is_call_permitted())
        }));
        match permitted {
            Ok(None) => no_such_slot(env),
            other => answer(env, other.map(Option::unwrap_or_default)),
        }
    }
}

/// Makes the functions for `handle`. Each holds its own reference to the handle, released when
/// the garbage collector finalizes the function (or the thread's environment ends).
pub(crate) fn bind(env: &napi::Env, handle: &Rc<Handle>) -> napi::Result<BoundPair> {
    Ok(BoundPair {
        acquire: function(env, c"acquire", acquire_callback, handle)?,
        record: function(env, c"record", record_callback, handle)?,
        permitted: function(env, c"permitted", permitted_callback, handle)?,
    })
}

type Callback = unsafe extern "C" fn(sys::napi_env, sys::napi_callback_info) -> sys::napi_value;

fn function(
    env: &napi::Env,
    name: &std::ffi::CStr,
    cb: Callback,
    handle: &Rc<Handle>,
) -> napi::Result<sys::napi_value> {
    let data = Rc::into_raw(handle.clone()) as *mut c_void;
    let mut value = ptr::null_mut();
    // SAFETY: `env.raw()` is the live environment of this call; `name` is a NUL-terminated string
    // that outlives the call; `data` is a leaked `Rc<Handle>` that only `release` frees, once,
    // when the function object is finalized.
    unsafe {
        let created = check(sys::napi_create_function(
            env.raw(),
            name.as_ptr(),
            -1,
            Some(cb),
            data,
            &mut value,
        ));
        let finalized = created.and_then(|()| {
            check(sys::napi_add_finalizer(
                env.raw(),
                value,
                data,
                Some(release),
                ptr::null_mut(),
                ptr::null_mut(),
            ))
        });
        if let Err(e) = finalized {
            drop(Rc::from_raw(data as *const Handle));
            return Err(e);
        }
    }
    Ok(value)
}

unsafe extern "C" fn release(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    // SAFETY: `data` is the `Rc<Handle>` leaked in `function`; Node calls this finalizer once.
    drop(unsafe { Rc::from_raw(data as *const Handle) });
}

/// Reads up to `N` numeric arguments (missing or non-numeric ones read as NaN) and the handle.
///
/// # Safety
/// `env` and `info` must be the arguments Node passed to a callback made by `function`.
unsafe fn arguments<const N: usize>(env: sys::napi_env, info: sys::napi_callback_info) -> (&'static Handle, [f64; N]) {
    let mut argc = N;
    let mut argv = [ptr::null_mut(); N];
    let mut data = ptr::null_mut();
    let mut numbers = [f64::NAN; N];
    // SAFETY: per this function's contract; `argv` has room for `argc` values, and `data` is the
    // `Rc<Handle>` pointer given at creation, alive for as long as the function object is.
    unsafe {
        sys::napi_get_cb_info(env, info, &mut argc, argv.as_mut_ptr(), ptr::null_mut(), &mut data);
        for i in 0..argc.min(N) {
            sys::napi_get_value_double(env, argv[i], &mut numbers[i]);
        }
        (&*(data as *const Handle), numbers)
    }
}

/// A result a callback can return to JavaScript.
trait ToJs {
    /// # Safety
    /// `env` must be the environment of the current callback.
    unsafe fn to_js(self, env: sys::napi_env, out: &mut sys::napi_value);
}

impl ToJs for f64 {
    unsafe fn to_js(self, env: sys::napi_env, out: &mut sys::napi_value) {
        // SAFETY: per the trait's contract.
        unsafe { sys::napi_create_double(env, self, out) };
    }
}

impl ToJs for bool {
    unsafe fn to_js(self, env: sys::napi_env, out: &mut sys::napi_value) {
        // SAFETY: per the trait's contract.
        unsafe { sys::napi_get_boolean(env, self, out) };
    }
}

/// Returns `value` to JavaScript, or throws if the work panicked (it never should).
///
/// # Safety
/// `env` must be the environment of the current callback.
unsafe fn answer<T: ToJs>(env: sys::napi_env, value: std::thread::Result<T>) -> sys::napi_value {
    let mut out = ptr::null_mut();
    // SAFETY: per this function's contract.
    unsafe {
        match value {
            Ok(v) => v.to_js(env, &mut out),
            Err(_) => {
                sys::napi_throw_error(
                    env,
                    c"ERR_BREAKWATER_PANIC".as_ptr(),
                    c"breakwater panicked; the call was not counted".as_ptr(),
                );
            }
        }
    }
    out
}

unsafe extern "C" fn acquire_callback(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: Node calls this with the callback's own `env` and `info`.
    unsafe {
        let (handle, []) = arguments::<0>(env, info);
        answer(env, catch_unwind(AssertUnwindSafe(|| acquire(handle))))
    }
}

unsafe extern "C" fn record_callback(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: Node calls this with the callback's own `env` and `info`.
    unsafe {
        let (handle, [permit, outcome, elapsed_ms]) = arguments::<3>(env, info);
        answer(
            env,
            catch_unwind(AssertUnwindSafe(|| record(handle, permit, outcome, elapsed_ms))),
        )
    }
}

unsafe extern "C" fn permitted_callback(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: Node calls this with the callback's own `env` and `info`.
    unsafe {
        let (handle, []) = arguments::<0>(env, info);
        answer(
            env,
            catch_unwind(AssertUnwindSafe(|| handle.breaker.is_call_permitted())),
        )
    }
}

/// `tryAcquire`'s answer as one number (`wire::permit_code` or `wire::refusal_code`), counted
/// in the handle's caller.
#[inline]
pub(crate) fn acquire(handle: &Handle) -> f64 {
    match handle.breaker.try_acquire_as(handle.caller()) {
        Ok(permit) => wire::permit_code(permit.raw(), permit.transition()),
        Err(rejected) => wire::refusal_code(rejected.state, rejected.retry_after, rejected.transition),
    }
}

/// `record` on plain numbers, for a call the handle let through (by `tryAcquire`, or on the
/// state word, counted in its `startedView`); anything out of range is absorbed: an unknown
/// permit counts as stale, an outcome other than 0, 1 or 2 (NaN included) as ignored. Permits
/// made from the state word carry `2^24` on top of the word's bits.
#[inline]
pub(crate) fn record(handle: &Handle, permit: f64, outcome: f64, elapsed_ms: f64) -> f64 {
    let permit = Permit::from_raw(wire::permit_bits(permit));
    let moved = handle.breaker.record_as(
        handle.caller(),
        permit,
        wire::outcome(outcome),
        wire::elapsed(elapsed_ms),
    );
    wire::transition_code(moved)
}
