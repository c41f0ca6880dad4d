//! Breakers by name: one process-wide registry, and as many private ones as you like.

use std::sync::{Arc, OnceLock};

use crate::breaker::Breaker;
use crate::clock::{Clock, MonotonicClock};
use crate::config::{Config, ConfigError};
use crate::events::{ListenerId, Listeners, TransitionEvent};
use crate::metrics::Metrics;
use crate::named::{check_name, Named};

/// Breakers by name. Lookups are lock-free (a concurrent hash map with epoch-based reclamation);
/// so are inserts, which only contend with inserts of the same name.
///
/// ```
/// use breakwater::{Config, Registry};
///
/// let registry = Registry::new();
/// let a = registry.get_or_create("market-data", Config::default())?;
/// let b = registry.get_or_create("market-data", Config::default())?;
/// assert!(std::sync::Arc::ptr_eq(&a, &b));
/// assert_eq!(registry.names(), ["market-data"]);
/// # Ok::<(), breakwater::ConfigError>(())
/// ```
pub struct Registry {
    breakers: Named<Breaker>,
    clock: Arc<dyn Clock>,
    hub: Arc<Listeners<TransitionEvent>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").field("names", &self.names()).finish()
    }
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    /// An empty registry whose breakers use the process's monotonic clock.
    pub fn new() -> Self {
        Self::with_clock(MonotonicClock::shared())
    }

    /// An empty registry whose breakers use `clock`.
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self {
            breakers: Named::default(),
            clock,
            hub: Arc::default(),
        }
    }

    /// The process-wide registry: every thread that asks for a name gets the same breaker.
    pub fn global() -> &'static Registry {
        static GLOBAL: OnceLock<Registry> = OnceLock::new();
        GLOBAL.get_or_init(Registry::new)
    }

    /// The breaker called `name`, created with `config` if there is none. `name` and `config`
    /// are checked either way (a bad config is an error even when the breaker exists); an
    /// existing breaker keeps its own config: compare [`Breaker::config`] with yours to find
    /// out whether it differs.
    pub fn get_or_create(&self, name: &str, config: Config) -> Result<Arc<Breaker>, ConfigError> {
        check_name(name)?;
        config.validate()?;
        self.breakers.get_or_try_make_keyed(name, |key| {
            let mut breaker = Breaker::with_clock(name, config, self.clock.clone())?;
            breaker.inner.hub = Some(self.hub.clone());
            // The registry's key is the name: one copy for both.
            breaker.inner.name = key.clone();
            Ok(breaker)
        })
    }

    /// Calls `subscriber` with every transition of every breaker of the registry (ones created
    /// later too), whichever thread makes it, in the order each breaker made them. It runs on the
    /// thread that made the transition, while that breaker's next transition waits for it: keep
    /// it short (queue the event and return) and never move a breaker from it (that breaker's
    /// next transition would wait for itself). A subscriber that panics is skipped. While nobody
    /// subscribes, transitions cost what they did without subscribers.
    ///
    /// ```
    /// use breakwater::{Config, Registry, State};
    /// use std::sync::{mpsc, Arc};
    ///
    /// let registry = Registry::new();
    /// let (tx, rx) = mpsc::channel();
    /// let tx = std::sync::Mutex::new(tx);
    /// let id = registry.subscribe(move |e| tx.lock().unwrap().send((e.name.clone(), e.transition.to)).unwrap());
    /// let orders = registry.get_or_create("orders", Config::default())?;
    /// std::thread::spawn(move || orders.force_open(None)).join().unwrap();
    /// assert_eq!(rx.recv().unwrap(), (Arc::from("orders"), State::ForcedOpen));
    /// assert!(registry.unsubscribe(id));
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn subscribe(&self, subscriber: impl Fn(&TransitionEvent) + Send + Sync + 'static) -> ListenerId {
        self.hub.add(Arc::new(subscriber))
    }

    /// Removes a subscriber; `false` if it was not subscribed.
    pub fn unsubscribe(&self, id: ListenerId) -> bool {
        self.hub.remove(id)
    }

    /// The breaker called `name`, if any.
    #[inline]
    pub fn get(&self, name: &str) -> Option<Arc<Breaker>> {
        self.breakers.get(name)
    }

    /// Removes and returns the breaker called `name`. Holders of it keep a working breaker; the
    /// next `get_or_create` of the name makes a new one.
    pub fn remove(&self, name: &str) -> Option<Arc<Breaker>> {
        self.breakers.remove(name)
    }

    /// How many breakers there are.
    pub fn len(&self) -> usize {
        self.breakers.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.breakers.is_empty()
    }

    /// Every name, sorted.
    pub fn names(&self) -> Vec<String> {
        self.breakers.names()
    }

    /// Every breaker's metrics, sorted by name: the health view.
    pub fn snapshot(&self) -> Vec<(String, Metrics)> {
        self.breakers.map_sorted(Breaker::metrics)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_breaker_keeps_its_name_in_the_registry_key_not_a_copy() {
        let registry = Registry::new();
        let breaker = registry.get_or_create("orders", Config::default()).unwrap();
        assert_eq!(breaker.name(), "orders");
        assert_eq!(Arc::strong_count(&breaker.inner.name), 2, "the key and the breaker");
        let removed = registry.remove("orders").unwrap();
        assert_eq!(removed.name(), "orders", "a removed breaker keeps its name");
    }
}
