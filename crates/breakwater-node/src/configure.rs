//! `NativeBreaker::configure` and `options`: new rules for a live breaker, given as partial
//! options over the options in force, converted and checked by the same table and rules as at
//! creation (see `options`), and swapped at once by the core.

use std::ffi::c_void;
use std::ptr;
use std::sync::Arc;
use std::time::Duration;

use breakwater::{Breaker, Config, Window, DEFAULT_OPEN_CAP};
use napi::bindgen_prelude::Either;
use napi::sys;
use napi::Env;
use napi_derive::napi;

use crate::breaker::NativeBreaker;
use crate::errors::Invalid;
use crate::options::{NativeLatencyOptions, NativeOptions};
use crate::state_view::{check, View};
use crate::wire::transition_code;

fn ms(d: Duration) -> f64 {
    d.as_nanos() as f64 / 1e6
}

/// A rule that is on, or `false`.
fn switch(value: Option<u32>) -> Option<Either<f64, bool>> {
    Some(value.map_or(Either::B(false), |n| Either::A(f64::from(n))))
}

impl NativeOptions {
    /// The options that make `c` (`to_config` of them gives `c` back).
    pub(crate) fn of(c: &Config) -> NativeOptions {
        let min_calls = c
            .failure_rate
            .map(|r| r.min_calls)
            .or(c.slow_call_rate.map(|r| r.rate.min_calls))
            .or(c.latency.map(|r| r.min_calls));
        let b = c.open_duration;
        let (window_size, window, window_buckets) = match c.window {
            Window::Count(n) => (Some(f64::from(n)), None, None),
            Window::Time { length, buckets } => (None, Some(ms(length)), Some(f64::from(buckets))),
        };
        NativeOptions {
            consecutive_failures: switch(c.consecutive_failures),
            failure_rate: Some(
                c.failure_rate
                    .map_or(Either::B(false), |r| Either::A(r.threshold_percent)),
            ),
            minimum_calls: min_calls.map(f64::from),
            slow_call_rate: c.slow_call_rate.map(|r| r.rate.threshold_percent),
            slow_call_duration: c.slow_call_rate.map(|r| ms(r.slow_call)),
            failures_in_window: c.failures_in_window.map(f64::from),
            latency: c.latency.map(|r| NativeLatencyOptions {
                percentile: Some(r.percentile),
                threshold: ms(r.threshold),
            }),
            window_size,
            window,
            window_buckets,
            open_for: Some(ms(b.base)),
            open_multiplier: Some(b.multiplier),
            // A cap the options did not set (the default, raised to a long first duration) is
            // left out, so a longer `openFor` given later raises it again.
            max_open_for: (b.cap != DEFAULT_OPEN_CAP.max(b.base)).then(|| ms(b.cap)),
            open_jitter: Some(b.jitter),
            half_open_probes: Some(f64::from(c.half_open_max_probes)),
            half_open_successes: Some(f64::from(c.half_open_successes)),
            max_probe_time: c.max_probe_time.map(ms),
            timeout: c.call_timeout.map(ms),
            track_latency: Some(c.track_latency),
        }
    }

    /// These options (a partial), with `base` for every option they leave out. An object option
    /// (`latency`) is replaced whole; a count window given replaces a time window in force.
    pub(crate) fn over(self, base: NativeOptions) -> NativeOptions {
        let count_window = self.window_size.is_some() && self.window.is_none();
        NativeOptions {
            consecutive_failures: self.consecutive_failures.or(base.consecutive_failures),
            failure_rate: self.failure_rate.or(base.failure_rate),
            minimum_calls: self.minimum_calls.or(base.minimum_calls),
            slow_call_rate: self.slow_call_rate.or(base.slow_call_rate),
            slow_call_duration: self.slow_call_duration.or(base.slow_call_duration),
            failures_in_window: self.failures_in_window.or(base.failures_in_window),
            latency: self.latency.or(base.latency),
            window_size: self.window_size.or(base.window_size),
            window: if count_window {
                None
            } else {
                self.window.or(base.window)
            },
            window_buckets: if count_window {
                None
            } else {
                self.window_buckets.or(base.window_buckets)
            },
            open_for: self.open_for.or(base.open_for),
            open_multiplier: self.open_multiplier.or(base.open_multiplier),
            max_open_for: self.max_open_for.or(base.max_open_for),
            open_jitter: self.open_jitter.or(base.open_jitter),
            half_open_probes: self.half_open_probes.or(base.half_open_probes),
            half_open_successes: self.half_open_successes.or(base.half_open_successes),
            max_probe_time: self.max_probe_time.or(base.max_probe_time),
            timeout: self.timeout.or(base.timeout),
            track_latency: self.track_latency.or(base.track_latency),
        }
    }
}

