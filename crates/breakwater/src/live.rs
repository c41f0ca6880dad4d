//! Live rules: a breaker's config and the rules precomputed from it, swapped whole by
//! [`Breaker::configure`](crate::Breaker::configure), so every thread sees the old rules or the
//! new ones, never a mix.
//!
//! The swap is one atomic step (an [`ArcSwap`]: a reader never blocks and never sees a freed
//! config). The rules are read only where a decision needs them: a failure, a slow call, a
//! transition, a probe. The one value a closed success reads, the duration below which a call
//! is healthy, is copied into an atomic beside the swap, so a success pays one plain load.
//!
//! A [`Live`] depends on the config alone, so breakers of equal configs share one (see
//! [`Live::shared`]): a fleet of 100,000 breakers made with the defaults holds one, not 100,000
//! of 368 bytes each.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::{DefaultHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering::*};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use arc_swap::{ArcSwap, Guard};

use crate::config::Config;
use crate::rules::{Rules, WindowCounts, FAILURE};
use crate::state::Reason;
use crate::units::{nanos, NANOS_PER_MS};

/// One version of a breaker's rules.
#[derive(Debug)]
pub(crate) struct Live {
    pub(crate) config: Config,
    pub(crate) rules: Rules,
    /// The probe expiry in whole milliseconds.
    pub(crate) probe_ms: u64,
}

impl Live {
    fn new(config: Config) -> Live {
        Live {
            rules: Rules::new(&config),
            probe_ms: nanos(config.effective_max_probe_time()).div_ceil(NANOS_PER_MS),
            config,
        }
    }

    /// The rules of `config`, shared with every breaker whose config equals it: a `Live` is
    /// never written after it is made, so sharing it changes nothing but the memory it takes.
    /// Only breakers' construction and `configure` come here, never a call.
    pub(crate) fn shared(config: Config) -> Arc<Live> {
        let key = fingerprint(&config);
        let mut guard = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
        let table = guard.get_or_insert_with(Shared::default);
        let bucket = table.lives.entry(key).or_default();
        bucket.retain(|weak| weak.strong_count() > 0);
        if let Some(live) = bucket
            .iter()
            .filter_map(Weak::upgrade)
            .find(|live| live.config == config)
        {
            return live;
        }
        let live = Arc::new(Live::new(config));
        bucket.push(Arc::downgrade(&live));
        table.added();
        live
    }
}

/// The `Live`s in use, by a hash of their config, held weakly: the last breaker to let go of
/// one frees it. A dead entry keeps only its allocation until the next sweep.
#[derive(Default)]
struct Shared {
    lives: HashMap<u64, Vec<Weak<Live>>>,
    /// Entries added since the last sweep, and how many lived after it.
    added: usize,
    kept: usize,
}

impl Shared {
    /// Counts an entry added; sweeps the dead ones out once as many were added as lived after
    /// the last sweep (at least 64), so the table stays within twice the `Live`s in use, at a
    /// constant cost per entry.
    fn added(&mut self) {
        self.added += 1;
        if self.added < self.kept.max(64) {
            return;
        }
        self.lives.retain(|_, bucket| {
            bucket.retain(|weak| weak.strong_count() > 0);
            !bucket.is_empty()
        });
        self.kept = self.lives.values().map(Vec::len).sum();
        self.added = 0;
    }
}

static SHARED: Mutex<Option<Shared>> = Mutex::new(None);

/// A hash of `config` consistent with its `==`: of its `Debug` text, so every field counts,
/// those added later too. Equal configs print alike (valid configs hold no NaN; a `-0.0`, which
/// prints unlike `0.0`, only costs a second `Live`).
fn fingerprint(config: &Config) -> u64 {
    struct Hashing(DefaultHasher);
    impl std::fmt::Write for Hashing {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0.write(s.as_bytes());
            Ok(())
        }
    }
    let mut hashing = Hashing(DefaultHasher::new());
    let _ = write!(hashing, "{config:?}");
    hashing.0.finish()
}

