//! What a JavaScript thread owns of the bulkheads: the permits it holds, and the permits handed to
//! its queued callers that its JavaScript has not claimed yet. When the thread ends (a worker is
//! terminated mid-call), its thread-local destructor gives all of them back, and takes its
//! callers out of the queues, so no permit is lost with a thread.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use breakwater::Bulkhead;

/// One thread's queued callers of one bulkhead (shared with their wake closures).
pub(crate) struct Lane {
    bulkhead: Arc<Bulkhead>,
    state: Mutex<LaneState>,
}

#[derive(Default)]
struct LaneState {
    /// Tickets of this thread's callers still in the queue.
    queued: HashSet<u64>,
    /// Permits handed to this thread's callers, by ticket, not yet claimed by JavaScript.
    delivered: HashMap<u64, u64>,
    /// The thread has ended: nothing more is delivered here.
    closed: bool,
}

impl Lane {
    /// A lane of the current thread, given back when the thread ends.
    pub(crate) fn new(bulkhead: Arc<Bulkhead>) -> Arc<Lane> {
        let lane = Arc::new(Lane {
            bulkhead,
            state: Mutex::new(LaneState::default()),
        });
        let _ = THREAD.try_with(|t| t.borrow_mut().lanes.push(Arc::downgrade(&lane)));
        lane
    }

    pub(crate) fn queued(&self, ticket: u64) {
        self.lock().queued.insert(ticket);
    }

    /// A permit arrives for `ticket` (on any thread). `false`: this thread has ended, pass it on.
    pub(crate) fn deliver(&self, ticket: u64, permit: u64) -> bool {
        let mut state = self.lock();
        if state.closed {
            return false;
        }
        state.queued.remove(&ticket);
        state.delivered.insert(ticket, permit);
        true
    }

    /// Undoes `deliver` when the wake could not be sent.
    pub(crate) fn undeliver(&self, ticket: u64) {
        self.lock().delivered.remove(&ticket);
    }

    /// On this lane's thread: the permit delivered for `ticket`, now held by the thread.
    pub(crate) fn claim(&self, ticket: u64) -> Option<u64> {
        let permit = self.lock().delivered.remove(&ticket)?;
        hold(&self.bulkhead, permit);
        Some(permit)
    }

    /// Takes `ticket` out of the queue; `false` if its permit is already on the way.
    pub(crate) fn cancel(&self, ticket: u64) -> bool {
        self.lock().queued.remove(&ticket);
        self.bulkhead.cancel(ticket)
    }

    /// The thread ended: leave the queue and give back what was delivered.
    fn close(&self) {
        let (queued, delivered) = {
            let mut state = self.lock();
            state.closed = true;
            (std::mem::take(&mut state.queued), std::mem::take(&mut state.delivered))
        };
        for ticket in queued {
            self.bulkhead.cancel(ticket);
        }
        for permit in delivered.into_values() {
            self.bulkhead.release(permit);
        }
    }

    fn lock(&self) -> MutexGuard<'_, LaneState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[derive(Default)]
struct ThreadState {
    held: Vec<(Arc<Bulkhead>, u64)>,
    lanes: Vec<Weak<Lane>>,
}

impl Drop for ThreadState {
    fn drop(&mut self) {
        for lane in self.lanes.drain(..).filter_map(|l| l.upgrade()) {
            lane.close();
        }
        for (bulkhead, permit) in self.held.drain(..) {
            bulkhead.release(permit);
        }
    }
}

thread_local! {
    static THREAD: RefCell<ThreadState> = RefCell::new(ThreadState::default());
}

/// Records that this thread holds `permit`.
pub(crate) fn hold(bulkhead: &Arc<Bulkhead>, permit: u64) {
    let _ = THREAD.try_with(|t| t.borrow_mut().held.push((bulkhead.clone(), permit)));
}

/// Forgets that this thread holds `permit` (it is being released).
pub(crate) fn unhold(bulkhead: &Arc<Bulkhead>, permit: u64) {
    let _ = THREAD.try_with(|t| {
        let mut t = t.borrow_mut();
        if let Some(i) = t
            .held
            .iter()
            .position(|(b, p)| *p == permit && Arc::ptr_eq(b, bulkhead))
        {
            t.held.swap_remove(i);
        }
    });
}