#[napi]
impl NativeBreaker {
    /// Changes the breaker's rules for every thread at once: `partial` over the options in
    /// force, checked whole as at creation (an invalid option changes nothing and throws as
    /// `getOrCreate` would). Returns the transition code the new rules caused (reason
    /// `reconfigured`), 0 for none.
    #[napi(catch_unwind)]
    pub fn configure(&self, env: Env, partial: NativeOptions) -> napi::Result<f64> {
        let breaker = self.breaker();
        let config = partial
            .over(NativeOptions::of(&breaker.config()))
            .to_config()
            .map_err(|e| e.throw(&env))?;
        let transition = breaker.configure(config).map_err(|e| Invalid::from(e).throw(&env))?;
        Ok(transition_code(transition))
    }

    /// The breaker's call settings as a 16-byte ArrayBuffer over native memory (read it, never
    /// write it): two little-endian `f64`s, the call timeout in ms (NaN: none) and 1 when call
    /// durations matter, else 0. `configure` in any thread changes them for every handle. The
    /// buffer keeps the breaker alive.
    #[napi(catch_unwind, ts_return_type = "ArrayBuffer")]
    pub fn settings_view(&self, env: Env) -> napi::Result<View> {
        settings_view(&env, self.breaker().clone())
    }

    /// The options in force, every one given (what `configure` changes).
    #[napi(catch_unwind)]
    pub fn options(&self) -> NativeOptions {
        NativeOptions::of(&self.breaker().config())
    }
}

/// An external ArrayBuffer over `breaker`'s call settings, holding the breaker until finalized.
fn settings_view(env: &Env, breaker: Arc<Breaker>) -> napi::Result<View> {
    let memory = breaker.call_settings() as *const _ as *mut c_void;
    let hint = Arc::into_raw(breaker) as *mut c_void;
    let mut value = ptr::null_mut();
    // SAFETY: `env.raw()` is the live environment of this call; `memory` is 16 bytes inside the
    // breaker's allocation, which the leaked `Arc` passed as the hint keeps alive until
    // `release_breaker` frees it, once, when the buffer is finalized. The core writes the two
    // words atomically; an aligned 64-bit read of one of them cannot tear on the targets we build.
    let created = unsafe {
        sys::napi_create_external_arraybuffer(env.raw(), memory, 16, Some(release_breaker), hint, &mut value)
    };
    if let Err(e) = check(created) {
        // SAFETY: the buffer was not made, so its finalizer will never run: release here, once.
        drop(unsafe { Arc::from_raw(hint as *const Breaker) });
        return Err(e);
    }
    Ok(View::from_raw(value))
}

unsafe extern "C" fn release_breaker(_env: sys::napi_env, _memory: *mut c_void, hint: *mut c_void) {
    // SAFETY: the hint is the `Arc<Breaker>` leaked in `settings_view`; Node calls this once.
    drop(unsafe { Arc::from_raw(hint as *const Breaker) });
}

#[cfg(test)]
mod tests {
    use super::*;
    use breakwater::{Backoff, LatencyRule, RateRule, SlowCallRule};

    #[test]
    fn the_options_of_a_config_make_it_again() {
        let configs = [
            Config::default(),
            Config {
                consecutive_failures: None,
                failure_rate: None,
                slow_call_rate: Some(SlowCallRule {
                    slow_call: Duration::from_millis(250),
                    rate: RateRule::percent(40.0),
                }),
                latency: Some(LatencyRule::p99(Duration::from_millis(200))),
                failures_in_window: Some(7),
                window: Window::Time {
                    length: Duration::from_secs(10),
                    buckets: 5,
                },
                open_duration: Backoff {
                    base: Duration::from_secs(600),
                    multiplier: 1.5,
                    cap: Duration::from_secs(600),
                    jitter: 0.25,
                },
                max_probe_time: Some(Duration::from_millis(1500)),
                call_timeout: Some(Duration::from_millis(750)),
                track_latency: true,
                ..Config::default()
            },
        ];
        for config in configs {
            assert_eq!(NativeOptions::of(&config).to_config().ok(), Some(config));
        }
    }

    #[test]
    fn a_partial_keeps_every_option_it_leaves_out() {
        let base = Config {
            window: Window::Time {
                length: Duration::from_secs(5),
                buckets: 5,
            },
            ..Config::default()
        };
        let partial = NativeOptions {
            consecutive_failures: Some(Either::A(9.0)),
            ..NativeOptions::default()
        };
        let merged = partial.over(NativeOptions::of(&base)).to_config().ok().unwrap();
        assert_eq!(merged.consecutive_failures, Some(9));
        assert_eq!(merged.window, base.window);
        let count = NativeOptions {
            window_size: Some(20.0),
            ..NativeOptions::default()
        };
        let merged = count.over(NativeOptions::of(&base)).to_config().ok().unwrap();
        assert_eq!(merged.window, Window::Count(20));
    }
}
