//! One owner's share of a bulkhead (in the binding: one JavaScript thread's handle): its callers in
//! the queue, the permits handed to them and not yet claimed, and the permits it holds. When the
//! owner ends ([`BulkheadShare::close`], or the share is dropped) all of them come back, whatever the timing.
//!
//! A permit handed to a queued caller is owned, at every moment, by exactly one of: the releasing
//! thread (inside [`BulkheadShare::hand`]), `delivered` (until claimed), `held` (until released). Each move
//! between them is one change under the share's lock, and whoever finds the owner gone (`hand` on
//! a closed share, `close` itself) gives the permit back. So it is never lost and never given back
//! twice: a wake that is queued to a thread and never run (the thread's environment was torn
//! down) leaves the permit in `delivered`, where `close` or the share's drop finds it.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use super::{Admission, Bulkhead};

/// One owner's permits and queued callers of a bulkhead; see the module documentation.
///
/// ```
/// use breakwater::{Admission, Bulkhead, BulkheadShare};
/// use std::sync::Arc;
///
/// let pool = Arc::new(Bulkhead::new(1, 10)?);
/// let (main, worker) = (BulkheadShare::new(pool.clone()), BulkheadShare::new(pool.clone()));
/// let permit = main.try_acquire().unwrap();
/// let Admission::Queued(ticket) = worker.acquire_or_queue(0, |_ticket| true) else { panic!() };
/// main.release(permit); // handed to the worker's caller, who has not claimed it yet
/// drop(worker); // the worker ends: its permit comes back
/// assert_eq!(pool.stats().in_use, 0);
/// # let _ = ticket;
/// # Ok::<(), breakwater::ConfigError>(())
/// ```
pub struct BulkheadShare {
    bulkhead: Arc<Bulkhead>,
    state: Mutex<ShareState>,
}

#[derive(Default)]
struct ShareState {
    /// Tickets of this share's callers in the bulkhead's queue.
    queued: HashSet<u64>,
    /// Permits handed to this share's callers, by ticket, not yet claimed.
    delivered: HashMap<u64, u64>,
    /// Cancelled tickets whose permit was already on its way: the hand-over passes it on.
    withdrawn: HashSet<u64>,
    /// Permits this share holds.
    held: HashSet<u64>,
    /// The owner has ended: the share admits nobody and takes no permit.
    closed: bool,
}

impl std::fmt::Debug for BulkheadShare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.lock();
        f.debug_struct("BulkheadShare")
            .field("queued", &s.queued.len())
            .field("delivered", &s.delivered.len())
            .field("held", &s.held.len())
            .field("closed", &s.closed)
            .finish()
    }
}

impl BulkheadShare {
    /// A new owner of `bulkhead`'s permits.
    pub fn new(bulkhead: Arc<Bulkhead>) -> Arc<BulkheadShare> {
        Arc::new(BulkheadShare {
            bulkhead,
            state: Mutex::new(ShareState::default()),
        })
    }

    /// The bulkhead this share takes permits from.
    pub fn bulkhead(&self) -> &Arc<Bulkhead> {
        &self.bulkhead
    }

    /// A permit, held by this share, if one is free and nobody is queued.
    pub fn try_acquire(&self) -> Option<u64> {
        let permit = self.bulkhead.try_acquire()?;
        self.keep(permit)
    }

    /// A permit now (held by this share), or a place in the queue at `priority`, or `Full` (also
    /// on a closed share). A queued caller is told its ticket through `notify`, from whichever
    /// thread frees the permit and outside any lock, and then claims the permit with
    /// [`BulkheadShare::claim`]. `notify` returns `false` when it cannot reach the caller; the permit then
    /// goes to the next in line.
    pub fn acquire_or_queue(
        self: &Arc<Self>,
        priority: i32,
        notify: impl FnOnce(u64) -> bool + Send + 'static,
    ) -> Admission {
        if self.lock().closed {
            return Admission::Full;
        }
        // Weak: a queued caller does not keep its share alive; a share that is gone takes nothing.
        let share = Arc::downgrade(self);
        let wake = Box::new(move |ticket, permit| hand(&share, ticket, permit, notify));
        match self.bulkhead.acquire_or_queue(priority, wake) {
            Admission::Now(permit) => self.keep(permit).map_or(Admission::Full, Admission::Now),
            Admission::Queued(ticket) => {
                self.enqueued(ticket);
                Admission::Queued(ticket)
            }
            Admission::Full => Admission::Full,
        }
    }

