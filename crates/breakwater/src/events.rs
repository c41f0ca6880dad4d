//! Transition listeners: registered and removed under a mutex, called outside it.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use std::sync::{Arc, Mutex, PoisonError};

use crate::breaker::Breaker;
use crate::state::Transition;

type Listener = Arc<dyn Fn(&Transition) + Send + Sync>;

/// Names a registered listener, to remove it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListenerId(u64);

#[derive(Default)]
pub(crate) struct Listeners {
    any: AtomicBool,
    next_id: AtomicU64,
    list: Mutex<Vec<(u64, Listener)>>,
}

impl std::fmt::Debug for Listeners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listeners")
            .field("any", &self.any.load(Relaxed))
            .finish()
    }
}

impl Listeners {
    fn with_list<T>(&self, f: impl FnOnce(&mut Vec<(u64, Listener)>) -> T) -> T {
        // A listener never runs under this lock, so it cannot be poisoned by one; recover anyway.
        let mut list = self.list.lock().unwrap_or_else(PoisonError::into_inner);
        let out = f(&mut list);
        self.any.store(!list.is_empty(), Release);
        out
    }

    /// Calls every listener with `t`, after copying the list out of the lock. A listener that
    /// panics is skipped; the breaker and the other listeners carry on.
    pub(crate) fn notify(&self, t: &Transition) {
        if !self.any.load(Acquire) {
            return;
        }
        let listeners: Vec<Listener> = self.with_list(|list| list.iter().map(|(_, l)| l.clone()).collect());
        for listener in listeners {
            let _ = catch_unwind(AssertUnwindSafe(|| listener(t)));
        }
    }
}

impl Breaker {
    /// Calls `listener` after every transition, on the thread that made it.
    ///
    /// ```
    /// use breakwater::{Breaker, Config, Reason};
    /// use std::sync::{Arc, Mutex};
    ///
    /// let breaker = Breaker::new("orders", Config::default()).unwrap();
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let sink = seen.clone();
    /// let id = breaker.on_transition(move |t| sink.lock().unwrap().push((t.from, t.to, t.reason)));
    /// breaker.force_open(None);
    /// assert_eq!(seen.lock().unwrap()[0].2, Reason::Manual);
    /// assert!(breaker.remove_listener(id));
    /// ```
    pub fn on_transition(&self, listener: impl Fn(&Transition) + Send + Sync + 'static) -> ListenerId {
        let listeners = &self.inner.listeners;
        let id = listeners.next_id.fetch_add(1, Relaxed);
        listeners.with_list(|list| list.push((id, Arc::new(listener))));
        ListenerId(id)
    }

    /// Removes a listener; `false` if it was not registered.
    pub fn remove_listener(&self, id: ListenerId) -> bool {
        self.inner.listeners.with_list(|list| {
            let before = list.len();
            list.retain(|(i, _)| *i != id.0);
            list.len() != before
        })
    }
}
