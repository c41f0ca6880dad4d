//! The views of native memory a handle reads (the breaker's state word) and writes (its
//! caller's lane: calls started, successes), so a closed breaker lets a call through, and
//! takes its success, without any native call. The word's bits the facade reads are described in `wire`.

use std::ffi::c_void;
use std::ptr;
use std::rc::Rc;

use napi::bindgen_prelude::ToNapiValue;
use napi::sys;

use crate::handle::Handle;

/// An N-API status as a result.
pub(crate) fn check(status: sys::napi_status) -> napi::Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(napi::Error::new(
            napi::Status::GenericFailure,
            format!("N-API call failed with status {status}"),
        ))
    }
}

/// An external ArrayBuffer over native memory of a handle (see `NativeBreaker::state_view`).
pub struct View(sys::napi_value);

impl View {
    /// A view made elsewhere (the call settings of `configure`).
    pub(crate) fn from_raw(value: sys::napi_value) -> View {
        View(value)
    }
}

impl ToNapiValue for View {
    unsafe fn to_napi_value(_env: sys::napi_env, view: Self) -> napi::Result<sys::napi_value> {
        Ok(view.0)
    }
}

/// An ArrayBuffer over the state word of `handle`'s breaker (read it, never write it).
pub(crate) fn state_view(env: &napi::Env, handle: &Rc<Handle>) -> napi::Result<View> {
    view(env, handle, handle.breaker.state_word() as *const _ as *mut c_void, 8)
}

/// An ArrayBuffer over the lane of `handle`'s caller (`breakwater::Lane`: calls started and
/// successes reported, which only this thread writes, then the core's flag saying whether it
/// takes successes so): 1 is added (wrapping) to the first for each call let through on the
/// state word, and to the second for each such call's success reported without a call.
pub(crate) fn started_view(env: &napi::Env, handle: &Rc<Handle>) -> napi::Result<View> {
    let lane = handle.caller().lane();
    view(
        env,
        handle,
        lane as *const _ as *mut c_void,
        std::mem::size_of_val(lane),
    )
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
    // lane's counts are written by this thread only, JavaScript or native, one after the other;
    // its flag by the core.
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