    /// The permit handed to queued caller `ticket`, now held by this share; `None` if none was
    /// handed to it (not yet, cancelled, or claimed already).
    pub fn claim(&self, ticket: u64) -> Option<u64> {
        let mut s = self.lock();
        let permit = s.delivered.remove(&ticket)?;
        s.held.insert(permit);
        Some(permit)
    }

    /// Takes queued caller `ticket` out of line for good: a permit already handed to it (or on
    /// its way) goes to the next caller, so the caller owes nothing. `false` if `ticket` is not
    /// waiting in this share (never queued here, claimed or cancelled already).
    pub fn cancel(&self, ticket: u64) -> bool {
        {
            let mut s = self.lock();
            if let Some(permit) = s.delivered.remove(&ticket) {
                drop(s);
                self.bulkhead.release(permit);
                return true;
            }
            if !s.queued.remove(&ticket) {
                return false;
            }
        }
        if self.bulkhead.cancel(ticket) {
            return true;
        }
        // The hand-over took the ticket out of the queue: it delivered already, or will see it
        // withdrawn. The lock decides which, once.
        let mut s = self.lock();
        if let Some(permit) = s.delivered.remove(&ticket) {
            drop(s);
            self.bulkhead.release(permit);
        } else {
            s.withdrawn.insert(ticket);
        }
        true
    }

    /// Gives back a permit this share holds; `false` (nothing changes) for any other.
    pub fn release(&self, permit: u64) -> bool {
        if !self.lock().held.remove(&permit) {
            return false;
        }
        self.bulkhead.release(permit)
    }

    /// The owner has ended: leaves the queue and gives back every permit it held or was handed.
    /// Afterwards the share admits nobody and a permit meant for it goes to the next in line.
    pub fn close(&self) {
        let (queued, permits) = {
            let mut s = self.lock();
            if s.closed {
                return;
            }
            s.closed = true;
            s.withdrawn.clear();
            let s = &mut *s;
            let permits: Vec<u64> = s.delivered.drain().map(|(_, p)| p).chain(s.held.drain()).collect();
            (std::mem::take(&mut s.queued), permits)
        };
        // Out of the queue first, so the permits given back do not go to this share's callers.
        for ticket in queued {
            self.bulkhead.cancel(ticket);
        }
        for permit in permits {
            self.bulkhead.release(permit);
        }
    }

    /// Whether the share has been closed.
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Holds `permit`, or gives it back if the share closed meanwhile.
    fn keep(&self, permit: u64) -> Option<u64> {
        let mut s = self.lock();
        if s.closed {
            drop(s);
            self.bulkhead.release(permit);
            return None;
        }
        s.held.insert(permit);
        Some(permit)
    }

    /// Records a queued ticket, unless its permit came first or the share closed meanwhile.
    fn enqueued(&self, ticket: u64) {
        let mut s = self.lock();
        if s.closed {
            drop(s);
            self.bulkhead.cancel(ticket); // if already on its way, `hand` sees the share closed
        } else if !s.delivered.contains_key(&ticket) {
            s.queued.insert(ticket);
        }
    }

    fn lock(&self) -> MutexGuard<'_, ShareState> {
        // No code runs under this lock but set and map changes: poisoning cannot leave it torn.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for BulkheadShare {
    /// A share nobody can reach is an owner that has ended.
    fn drop(&mut self) {
        self.close();
    }
}

/// The bulkhead hands `permit` to queued caller `ticket` of `share` (on the releasing thread). `true`
/// when the permit is no longer the caller of this function's: delivered, or already given back
/// by `cancel` or `close`. `false`: the permit is still ours to pass on.
fn hand(share: &Weak<BulkheadShare>, ticket: u64, permit: u64, notify: impl FnOnce(u64) -> bool) -> bool {
    let Some(share) = share.upgrade() else {
        return false;
    };
    {
        let mut s = share.lock();
        s.queued.remove(&ticket);
        if s.closed || s.withdrawn.remove(&ticket) {
            return false;
        }
        s.delivered.insert(ticket, permit);
    }
    if notify(ticket) {
        return true;
    }
    // The caller cannot be told: take the permit back, unless someone else already has.
    let taken_back = share.lock().delivered.remove(&ticket).is_some();
    !taken_back
}
