//! `NativeRegistry`: breakers by name, the process-wide registry or a private one.

use std::sync::Arc;

use breakwater::Registry;
use napi::bindgen_prelude::{Float64Array, Function};
use napi::Env;
use napi_derive::napi;

use crate::breaker::{NativeBreaker, NewBreaker};
use crate::clock::NativeFakeClock;
use crate::errors::{js_string, throw_options_differ, Invalid};
use crate::events::NativeSubscription;
use crate::options::{differences, NativeOptions};
use crate::wire;

/// Breakers by name.
#[napi]
pub struct NativeRegistry {
    inner: RegistryRef,
}

#[derive(Clone)]
pub(crate) enum RegistryRef {
    Global,
    Own(Arc<Registry>),
}

impl RegistryRef {
    pub(crate) fn get(&self) -> &Registry {
        match self {
            RegistryRef::Global => Registry::global(),
            RegistryRef::Own(r) => r,
        }
    }
}

impl NativeRegistry {
    fn get_ref(&self) -> &Registry {
        self.inner.get()
    }
}

/// Every breaker's metrics: `names[i]`'s record is `records[i * len .. (i + 1) * len]`, where len
/// is the length of one record (`RECORD_LEN` of `src/generated/wire.ts`).
#[napi(object)]
pub struct NativeHealth {
    /// The names, sorted.
    pub names: Vec<String>,
    /// The records, one after the other.
    pub records: Float64Array,
}

#[napi]
impl NativeRegistry {
    /// A private registry, on the monotonic clock or on `clock`.
    #[napi(constructor, catch_unwind)]
    pub fn new(clock: Option<&NativeFakeClock>) -> Self {
        let registry = match clock {
            Some(c) => Registry::with_clock(Arc::new(c.inner.clone())),
            None => Registry::new(),
        };
        Self {
            inner: RegistryRef::Own(Arc::new(registry)),
        }
    }

    /// The process-wide registry, the same in every worker thread.
    #[napi(factory, catch_unwind)]
    pub fn global() -> Self {
        Self {
            inner: RegistryRef::Global,
        }
    }

    /// The breaker called `name`, created with `options` (or the defaults) if missing. Options
    /// are always checked; when given for a breaker that exists with other options, throws an
    /// `Error` with code `ERR_BREAKWATER_OPTIONS_DIFFER` naming each option that differs with
    /// both values. Without options, the existing breaker is returned as it is.
    #[napi(catch_unwind, ts_return_type = "NativeBreaker")]
    pub fn get_or_create(&self, env: Env, name: String, options: Option<NativeOptions>) -> napi::Result<NewBreaker> {
        let given = options.map(|o| o.to_config()).transpose().map_err(|e| e.throw(&env))?;
        let config = given.clone().unwrap_or_default();
        let breaker = self
            .get_ref()
            .get_or_create(&name, config)
            .map_err(|e| Invalid::from(e).throw(&env))?;
        if let Some(given) = given {
            let differ = differences(&breaker.config(), &given);
            if !differ.is_empty() {
                let message = format!(
                    "breaker {} exists with other options: {}; give the same options, or none to use it as it is, and change its rules with breaker.configure(options)",
                    js_string(&name),
                    differ.join("; ")
                );
                return Err(throw_options_differ(&env, &message));
            }
        }
        Ok(NewBreaker(NativeBreaker::new(breaker)))
    }

    /// The breaker called `name`, if any.
    #[napi(catch_unwind, ts_return_type = "NativeBreaker | null")]
    pub fn get(&self, name: String) -> Option<NewBreaker> {
        self.get_ref().get(&name).map(|b| NewBreaker(NativeBreaker::new(b)))
    }

    /// Removes the breaker called `name`; its id, if there was one.
    #[napi(catch_unwind)]
    pub fn remove(&self, name: String) -> Option<f64> {
        self.get_ref().remove(&name).map(|b| b.id() as f64)
    }

    /// Every name, sorted.
    #[napi(catch_unwind)]
    pub fn names(&self) -> Vec<String> {
        self.get_ref().names()
    }

    /// Subscribes this thread to every transition of the registry's breakers, made in any
    /// thread: `wake()` is called (without keeping the thread alive) when events wait, which
    /// the subscription's `drain()` returns.
    #[napi(catch_unwind)]
    pub fn subscribe(&self, wake: Function<(), ()>) -> napi::Result<NativeSubscription> {
        NativeSubscription::new(self.inner.clone(), wake)
    }

    /// Every breaker's metrics, sorted by name, as one array of records.
    #[napi(catch_unwind)]
    pub fn health(&self) -> NativeHealth {
        let snapshot = self.get_ref().snapshot();
        let mut records = Vec::with_capacity(snapshot.len() * wire::RECORD_LEN);
        let mut names = Vec::with_capacity(snapshot.len());
        for (name, m) in snapshot {
            wire::pack_metrics(&m, &mut records);
            names.push(name);
        }
        NativeHealth {
            names,
            records: Float64Array::new(records),
        }
    }
}
