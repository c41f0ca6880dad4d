//! Time units: nanoseconds and milliseconds as the breaker counts them.

use std::time::Duration;

/// Nanoseconds in a millisecond.
pub(crate) const NANOS_PER_MS: u64 = 1_000_000;

/// Nanoseconds in `d`, saturating (in u64 arithmetic: `as_nanos` goes through u128).
#[inline]
pub(crate) fn nanos(d: Duration) -> u64 {
    d.as_secs()
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::from(d.subsec_nanos()))
}
