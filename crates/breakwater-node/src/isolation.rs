//! Isolations taken from JavaScript: held by their thread until released, and released by the
//! thread's end (a worker terminated while isolating a breaker leaves it isolated no longer). A
//! handle collected without a release keeps its hold, so `isolate()` without keeping the handle
//! isolates until `reset()`.

use std::cell::RefCell;
use std::sync::Arc;

use breakwater::{Breaker, Isolation};
use napi_derive::napi;

use crate::wire::transition_code;

/// The isolations this thread holds.
#[derive(Default)]
struct Holds {
    next: u64,
    held: Vec<(u64, Arc<Breaker>, Isolation)>,
}

impl Drop for Holds {
    fn drop(&mut self) {
        for (_, breaker, hold) in self.held.drain(..) {
            breaker.end_isolation(hold);
        }
    }
}

thread_local! {
    static HOLDS: RefCell<Holds> = RefCell::new(Holds::default());
}

/// One hold on a breaker's isolation, taken by this thread.
#[napi]
pub struct NativeIsolation {
    id: Option<u64>,
    transition: f64,
}

impl NativeIsolation {
    pub(crate) fn take(breaker: &Arc<Breaker>) -> NativeIsolation {
        let (hold, transition) = breaker.isolate();
        let mut pending = Some(hold);
        let id = HOLDS
            .try_with(|h| {
                let mut h = h.borrow_mut();
                h.next += 1;
                let id = h.next;
                h.held.push((id, breaker.clone(), pending.take()?));
                Some(id)
            })
            .ok()
            .flatten();
        if let Some(hold) = pending {
            // The thread is ending: nothing would release the hold later.
            breaker.end_isolation(hold);
        }
        NativeIsolation {
            id,
            transition: transition_code(transition),
        }
    }
}

#[napi]
impl NativeIsolation {
    /// The transition code of taking it (0: none).
    #[napi(getter, catch_unwind)]
    pub fn transition(&self) -> f64 {
        self.transition
    }

    /// Releases the hold (once; again is a no-op); returns the transition code it caused.
    #[napi(catch_unwind)]
    pub fn release(&mut self) -> f64 {
        let Some(id) = self.id.take() else {
            return 0.0;
        };
        let found = HOLDS
            .try_with(|h| {
                let mut h = h.borrow_mut();
                let i = h.held.iter().position(|(held, _, _)| *held == id)?;
                Some(h.held.swap_remove(i))
            })
            .ok()
            .flatten();
        found.map_or(0.0, |(_, breaker, hold)| transition_code(breaker.end_isolation(hold)))
    }
}