/// The config in force when [`Breaker::config`](crate::Breaker::config) was called (a later
/// [`configure`](crate::Breaker::configure) does not change it): read it as a `&Config`.
pub struct ConfigRef(Guard<Arc<Live>>);

impl std::ops::Deref for ConfigRef {
    type Target = Config;

    fn deref(&self) -> &Config {
        &self.0.config
    }
}

impl std::fmt::Debug for ConfigRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.config.fmt(f)
    }
}

impl PartialEq<&Config> for ConfigRef {
    fn eq(&self, other: &&Config) -> bool {
        self.0.config == **other
    }
}

impl PartialEq<Config> for ConfigRef {
    fn eq(&self, other: &Config) -> bool {
        self.0.config == *other
    }
}

/// The rules in force, replaced whole by [`Breaker::configure`](crate::Breaker::configure).
#[derive(Debug)]
pub(crate) struct LiveRules {
    current: ArcSwap<Live>,
    /// The current rules' `healthy_below`: a call faster than this is judged without loading
    /// them. Stored after each swap: a call racing a swap is judged by the old rules or the new.
    healthy_below: AtomicU64,
    /// Copies of the current config's probe limits, read on every half-open decision (stored
    /// after each swap, as `healthy_below`), packed in one word (see [`ProbeLimits`]).
    probe_limits: AtomicU64,
    /// What a binding's handles read without a call (see [`Breaker::call_settings`](crate::Breaker::call_settings)).
    call_settings: [AtomicU64; 2],
}

/// A config's probe limits in one word, so a breaker pays 8 bytes for its copy instead of 16:
/// the probe expiry in whole milliseconds (bits 0..32: at most 30 days, `MAX_DURATION`, fits),
/// `half_open_successes` (bits 32..56: at most `MAX_WINDOW_CALLS`, 1,000,000) and
/// `half_open_max_probes` (bits 56..64: at most `MAX_PROBES`, 255). A valid config's limits
/// always fit; the conversions saturate all the same.
#[derive(Clone, Copy)]
struct ProbeLimits(u64);

impl ProbeLimits {
    fn of(live: &Live) -> ProbeLimits {
        let probe_ms = u64::from(u32::try_from(live.probe_ms).unwrap_or(u32::MAX));
        let successes = u64::from(live.config.half_open_successes.min((1 << 24) - 1));
        let max_probes = u64::from(live.config.half_open_max_probes.min(u32::from(u8::MAX)));
        ProbeLimits(probe_ms | successes << 32 | max_probes << 56)
    }

    fn probe_ms(self) -> u64 {
        self.0 & 0xFFFF_FFFF
    }

    fn half_open_successes(self) -> u32 {
        ((self.0 >> 32) & 0xFF_FFFF) as u32
    }

    fn max_probes(self) -> u32 {
        (self.0 >> 56) as u32
    }
}

/// The call settings of `config` as `f64` bits: the call timeout in ms (NaN: none), and
/// whether call durations matter (1 or 0).
fn call_settings(config: &Config) -> [u64; 2] {
    let timeout = config.call_timeout.map_or(f64::NAN, |d| d.as_nanos() as f64 / 1e6);
    [
        timeout.to_bits(),
        f64::from(u8::from(config.uses_call_duration())).to_bits(),
    ]
}

impl LiveRules {
    pub(crate) fn new(live: Arc<Live>) -> LiveRules {
        let [timeout, durations] = call_settings(&live.config);
        LiveRules {
            healthy_below: AtomicU64::new(live.rules.healthy_below()),
            call_settings: [AtomicU64::new(timeout), AtomicU64::new(durations)],
            probe_limits: AtomicU64::new(ProbeLimits::of(&live).0),
            current: ArcSwap::new(live),
        }
    }

    /// The rules in force.
    #[inline]
    pub(crate) fn load(&self) -> Guard<Arc<Live>> {
        self.current.load()
    }

