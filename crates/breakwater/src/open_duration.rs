//! The rules of the `open_duration` option, a [`Backoff`]: kept apart from the backoff itself so
//! that `backoff.rs` needs nothing of the configuration that holds it.

use std::time::Duration;

use crate::backoff::Backoff;
use crate::config::{check_duration, fail, ConfigError, Violation};

impl Backoff {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        check_duration("open_duration.base", self.base, Duration::from_millis(1))?;
        if !(self.multiplier.is_finite() && self.multiplier >= 1.0) {
            return fail(
                "open_duration.multiplier",
                "a finite number of at least 1",
                self.multiplier,
                Violation::AtLeast {
                    min: 1.0,
                    value: self.multiplier,
                },
            );
        }
        check_duration("open_duration.cap", self.cap, self.base)?;
        if !(self.jitter.is_finite() && (0.0..=1.0).contains(&self.jitter)) {
            return fail(
                "open_duration.jitter",
                "a number within 0..=1",
                self.jitter,
                Violation::Fraction { value: self.jitter },
            );
        }
        Ok(())
    }
}
