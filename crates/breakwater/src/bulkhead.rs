//! A concurrency limit shared by every thread: a lock-free semaphore of explicit permits, and a
//! bounded priority queue for callers that would rather wait than be refused.
//!
//! Taking and returning a permit while nobody waits are a few atomic operations. Only callers that
//! must wait (and the release that hands them a permit) take the queue's lock.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use crate::config::{check_count, ConfigError};
use crate::named::{check_name, Named};

mod share;
pub use share::BulkheadShare;

/// The most permits a bulkhead can have: a permit id keeps its slot in this many bits.
pub const MAX_CONCURRENT: u32 = 1 << SLOT_BITS;
/// The longest queue a bulkhead can have.
pub const MAX_QUEUE: u32 = 1 << 24;
const SLOT_BITS: u32 = 20;
const SLOT_MASK: u64 = (1 << SLOT_BITS) - 1;
/// 32 bits of generation: permit ids stay below 2^52, exact in a JavaScript number.
const GENERATION_MASK: u64 = (1 << 32) - 1;

/// Told a queued caller's ticket and the permit it was given. Returns `false` when the caller is
/// gone (its thread ended), and the permit then goes to the next in line.
pub type Wake = Box<dyn FnOnce(u64, u64) -> bool + Send>;

/// What [`Bulkhead::acquire_or_queue`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// A permit, to give back with [`Bulkhead::release`].
    Now(u64),
    /// Queued: the wake function will be given a permit. The ticket cancels the wait.
    Queued(u64),
    /// Every permit is taken and the queue is full.
    Full,
}

/// A snapshot of a bulkhead's use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BulkheadStats {
    /// Permits in all.
    pub max_concurrent: u32,
    /// The longest the queue may be.
    pub max_queue: u32,
    /// Permits held now.
    pub in_use: u32,
    /// Callers waiting now.
    pub queued: u32,
    /// Permits handed out, at once or from the queue.
    pub admitted: u64,
    /// Callers refused because every permit was taken and the queue was full.
    pub rejected: u64,
    /// Queued callers that gave up waiting.
    pub cancelled: u64,
}

/// At most `max_concurrent` calls at once, process-wide.
///
/// ```
/// use breakwater::{Admission, Bulkhead};
///
/// let pool = Bulkhead::new(1, 10)?;
/// let permit = pool.try_acquire().unwrap();
/// assert!(pool.try_acquire().is_none());
/// let queued = pool.acquire_or_queue(0, Box::new(|_ticket, permit| { println!("go with {permit}"); true }));
/// assert!(matches!(queued, Admission::Queued(_)));
/// assert!(pool.release(permit)); // hands the permit to the queued caller
/// assert_eq!(pool.stats().in_use, 1);
/// # Ok::<(), breakwater::ConfigError>(())
/// ```
pub struct Bulkhead {
    max_concurrent: u32,
    max_queue: u32,
    in_use: AtomicU32,
    /// Callers in the queue; read without the lock by releases, to skip it when zero.
    waiting: AtomicU32,
    /// Per permit slot: `generation << 1 | taken`. A permit id is `generation << SLOT_BITS | slot`,
    /// so a permit given back twice, or after its slot moved on, is recognised and refused.
    slots: Box<[AtomicU64]>,
    /// Where the next search for a free slot starts: the slot freed last.
    hint: AtomicU32,
    queue: Mutex<Queue>,
    admitted: AtomicU64,
    rejected: AtomicU64,
    cancelled: AtomicU64,
}

#[derive(Default)]
struct Queue {
    /// Highest priority first, then first come first served.
    order: BTreeMap<(Reverse<i32>, u64), Wake>,
    priority_of: HashMap<u64, i32>,
    next_ticket: u64,
}

impl std::fmt::Debug for Bulkhead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bulkhead").field("stats", &self.stats()).finish()
    }
}

impl Bulkhead {
    /// A bulkhead of `max_concurrent` permits (1..=2^20) and a queue of up to `max_queue` callers.
    pub fn new(max_concurrent: u32, max_queue: u32) -> Result<Bulkhead, ConfigError> {
        check_count("max_concurrent", max_concurrent, 1, MAX_CONCURRENT)?;
        check_count("max_queue", max_queue, 0, MAX_QUEUE)?;
        Ok(Bulkhead {
            max_concurrent,
            max_queue,
            in_use: AtomicU32::new(0),
            waiting: AtomicU32::new(0),
            slots: (0..max_concurrent).map(|_| AtomicU64::new(0)).collect(),
            hint: AtomicU32::new(0),
            queue: Mutex::new(Queue::default()),
            admitted: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            cancelled: AtomicU64::new(0),
        })
    }

    /// The process-wide bulkhead called `name`, created with these limits if there is none (an
    /// existing one keeps its own). Every thread that asks for a name gets the same bulkhead.
    pub fn named(name: &str, max_concurrent: u32, max_queue: u32) -> Result<Arc<Bulkhead>, ConfigError> {
        named().get_or_try_make(name, || {
            check_name(name)?;
            Bulkhead::new(max_concurrent, max_queue)
        })
    }

    /// Forgets the process-wide bulkhead called `name`; holders of it keep working.
    pub fn remove_named(name: &str) -> bool {
        named().remove(name).is_some()
    }

