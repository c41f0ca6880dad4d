//! The shares of each JavaScript thread (a share is what one thread's handle owns of a bulkhead: its
//! queued callers, the permits handed to them, the permits it holds). When the thread ends (a
//! worker terminated mid-call, or one that ran out of work while holding permits), its
//! thread-local destructor closes them, and everything they owned comes back.
//!
//! Closing at thread end is one of two ways back: a handle finalized when the thread's
//! environment is torn down drops its share, which closes it too. Whichever comes first gives the
//! permits back (the share's lock decides), so a permit handed to a thread that is gone is neither
//! lost nor given back twice. A wake queued to such a thread is never run, and napi-rs leaks (does
//! not drop) its data then: nothing can rely on a destructor of the wake itself.

use std::cell::RefCell;
use std::sync::{Arc, Weak};

use breakwater::BulkheadShare;

#[derive(Default)]
struct ThreadShares(Vec<Weak<BulkheadShare>>);

impl Drop for ThreadShares {
    fn drop(&mut self) {
        for share in self.0.drain(..).filter_map(|l| l.upgrade()) {
            share.close();
        }
    }
}

thread_local! {
    static SHARES: RefCell<ThreadShares> = RefCell::new(ThreadShares::default());
}

/// Ties `share` to the current thread: it is closed when the thread ends.
pub(crate) fn adopt(share: &Arc<BulkheadShare>) {
    let adopted = SHARES.try_with(|shares| {
        let mut shares = shares.borrow_mut();
        shares.0.retain(|l| l.strong_count() > 0);
        shares.0.push(Arc::downgrade(share));
    });
    if adopted.is_err() {
        share.close(); // the thread is ending already: the share owns nothing, ever
    }
}
