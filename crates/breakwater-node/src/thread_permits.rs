//! The lanes of each JavaScript thread (a lane is what one thread's handle owns of a bulkhead: its
//! queued callers, the permits handed to them, the permits it holds). When the thread ends (a
//! worker terminated mid-call, or one that ran out of work while holding permits), its
//! thread-local destructor closes them, and everything they owned comes back.
//!
//! Closing at thread end is one of two ways back: a handle finalized when the thread's
//! environment is torn down drops its lane, which closes it too. Whichever comes first gives the
//! permits back (the lane's lock decides), so a permit handed to a thread that is gone is neither
//! lost nor given back twice. A wake queued to such a thread is never run, and napi-rs leaks (does
//! not drop) its data then: nothing can rely on a destructor of the wake itself.

use std::cell::RefCell;
use std::sync::{Arc, Weak};

use breakwater::Lane;

#[derive(Default)]
struct ThreadLanes(Vec<Weak<Lane>>);

impl Drop for ThreadLanes {
    fn drop(&mut self) {
        for lane in self.0.drain(..).filter_map(|l| l.upgrade()) {
            lane.close();
        }
    }
}

thread_local! {
    static LANES: RefCell<ThreadLanes> = RefCell::new(ThreadLanes::default());
}

/// Ties `lane` to the current thread: it is closed when the thread ends.
pub(crate) fn adopt(lane: &Arc<Lane>) {
    let adopted = LANES.try_with(|lanes| {
        let mut lanes = lanes.borrow_mut();
        lanes.0.retain(|l| l.strong_count() > 0);
        lanes.0.push(Arc::downgrade(lane));
    });
    if adopted.is_err() {
        lane.close(); // the thread is ending already: the lane owns nothing, ever
    }
}
