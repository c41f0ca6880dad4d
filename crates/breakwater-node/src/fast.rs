//! The hot path without napi-rs's per-call glue: native functions bound to one handle of a
//! breaker, made with `napi_create_function`, whose callback data is the handle itself. A call
//! does one `napi_get_cb_info`, reads its numbers and returns one; there is no `this` to unwrap.
//! And the views of native memory a handle reads (the state word) and writes (its caller's count
//! of calls started), so a closed breaker lets a call through without any native call.

use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::rc::Rc;

use napi::bindgen_prelude::ToNapiValue;
use napi::sys;

use crate::Handle;

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

fn check(status: sys::napi_status) -> napi::Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(napi::Error::new(
            napi::Status::GenericFailure,
            format!("N-API call failed with status {status}"),
        ))
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
        answer(env, catch_unwind(AssertUnwindSafe(|| crate::acquire(handle))))
    }
}

unsafe extern "C" fn record_callback(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: Node calls this with the callback's own `env` and `info`.
    unsafe {
        let (handle, [permit, outcome, elapsed_ms]) = arguments::<3>(env, info);
        answer(
            env,
            catch_unwind(AssertUnwindSafe(|| crate::record(handle, permit, outcome, elapsed_ms))),
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

/// An external ArrayBuffer over native memory of a handle (see `NativeBreaker::state_view`).
pub struct View(sys::napi_value);

impl ToNapiValue for View {
    unsafe fn to_napi_value(_env: sys::napi_env, view: Self) -> napi::Result<sys::napi_value> {
        Ok(view.0)
    }
}

/// An ArrayBuffer over the state word of `handle`'s breaker (read it, never write it).
pub(crate) fn state_view(env: &napi::Env, handle: &Rc<Handle>) -> napi::Result<View> {
    view(env, handle, handle.breaker.state_word() as *const _ as *mut c_void, 8)
}

/// An ArrayBuffer over the count of calls started of `handle`'s caller, which only this thread
/// writes: 1 is added (wrapping) for each call let through on the state word.
pub(crate) fn started_view(env: &napi::Env, handle: &Rc<Handle>) -> napi::Result<View> {
    view(env, handle, handle.caller().started() as *const _ as *mut c_void, 4)
}

/// An external ArrayBuffer over `len` bytes at `memory`, inside an allocation `handle` keeps
/// alive: the buffer holds a reference to the handle that its finalizer releases.
fn view(env: &napi::Env, handle: &Rc<Handle>, memory: *mut c_void, len: usize) -> napi::Result<View> {
    let data = Rc::into_raw(handle.clone()) as *mut c_void;
    let mut value = ptr::null_mut();
    // SAFETY: `env.raw()` is the live environment of this call. `memory` points at `len` bytes
    // inside the breaker's or the caller's allocation, both alive while the handle is: `data` is
    // a leaked `Rc<Handle>`, passed as the finalize hint, that only `release_hint` frees, once,
    // when the buffer is finalized (by the collector, or when the thread's environment ends).
    // The state word is only read by JavaScript and changed atomically by the core; an aligned
    // 32-bit read of it cannot tear (a stale read gives a permit the core counts as stale). The
    // started count is written by this thread only, JavaScript or native, one after the other.
    let created =
        unsafe { sys::napi_create_external_arraybuffer(env.raw(), memory, len, Some(release_hint), data, &mut value) };
    if let Err(e) = check(created) {
        // SAFETY: the buffer was not made, so its finalizer will never run: release here, once.
        drop(unsafe { Rc::from_raw(data as *const Handle) });
        return Err(e);
    }
    Ok(View(value))
}

unsafe extern "C" fn release_hint(_env: sys::napi_env, _memory: *mut c_void, hint: *mut c_void) {
    // SAFETY: an external buffer's finalizer gets the buffer's memory first and the hint second;
    // the hint is the `Rc<Handle>` leaked in `view`, and Node calls this once.
    drop(unsafe { Rc::from_raw(hint as *const Handle) });
}
