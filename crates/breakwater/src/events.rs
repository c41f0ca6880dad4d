//! Transition listeners: registered and removed under a mutex, called outside it. A breaker has
//! its own (called on the thread that made the transition); a registry has subscribers, told of
//! every transition of its breakers in the order they happened.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::state::Transition;

type Listener<E> = Arc<dyn Fn(&E) + Send + Sync>;

/// A transition of one of a registry's breakers, as the registry's
/// [subscribers](crate::Registry::subscribe) get it.
#[derive(Debug, Clone, PartialEq)]
pub struct TransitionEvent {
    /// The breaker's name.
    pub name: Arc<str>,
    /// The breaker's [`id`](crate::Breaker::id): tells it from a breaker of the same name made after it
    /// was removed from the registry.
    pub breaker_id: u64,
    /// What changed.
    pub transition: Transition,
    /// When, in wall-clock milliseconds since the Unix epoch (taken once, so every subscriber
    /// gets the same; the breaker's own clock is in `transition.at_nanos`).
    pub at_unix_ms: u64,
    /// On a move to open or forced open with a deadline: how long until the breaker lets a
    /// probe through.
    pub retry_after: Option<Duration>,
}

/// Names a registered listener, to remove it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListenerId(u64);

pub(crate) struct Listeners<E> {
    any: AtomicBool,
    next_id: AtomicU64,
    list: Mutex<Vec<(u64, Listener<E>)>>,
}

impl<E> Default for Listeners<E> {
    fn default() -> Self {
        Self {
            any: AtomicBool::new(false),
            next_id: AtomicU64::new(0),
            list: Mutex::new(Vec::new()),
        }
    }
}

impl<E> std::fmt::Debug for Listeners<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listeners")
            .field("any", &self.any.load(Relaxed))
            .finish()
    }
}

impl<E> Listeners<E> {
    fn with_list<T>(&self, f: impl FnOnce(&mut Vec<(u64, Listener<E>)>) -> T) -> T {
        // A listener never runs under this lock, so it cannot be poisoned by one; recover anyway.
        let mut list = self.list.lock().unwrap_or_else(PoisonError::into_inner);
        let out = f(&mut list);
        self.any.store(!list.is_empty(), Release);
        out
    }

    /// Whether anyone listens.
    #[inline]
    pub(crate) fn any(&self) -> bool {
        self.any.load(Acquire)
    }

    /// Calls every listener with `event`, after copying the list out of the lock. A listener
    /// that panics is skipped; the breaker and the other listeners carry on.
    pub(crate) fn notify(&self, event: &E) {
        if !self.any() {
            return;
        }
        let listeners: Vec<Listener<E>> = self.with_list(|list| list.iter().map(|(_, l)| l.clone()).collect());
        for listener in listeners {
            let _ = catch_unwind(AssertUnwindSafe(|| listener(event)));
        }
    }

    pub(crate) fn add(&self, listener: Listener<E>) -> ListenerId {
        let id = self.next_id.fetch_add(1, Relaxed);
        self.with_list(|list| list.push((id, listener)));
        ListenerId(id)
    }

    pub(crate) fn remove(&self, id: ListenerId) -> bool {
        self.with_list(|list| {
            let before = list.len();
            list.retain(|(i, _)| *i != id.0);
            list.len() != before
        })
    }
}
