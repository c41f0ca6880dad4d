//! What one JavaScript handle of a breaker holds natively; its functions and views share it.

use std::cell::OnceCell;
use std::rc::Rc;
use std::sync::Arc;

use breakwater::{Breaker, Caller};

/// What one JavaScript handle holds of its breaker: the breaker, and the handle's caller (made
/// on its first call), which counts the calls the handle lets through so metrics see them while
/// they run, and holds the half-open probes it took until they are reported. The handle's
/// functions and views each hold it (one caller for all of them: a probe is reported through the
/// handle that took it); the last of them to be finalized (at the latest when the thread's
/// environment ends, as when a worker is terminated mid-call) drops the caller, whose unreported
/// calls then count as ignored, its probes freeing their slots at once. None of its functions
/// is left to report after that.
///
/// The caller is boxed apart (one word here, 48 bytes in its box): every JavaScript breaker
/// holds a handle from its making (its slot in the thread's table), most of a large fleet are
/// never called, and those pay 48 bytes of malloc chunk for the handle instead of 80.
pub(crate) struct Handle {
    pub(crate) breaker: Arc<Breaker>,
    caller: OnceCell<Box<Caller>>,
}

impl Handle {
    pub(crate) fn new(breaker: Arc<Breaker>) -> Rc<Handle> {
        Rc::new(Handle {
            breaker,
            caller: OnceCell::new(),
        })
    }

    #[inline]
    pub(crate) fn caller(&self) -> &Caller {
        self.caller.get_or_init(|| Box::new(self.breaker.caller()))
    }
}