    /// A permit if one is free and nobody is queued for one (queued callers go first).
    pub fn try_acquire(&self) -> Option<u64> {
        if self.waiting.load(SeqCst) > 0 {
            return None;
        }
        self.take()
    }

    /// A permit now, or a place in the queue at `priority` (higher goes first, equal in order of
    /// arrival), or `Full`. A queued caller's `wake` is called, from whichever thread releases
    /// the permit and outside any lock, with its permit.
    pub fn acquire_or_queue(&self, priority: i32, wake: Wake) -> Admission {
        if let Some(permit) = self.try_acquire() {
            return Admission::Now(permit);
        }
        let mut queue = self.lock();
        // Counted as waiting before the last look at the permits, as a release frees its permit
        // before it looks at `waiting` (all SeqCst): one of the two sees the other, so a permit
        // freed meanwhile is taken below or handed to this caller, never left free while it waits.
        self.waiting.fetch_add(1, SeqCst);
        if queue.order.is_empty() {
            if let Some(permit) = self.take() {
                self.waiting.fetch_sub(1, SeqCst);
                return Admission::Now(permit);
            }
        }
        if queue.order.len() >= self.max_queue as usize {
            self.waiting.fetch_sub(1, SeqCst);
            self.rejected.fetch_add(1, Relaxed);
            return Admission::Full;
        }
        let ticket = queue.next_ticket;
        queue.next_ticket += 1;
        queue.order.insert((Reverse(priority), ticket), wake);
        queue.priority_of.insert(ticket, priority);
        Admission::Queued(ticket)
    }

    /// Takes a queued caller out of the queue. `false` when it is no longer queued: its wake
    /// function has been (or is being) called with a permit, which the caller must release.
    pub fn cancel(&self, ticket: u64) -> bool {
        let mut queue = self.lock();
        let Some(priority) = queue.priority_of.remove(&ticket) else {
            return false;
        };
        queue.order.remove(&(Reverse(priority), ticket));
        self.waiting.fetch_sub(1, SeqCst);
        self.cancelled.fetch_add(1, Relaxed);
        true
    }

    /// Gives a permit back, handing it to the first queued caller if there is one. `false` (and
    /// nothing changes) for a permit that is not held: released already, or never given out.
    pub fn release(&self, permit: u64) -> bool {
        if !self.free(permit) {
            return false;
        }
        if self.waiting.load(SeqCst) > 0 {
            self.hand_over();
        }
        true
    }

    /// Use and totals now.
    pub fn stats(&self) -> BulkheadStats {
        BulkheadStats {
            max_concurrent: self.max_concurrent,
            max_queue: self.max_queue,
            in_use: self.in_use.load(Relaxed),
            queued: self.waiting.load(Relaxed),
            admitted: self.admitted.load(Relaxed),
            rejected: self.rejected.load(Relaxed),
            cancelled: self.cancelled.load(Relaxed),
        }
    }

    /// Gives free permits to queued callers, best first, until one of the two runs out.
    fn hand_over(&self) {
        loop {
            let (ticket, permit, wake) = {
                let mut queue = self.lock();
                let Some(first) = queue.order.keys().next().copied() else {
                    return;
                };
                // None: a caller that had not seen the queue took the permit; it will hand over.
                let Some(permit) = self.take() else {
                    return;
                };
                let wake = queue.order.remove(&first).expect("first key is present");
                queue.priority_of.remove(&first.1);
                self.waiting.fetch_sub(1, SeqCst);
                (first.1, permit, wake)
            };
            if wake(ticket, permit) {
                return;
            }
            // The caller is gone: the permit goes on to the next one.
            self.free(permit);
        }
    }

    /// A free permit, whatever the queue holds, counted as admitted.
    fn take(&self) -> Option<u64> {
        self.in_use
            .fetch_update(SeqCst, SeqCst, |n| (n < self.max_concurrent).then_some(n + 1))
            .ok()?;
        // The count above reserved a slot; find it, starting where the last one was freed.
        let n = self.slots.len();
        let start = self.hint.load(Relaxed) as usize;
        loop {
            for i in (start..n).chain(0..start) {
                let word = self.slots[i].load(Relaxed);
                if word & 1 == 0 {
                    let generation = ((word >> 1) + 1) & GENERATION_MASK;
                    if self.slots[i]
                        .compare_exchange(word, generation << 1 | 1, Acquire, Relaxed)
                        .is_ok()
                    {
                        self.admitted.fetch_add(1, Relaxed);
                        return Some((generation << SLOT_BITS) | i as u64);
                    }
                }
            }
        }
    }

    /// Frees `permit`'s slot and count; `false` if it was not held.
    fn free(&self, permit: u64) -> bool {
        let slot = (permit & SLOT_MASK) as usize;
        let Some(word) = self.slots.get(slot) else {
            return false;
        };
        let held = ((permit >> SLOT_BITS) << 1) | 1;
        if word.compare_exchange(held, held & !1, Release, Relaxed).is_err() {
            return false;
        }
        self.hint.store(slot as u32, Relaxed);
        self.in_use.fetch_sub(1, SeqCst);
        true
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A wake function never runs under the lock, so a panic cannot leave the queue half-changed.
        self.queue.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn named() -> &'static Named<Bulkhead> {
    static NAMED: OnceLock<Named<Bulkhead>> = OnceLock::new();
    NAMED.get_or_init(Named::default)
}
