//! How long a breaker stays open: a base that grows on every reopen without a full recovery.

use std::time::Duration;

/// Open duration `min(base * multiplier^attempt, cap)`, optionally spread by jitter.
///
/// `attempt` counts reopens since the breaker last closed for real: the first opening is attempt 0.
///
/// ```
/// use breakwater::Backoff;
/// use std::time::Duration;
///
/// let b = Backoff { base: Duration::from_secs(1), multiplier: 2.0, cap: Duration::from_secs(60), jitter: 0.0 };
/// assert_eq!(b.duration(0), Duration::from_secs(1));
/// assert_eq!(b.duration(3), Duration::from_secs(8));
/// assert_eq!(b.duration(10), Duration::from_secs(60));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// The first open duration, at least 1 ms. Default 30 s.
    pub base: Duration,
    /// Growth per reopen, at least 1. Default 2.
    pub multiplier: f64,
    /// The longest open duration, at least `base`. Default 300 s.
    pub cap: Duration,
    /// Spread, `0..=1`: the duration is drawn from `d * (1 - jitter) ..= d * (1 + jitter)`, then
    /// capped. Default 0.
    pub jitter: f64,
}

/// Default [`Backoff::base`].
pub const DEFAULT_OPEN_BASE: Duration = Duration::from_secs(30);
/// Default [`Backoff::multiplier`].
pub const DEFAULT_OPEN_MULTIPLIER: f64 = 2.0;
/// Default [`Backoff::cap`].
pub const DEFAULT_OPEN_CAP: Duration = Duration::from_secs(300);

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: DEFAULT_OPEN_BASE,
            multiplier: DEFAULT_OPEN_MULTIPLIER,
            cap: DEFAULT_OPEN_CAP,
            jitter: 0.0,
        }
    }
}

impl Backoff {
    /// A fixed open duration: no growth, no jitter.
    pub const fn fixed(duration: Duration) -> Self {
        Self {
            base: duration,
            multiplier: 1.0,
            cap: duration,
            jitter: 0.0,
        }
    }

    /// The open duration of `attempt`, without jitter.
    pub fn duration(&self, attempt: u32) -> Duration {
        let grown = self.base.as_secs_f64() * self.multiplier.powi(attempt.min(1_000) as i32);
        if grown.is_finite() && grown < self.cap.as_secs_f64() {
            Duration::from_secs_f64(grown)
        } else {
            self.cap
        }
    }

    /// The open duration of `attempt` with jitter, where `unit` is a random number in `0..1`.
    pub fn jittered(&self, attempt: u32, unit: f64) -> Duration {
        let d = self.duration(attempt);
        if self.jitter == 0.0 {
            return d;
        }
        let spread = 1.0 + self.jitter * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
        Duration::from_secs_f64(d.as_secs_f64() * spread).min(self.cap)
    }
}

/// A small, fast random source for jitter (splitmix64); quality is ample for spreading deadlines.
pub(crate) fn unit_random(seed: u64) -> f64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn doubles_from_one_second_and_caps_at_sixty_by_attempt_ten() {
        let b = Backoff {
            base: secs(1),
            multiplier: 2.0,
            cap: secs(60),
            jitter: 0.0,
        };
        let got: Vec<u64> = (0..=10).map(|a| b.duration(a).as_secs()).collect();
        assert_eq!(got, [1, 2, 4, 8, 16, 32, 60, 60, 60, 60, 60]);
        assert_eq!(b.duration(u32::MAX), secs(60));
    }

    #[test]
    fn jitter_stays_within_its_bounds_and_under_the_cap() {
        let b = Backoff {
            base: secs(10),
            multiplier: 2.0,
            cap: secs(25),
            jitter: 0.2,
        };
        let (mut lo, mut hi) = (f64::MAX, 0.0f64);
        for seed in 0..10_000u64 {
            let d = b.jittered(0, unit_random(seed)).as_secs_f64();
            assert!((8.0..=12.0).contains(&d), "{d}");
            lo = lo.min(d);
            hi = hi.max(d);
            let capped = b.jittered(1, unit_random(seed)).as_secs_f64();
            assert!((16.0..=25.0).contains(&capped), "{capped}");
        }
        assert!(lo < 8.1 && hi > 11.9, "jitter should cover its range: {lo}..{hi}");
    }

    #[test]
    fn bad_values_are_named() {
        let b = Backoff {
            multiplier: 0.5,
            ..Backoff::default()
        };
        assert_eq!(
            b.validate().unwrap_err().to_string(),
            "open_duration.multiplier must be a finite number of at least 1, but was 0.5"
        );
        let b = Backoff {
            cap: secs(1),
            ..Backoff::default()
        };
        assert!(b
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("open_duration.cap must be within 30s.."));
        let b = Backoff {
            jitter: f64::NAN,
            ..Backoff::default()
        };
        assert!(b
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("open_duration.jitter"));
    }
}
