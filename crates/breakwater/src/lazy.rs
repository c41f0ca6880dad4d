//! [`LazyBox`]: a box allocated on first use, in one word (a `OnceLock<Box<T>>` takes two). What
//! a breaker needs only once it moves or has a caller lives in one, so the many breakers that
//! never do pay 8 bytes for it; [`LazyCallers`] is the callers' one.

use std::marker::PhantomData;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering::*};
use std::sync::{Arc, OnceLock};

use crate::callers::{CallerTotals, Callers, Counts};

/// A `T` allocated by the first [`get_or_init`](LazyBox::get_or_init), then never moved or
/// replaced until the `LazyBox` is dropped.
pub(crate) struct LazyBox<T> {
    ptr: AtomicPtr<T>,
    /// `Send` and `Sync` exactly when a `OnceLock<T>` is (an `AtomicPtr` alone always is).
    _marker: PhantomData<OnceLock<T>>,
}

impl<T> Default for LazyBox<T> {
    fn default() -> Self {
        Self {
            ptr: AtomicPtr::new(ptr::null_mut()),
            _marker: PhantomData,
        }
    }
}

impl<T> LazyBox<T> {
    /// The `T`, if it was made.
    #[inline]
    pub(crate) fn get(&self) -> Option<&T> {
        // SAFETY: a non-null pointer came from `Box::into_raw` in `install` and is freed only in
        // `drop`, which cannot run while `self` is borrowed.
        unsafe { self.ptr.load(Acquire).as_ref() }
    }

    /// The `T`, made by `make` if it was not. When two threads make one at once, both get the
    /// one installed first; the other is dropped.
    #[inline]
    pub(crate) fn get_or_init(&self, make: impl FnOnce() -> T) -> &T {
        match self.get() {
            Some(made) => made,
            None => self.install(Box::new(make())),
        }
    }

    #[cold]
    #[inline(never)]
    fn install(&self, fresh: Box<T>) -> &T {
        let fresh = Box::into_raw(fresh);
        let installed = match self.ptr.compare_exchange(ptr::null_mut(), fresh, AcqRel, Acquire) {
            Ok(_) => fresh,
            Err(theirs) => {
                // SAFETY: `fresh` came from `Box::into_raw` just above and was never shared.
                drop(unsafe { Box::from_raw(fresh) });
                theirs
            }
        };
        // SAFETY: as in `get`: installed once from `Box::into_raw`, freed only on drop.
        unsafe { &*installed }
    }
}

impl<T> Drop for LazyBox<T> {
    fn drop(&mut self) {
        let ptr = *self.ptr.get_mut();
        if !ptr.is_null() {
            // SAFETY: the pointer came from `Box::into_raw`, and `&mut self` proves nobody else
            // can reach it any more.
            drop(unsafe { Box::from_raw(ptr) });
        }
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for LazyBox<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

/// A breaker's [`Callers`], allocated with its first caller: a breaker nobody calls through a
/// caller (most of a large fleet, or any used without one) never pays for them. Reads of a
/// breaker that has none find nothing pending and nothing counted.
#[derive(Debug, Default)]
pub(crate) struct LazyCallers(LazyBox<Callers>);

impl LazyCallers {
    fn made(&self) -> &Callers {
        self.0.get_or_init(Callers::default)
    }

    /// Whether no caller was ever made (so none is allocated).
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.0.get().is_none()
    }

    /// See [`Callers::join`].
    pub(crate) fn join(&self) -> Arc<Counts> {
        self.made().join()
    }

    /// See [`Callers::retire`].
    pub(crate) fn retire(&self, counts: &Arc<Counts>) {
        self.made().retire(counts);
    }

    /// See [`Callers::lane_opened`].
    pub(crate) fn lane_opened(&self) {
        self.made().lane_opened();
    }

    /// See [`Callers::claim_pending`]: one load when there are no callers.
    #[inline]
    pub(crate) fn claim_pending(&self, fold: impl FnMut(u64)) {
        if let Some(callers) = self.0.get() {
            callers.claim_pending(fold);
        }
    }

    /// See [`Callers::set_fast`].
    pub(crate) fn set_fast(&self, fast: bool) {
        if let Some(callers) = self.0.get() {
            callers.set_fast(fast);
        }
    }

    /// See [`Callers::totals`].
    pub(crate) fn totals(&self) -> CallerTotals {
        self.0.get().map(|callers| callers.totals()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    #[test]
    fn the_first_value_made_is_kept_and_dropped_once() {
        let drops = Arc::new(AtomicUsize::new(0));
        struct Counted(u32, Arc<AtomicUsize>);
        impl Drop for Counted {
            fn drop(&mut self) {
                self.1.fetch_add(1, Relaxed);
            }
        }
        let lazy: LazyBox<Counted> = LazyBox::default();
        assert!(lazy.get().is_none());
        assert_eq!(lazy.get_or_init(|| Counted(1, drops.clone())).0, 1);
        assert_eq!(lazy.get_or_init(|| Counted(2, drops.clone())).0, 1, "made once");
        assert_eq!(drops.load(Relaxed), 0);
        drop(lazy);
        assert_eq!(drops.load(Relaxed), 1);
        assert_eq!(std::mem::size_of::<LazyBox<Counted>>(), 8);
    }

    #[test]
    fn threads_racing_to_make_it_all_get_the_one_installed() {
        let lazy: Arc<LazyBox<usize>> = Arc::default();
        let seen: Vec<usize> = (0..4)
            .map(|i| {
                let lazy = lazy.clone();
                std::thread::spawn(move || *lazy.get_or_init(|| i) as *const usize as usize)
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        assert!(seen.iter().all(|&p| p == seen[0]));
    }
}
