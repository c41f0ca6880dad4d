//! Names: the rule every breaker and bulkhead name follows, and the lock-free map of objects by
//! name behind the breaker [`Registry`](crate::Registry) and the process-wide bulkheads.

use std::sync::Arc;

use crate::config::{fail, ConfigError, Violation};

/// The longest breaker name, in bytes.
pub const MAX_NAME_BYTES: usize = 256;

pub(crate) fn check_name(name: &str) -> Result<(), ConfigError> {
    if name.is_empty() || name.len() > MAX_NAME_BYTES {
        let start: String = name.chars().take(40).collect();
        let violation = Violation::NameLength {
            max_bytes: MAX_NAME_BYTES,
            start: start.clone(),
            bytes: name.len(),
        };
        return fail(
            "name",
            format!("1..={MAX_NAME_BYTES} bytes long"),
            format!("{start}… ({} bytes)", name.len()),
            violation,
        );
    }
    Ok(())
}

/// Objects by name. Lookups are lock-free (a concurrent hash map with epoch-based reclamation);
/// so are inserts, which only contend with inserts of the same name.
pub(crate) struct Named<T> {
    map: papaya::HashMap<Arc<str>, Arc<T>>,
}

impl<T> Default for Named<T> {
    fn default() -> Self {
        Self {
            map: papaya::HashMap::new(),
        }
    }
}

impl<T> Named<T> {
    /// The object called `name`, if any.
    #[inline]
    pub(crate) fn get(&self, name: &str) -> Option<Arc<T>> {
        self.map.pin().get(name).cloned()
    }

    /// The object called `name`, made by `make` if there is none. When two threads make one at
    /// once, both get the one inserted first; the other is dropped.
    pub(crate) fn get_or_try_make<E>(&self, name: &str, make: impl FnOnce() -> Result<T, E>) -> Result<Arc<T>, E> {
        self.get_or_try_make_keyed(name, |_| make())
    }

    /// [`get_or_try_make`](Named::get_or_try_make), `make` given the key the object is filed
    /// under, to keep as its name: one copy of the name instead of two.
    pub(crate) fn get_or_try_make_keyed<E>(
        &self,
        name: &str,
        make: impl FnOnce(&Arc<str>) -> Result<T, E>,
    ) -> Result<Arc<T>, E> {
        if let Some(existing) = self.get(name) {
            return Ok(existing);
        }
        let key = Arc::from(name);
        let made = Arc::new(make(&key)?);
        let map = self.map.pin();
        Ok(match map.try_insert(key, made) {
            Ok(inserted) => inserted.clone(),
            Err(occupied) => occupied.current.clone(),
        })
    }

    /// Removes and returns the object called `name`.
    pub(crate) fn remove(&self, name: &str) -> Option<Arc<T>> {
        self.map.pin().remove(name).cloned()
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Every name, sorted.
    pub(crate) fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.map.pin().keys().map(|k| k.to_string()).collect();
        names.sort_unstable();
        names
    }

    /// `f` of every object, with its name, sorted by name.
    pub(crate) fn map_sorted<R>(&self, f: impl Fn(&T) -> R) -> Vec<(String, R)> {
        let mut all: Vec<(String, R)> = self.map.pin().iter().map(|(k, v)| (k.to_string(), f(v))).collect();
        all.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        all
    }
}