    pub(crate) fn config(&self) -> ConfigRef {
        ConfigRef(self.load())
    }

    pub(crate) fn store(&self, live: Arc<Live>) {
        let healthy_below = live.rules.healthy_below();
        let settings = call_settings(&live.config);
        let limits = ProbeLimits::of(&live);
        self.current.store(live);
        self.healthy_below.store(healthy_below, Release);
        self.probe_limits.store(limits.0, Release);
        for (word, bits) in self.call_settings.iter().zip(settings) {
            word.store(bits, Release);
        }
    }

    pub(crate) fn call_settings(&self) -> &[AtomicU64; 2] {
        &self.call_settings
    }

    /// The window flags of a call that took `elapsed_nanos`: a healthy call reads one atomic.
    #[inline]
    pub(crate) fn flags(&self, failed: bool, elapsed_nanos: u64) -> u8 {
        if elapsed_nanos < self.healthy_below.load(Relaxed) {
            return u8::from(failed) * FAILURE;
        }
        self.load().rules.flags(failed, elapsed_nanos)
    }

    /// Calls faster than this are neither slow nor over the latency threshold.
    #[inline]
    pub(crate) fn healthy_below(&self) -> u64 {
        self.healthy_below.load(Relaxed)
    }

    /// Probes let through at once while half-open.
    #[inline]
    pub(crate) fn max_probes(&self) -> u32 {
        self.limits().max_probes()
    }

    /// The probe expiry, in whole milliseconds.
    #[inline]
    pub(crate) fn probe_ms(&self) -> u64 {
        self.limits().probe_ms()
    }

    /// Successful probes that close the breaker.
    #[inline]
    pub(crate) fn half_open_successes(&self) -> u32 {
        self.limits().half_open_successes()
    }

    #[inline]
    fn limits(&self) -> ProbeLimits {
        ProbeLimits(self.probe_limits.load(Relaxed))
    }

    /// Failures in a row that open the breaker (0: the rule is off).
    #[inline]
    pub(crate) fn consecutive_failures(&self) -> u32 {
        self.load().rules.consecutive_failures
    }

    /// The first window rule `counts` break, if any.
    #[inline]
    pub(crate) fn window_trip(&self, counts: WindowCounts) -> Option<Reason> {
        self.load().rules.window_trip(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_no_breaker_holds_leave_the_table() {
        for i in 0..10_000 {
            let config = Config {
                consecutive_failures: Some(100_000 + i),
                ..Config::default()
            };
            drop(Live::shared(config));
        }
        let guard = SHARED.lock().unwrap();
        let entries: usize = guard.as_ref().unwrap().lives.values().map(Vec::len).sum();
        assert!(entries < 2_000, "{entries} entries after 10,000 rules dropped");
    }

    #[test]
    fn probe_limits_at_their_largest_come_back_whole() {
        let config = Config {
            half_open_max_probes: crate::state::MAX_PROBES,
            half_open_successes: crate::config::MAX_WINDOW_CALLS,
            max_probe_time: Some(crate::config::MAX_DURATION),
            window: crate::config::Window::Count(1_000),
            ..Config::default()
        };
        config.validate().unwrap();
        let rules = LiveRules::new(Live::shared(config));
        assert_eq!(rules.max_probes(), 255);
        assert_eq!(rules.half_open_successes(), 1_000_000);
        assert_eq!(rules.probe_ms(), 30 * 24 * 3600 * 1000);
        let defaults = LiveRules::new(Live::shared(Config::default()));
        assert_eq!(
            (
                defaults.max_probes(),
                defaults.half_open_successes(),
                defaults.probe_ms()
            ),
            (3, 2, 60_000)
        );
        defaults.store(rules.load().clone());
        assert_eq!(
            (
                defaults.max_probes(),
                defaults.half_open_successes(),
                defaults.probe_ms()
            ),
            (255, 1_000_000, 30 * 24 * 3600 * 1000)
        );
    }
}
