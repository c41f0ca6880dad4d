//! The bulkhead's binding: permits are plain numbers; a queued caller is woken through a
//! thread-safe function of the thread that queued it, whichever thread releases the permit, and
//! claims its permit from this handle's share, which gives back everything the thread owns when
//! the thread ends (`thread_permits`) or the handle is finalized.

use std::sync::Arc;

use breakwater::{Admission, Bulkhead, BulkheadShare, BulkheadStats};
use napi::bindgen_prelude::Function;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, Status};
use napi_derive::napi;

use crate::errors::config_error;
use crate::options::count;
use crate::thread_permits;

/// Called with the ticket in the queuing thread, which then claims its permit.
type WakeFn = ThreadsafeFunction<f64, (), f64, Status, false, true>;

/// This thread's handle of a process-wide bulkhead.
#[napi]
pub struct NativeBulkhead {
    share: Arc<BulkheadShare>,
    wake: Option<Arc<WakeFn>>,
}

/// A bulkhead's use.
#[napi(object)]
pub struct NativeBulkheadStats {
    /// Permits in all.
    pub max_concurrent: u32,
    /// The longest the queue may be.
    pub max_queue: u32,
    /// Permits held now, by every thread.
    pub in_use: u32,
    /// Callers waiting now, in every thread.
    pub queued: u32,
    /// Permits handed out.
    pub admitted: f64,
    /// Callers refused with every permit taken and the queue full.
    pub rejected: f64,
    /// Queued callers that gave up.
    pub cancelled: f64,
}

impl From<BulkheadStats> for NativeBulkheadStats {
    fn from(s: BulkheadStats) -> Self {
        Self {
            max_concurrent: s.max_concurrent,
            max_queue: s.max_queue,
            in_use: s.in_use,
            queued: s.queued,
            admitted: s.admitted as f64,
            rejected: s.rejected as f64,
            cancelled: s.cancelled as f64,
        }
    }
}

#[napi]
impl NativeBulkhead {
    /// The process-wide bulkhead called `name`, created with these limits if there is none.
    #[napi(factory, catch_unwind)]
    pub fn named(name: String, max_concurrent: f64, max_queue: f64) -> napi::Result<Self> {
        let max_concurrent = count("maxConcurrent", max_concurrent)?;
        let max_queue = count("maxQueue", max_queue)?;
        let inner = Bulkhead::named(&name, max_concurrent, max_queue).map_err(config_error)?;
        let share = BulkheadShare::new(inner);
        thread_permits::adopt(&share);
        Ok(Self { share, wake: None })
    }

    /// Forgets the process-wide bulkhead called `name`; handles keep working.
    #[napi(catch_unwind)]
    pub fn remove(name: String) -> bool {
        Bulkhead::remove_named(&name)
    }

    /// Sets the function a queued caller of this handle is woken with, `(ticket)`; it then
    /// claims its permit with `claim(ticket)`. It does not keep the thread alive until
    /// `holdWake(true)`.
    #[napi(catch_unwind)]
    pub fn on_wake(&mut self, callback: Function<f64, ()>) -> napi::Result<()> {
        let wake = callback
            .build_threadsafe_function::<f64>()
            .callee_handled::<false>()
            .weak::<true>()
            .build()?;
        self.wake = Some(Arc::new(wake));
        Ok(())
    }

    /// Whether the wake function keeps this thread alive: the facade holds it while it has
    /// callers queued, like any pending I/O, and lets go when the last is served.
    #[napi(catch_unwind)]
    pub fn hold_wake(&self, env: Env, hold: bool) -> napi::Result<()> {
        let Some(wake) = self.wake.as_ref().filter(|w| !w.aborted()) else {
            return Ok(());
        };
        // Queued callers' wake closures share the function, so napi-rs's `&mut` refer/unref
        // cannot be reached; the raw calls do the same.
        // SAFETY: we are on the JS thread that created the function (methods of this handle run
        // only there), and it is alive: `self.wake` holds it and it has not been aborted.
        let status = unsafe {
            if hold {
                napi::sys::napi_ref_threadsafe_function(env.raw(), wake.raw())
            } else {
                napi::sys::napi_unref_threadsafe_function(env.raw(), wake.raw())
            }
        };
        napi::check_status!(status, "holdWake failed")
    }

    /// A permit (`>= 0`) if one is free and nobody queues, else -1.
    #[napi(catch_unwind)]
    pub fn try_acquire(&self) -> f64 {
        self.share.try_acquire().map_or(-1.0, |p| p as f64)
    }

    /// A permit now (`>= 0`); -1 when full; `-(2 + ticket)` when queued at `priority`: the wake
    /// function is then called with the ticket, and `claim(ticket)` gives the permit.
    #[napi(catch_unwind)]
    pub fn acquire_or_queue(&self, priority: f64) -> napi::Result<f64> {
        let Some(wake) = self.wake.clone() else {
            return Err(napi::Error::from_reason("onWake must be set before a call can queue"));
        };
        let priority = priority.clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32;
        // `false` (the permit goes on to the next caller) when the thread is being torn down.
        let notify = move |ticket: u64| wake.call(ticket as f64, ThreadsafeFunctionCallMode::NonBlocking) == Status::Ok;
        Ok(match self.share.acquire_or_queue(priority, notify) {
            Admission::Now(permit) => permit as f64,
            Admission::Full => -1.0,
            Admission::Queued(ticket) => -(2.0 + ticket as f64),
        })
    }

    /// The permit handed to queued caller `ticket`, now held by this thread; -1 if there is none.
    #[napi(catch_unwind)]
    pub fn claim(&self, ticket: f64) -> f64 {
        if ticket < 0.0 {
            return -1.0;
        }
        self.share.claim(ticket as u64).map_or(-1.0, |p| p as f64)
    }

    /// Gives back a permit this handle holds; `false` for any other.
    #[napi(catch_unwind)]
    pub fn release(&self, permit: f64) -> bool {
        permit >= 0.0 && self.share.release(permit as u64)
    }

    /// Takes a queued caller out for good (a permit already on its way to it goes to the next
    /// caller); `false` if the ticket is not waiting in this handle.
    #[napi(catch_unwind)]
    pub fn cancel(&self, ticket: f64) -> bool {
        ticket >= 0.0 && self.share.cancel(ticket as u64)
    }

    /// Use and totals, process-wide.
    #[napi(catch_unwind)]
    pub fn stats(&self) -> NativeBulkheadStats {
        self.share.bulkhead().stats().into()
    }
}
