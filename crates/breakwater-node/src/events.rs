//! Transitions to every thread. Each subscribing thread has an inbox that the core fills, on
//! whichever thread made the transition, and a wake function (a thread-safe function that does
//! not keep the thread alive) that tells the thread its inbox has events. The thread empties its
//! inbox when woken, and right after a call of its own that moved a breaker: it hears of its own
//! transitions before that call returns, and of everyone's in the order they happened.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use std::sync::{Arc, Mutex, PoisonError};

use breakwater::{ListenerId, TransitionEvent};
use napi::bindgen_prelude::Function;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;
use napi_derive::napi;

use crate::registry::RegistryRef;
use crate::wire::transition_code;

/// Called with no arguments in the subscribing thread when its inbox has events.
type WakeFn = ThreadsafeFunction<(), (), (), Status, false, true>;

/// Events an inbox keeps for a thread that does not empty it (a blocked event loop); past
/// this, the oldest are dropped and counted, at no more cost than keeping one (a ring buffer:
/// the thread that moved the breaker pays for the put, under the breaker's order lock).
const INBOX_LIMIT: usize = 65_536;

/// A transition as a subscribing thread gets it.
#[napi(object)]
pub struct NativeTransition {
    /// The breaker's name.
    pub name: String,
    /// The breaker's id (`NativeBreaker.id`).
    pub breaker: f64,
    /// `1 + from + 8 * to + 64 * reason`, as the calls that move a breaker return it.
    pub code: f64,
    /// When, in milliseconds since the Unix epoch.
    pub at: f64,
    /// On a move to open or forced open with a deadline: milliseconds until a probe may pass.
    pub retry_after_ms: Option<f64>,
}

struct Inbox {
    events: Mutex<VecDeque<NativeTransition>>,
    /// Whether a wake is on its way (one is enough until the inbox is emptied).
    woken: AtomicBool,
    dropped: AtomicU64,
    wake: WakeFn,
}

impl Inbox {
    fn put(&self, e: &TransitionEvent) {
        let event = NativeTransition {
            name: e.name.to_string(),
            breaker: e.breaker_id as f64,
            code: transition_code(Some(e.transition)),
            at: e.at_unix_ms as f64,
            retry_after_ms: e.retry_after.map(|d| d.as_secs_f64() * 1e3),
        };
        {
            let mut events = self.events.lock().unwrap_or_else(PoisonError::into_inner);
            if events.len() >= INBOX_LIMIT {
                events.pop_front();
                self.dropped.fetch_add(1, Relaxed);
            }
            events.push_back(event);
        }
        if !self.woken.swap(true, AcqRel) {
            // A thread that has ended refuses the call: nothing to wake, and its subscription
            // is dropped with its environment.
            let _ = self.wake.call((), ThreadsafeFunctionCallMode::NonBlocking);
        }
    }
}

/// One thread's subscription to every transition of a registry's breakers. Dropped (when the
/// facade closes it, or at the latest when the thread's environment ends), it unsubscribes.
#[napi]
pub struct NativeSubscription {
    inbox: Arc<Inbox>,
    registry: RegistryRef,
    id: Option<ListenerId>,
}

impl NativeSubscription {
    pub(crate) fn new(registry: RegistryRef, wake: Function<(), ()>) -> napi::Result<Self> {
        let wake = wake
            .build_threadsafe_function::<()>()
            .callee_handled::<false>()
            .weak::<true>()
            .build()?;
        let inbox = Arc::new(Inbox {
            events: Mutex::new(VecDeque::new()),
            woken: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
            wake,
        });
        let sink = inbox.clone();
        let id = registry.get().subscribe(move |e| sink.put(e));
        Ok(Self {
            inbox,
            registry,
            id: Some(id),
        })
    }
}

#[napi]
impl NativeSubscription {
    /// The events waiting, oldest first; the next event wakes the thread again.
    #[napi(catch_unwind)]
    pub fn drain(&self) -> Vec<NativeTransition> {
        self.inbox.woken.store(false, Release);
        let events = std::mem::take(&mut *self.inbox.events.lock().unwrap_or_else(PoisonError::into_inner));
        Vec::from(events)
    }

    /// Events dropped because the inbox was full (a thread that did not empty it).
    #[napi(getter, catch_unwind)]
    pub fn dropped(&self) -> f64 {
        self.inbox.dropped.load(Relaxed) as f64
    }

    /// Stops the events; what waits is dropped.
    #[napi(catch_unwind)]
    pub fn close(&mut self) {
        if let Some(id) = self.id.take() {
            self.registry.get().unsubscribe(id);
        }
        self.inbox.events.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }
}

impl Drop for NativeSubscription {
    fn drop(&mut self) {
        self.close();
    }
}
