//! [`Breaker::configure`]: new rules for a live breaker, checked whole, swapped at once.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::breaker::Breaker;
use std::time::Duration;

use crate::config::{fail, Config, ConfigError, Violation, Window};
use crate::live::Live;
use crate::state::{Reason, State, Transition};

impl Breaker {
    /// Replaces the breaker's rules at once, for every thread: thresholds, windows rules,
    /// open durations, probes, timeouts. Checked whole first: an invalid config changes nothing.
    ///
    /// What survives: the state and its deadline (an open breaker keeps its open-until; the new
    /// open durations apply from its next opening), the window's contents, the consecutive
    /// failures, the backoff attempt, every permit in flight and every metric. A call racing
    /// the change is judged by the old rules or by the new ones. If the closed window (or the
    /// failures in a row) already breaks the new rules, the breaker opens at once with
    /// [`Reason::Reconfigured`], which is the transition returned.
    ///
    /// Two things are fixed when the breaker is made and refused here: the window's shape
    /// (count or time, its size, length and buckets) and `track_latency`.
    ///
    /// ```
    /// use breakwater::{Breaker, Config, Outcome, Reason, State};
    /// use std::time::Duration;
    ///
    /// let breaker = Breaker::new("quotes", Config { consecutive_failures: Some(5), ..Config::default() })?;
    /// for _ in 0..3 {
    ///     let permit = breaker.try_acquire().unwrap();
    ///     breaker.record(permit, Outcome::Failure, Duration::from_millis(1));
    /// }
    /// let opened = breaker.configure(Config { consecutive_failures: Some(3), ..breaker.config().clone() })?;
    /// assert_eq!(opened.map(|t| (t.to, t.reason)), Some((State::Open, Reason::Reconfigured)));
    /// assert_eq!(breaker.config().consecutive_failures, Some(3));
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn configure(&self, config: Config) -> Result<Option<Transition>, ConfigError> {
        config.validate()?;
        let old = self.inner.rules.load();
        if let Some((field, was, given)) = fixed_change(&old.config, &config) {
            let rule = format!("{was}, as when the breaker was made");
            return fail(
                field,
                rule,
                &given,
                Violation::Fixed {
                    was,
                    given: given.clone(),
                },
            );
        }
        drop(old);
        // Successes pending in the callers' lanes were judged by the old rules: fold them first;
        // then tell every lane whether the new rules still let successes through it (a latency
        // rule added needs each call's duration).
        self.fold_successes();
        self.inner.rules.store(Live::shared(config));
        self.refresh_lanes();
        Ok(self.trip_on_new_rules())
    }

    /// Two `f64`s, as bits, that a binding's handles read through shared memory instead of a
    /// call, and that [`configure`](Breaker::configure) changes for every thread: the call
    /// timeout in milliseconds (NaN: none) and whether call durations matter (1.0 or 0.0: see
    /// [`Config::uses_call_duration`]). Read them, never write them.
    pub fn call_settings(&self) -> &[AtomicU64; 2] {
        self.inner.rules.call_settings()
    }

    /// Opens a closed breaker whose failures in a row or window already break the rules in force.
    fn trip_on_new_rules(&self) -> Option<Transition> {
        let word = self.load();
        if word.state() != State::Closed {
            return None;
        }
        let threshold = self.inner.rules.consecutive_failures();
        let in_a_row = self.consecutive.load(Relaxed);
        if (threshold > 0 && in_a_row >= threshold) || self.inner.rules.window_trip(self.window_counts()).is_some() {
            return self.trip(word, Reason::Reconfigured);
        }
        None
    }
}

/// The first option of `new` that a live breaker cannot change and that differs from `old`:
/// its field and both values (counts as numbers, durations in milliseconds).
fn fixed_change(old: &Config, new: &Config) -> Option<(&'static str, String, String)> {
    let ms = |d: Duration| (d.as_nanos() as f64 / 1e6).to_string();
    let shape = |w: Window| match w {
        Window::Count(n) => ("window.count", n.to_string()),
        Window::Time { length, .. } => ("window.length", ms(length)),
    };
    match (old.window, new.window) {
        (Window::Time { length: a, buckets: x }, Window::Time { length: b, buckets: y }) if a == b && x != y => {
            return Some(("window.buckets", x.to_string(), y.to_string()));
        }
        (a, b) if a != b => {
            let ((_, was), (field, given)) = (shape(a), shape(b));
            let was = if std::mem::discriminant(&a) == std::mem::discriminant(&b) {
                was
            } else {
                "off".into()
            };
            return Some((field, was, given));
        }
        _ => {}
    }
    (old.track_latency != new.track_latency).then(|| {
        let show = |b: bool| b.to_string();
        ("track_latency", show(old.track_latency), show(new.track_latency))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FakeClock, LatencyRule, Outcome, RateRule};
    use std::sync::Arc;

    fn breaker(config: Config) -> Breaker {
        Breaker::with_clock("live", config, Arc::new(FakeClock::new())).unwrap()
    }

    fn calls(b: &Breaker, outcome: Outcome, ms: u64, n: usize) {
        for _ in 0..n {
            let permit = b.try_acquire().unwrap();
            b.record(permit, outcome, Duration::from_millis(ms));
        }
    }

    #[test]
    fn a_lower_failure_rate_opens_a_window_that_breaks_it() {
        let b = breaker(Config {
            consecutive_failures: None,
            ..Config::default()
        });
        calls(&b, Outcome::Failure, 1, 3);
        calls(&b, Outcome::Success, 1, 7);
        assert_eq!(b.state(), State::Closed, "30 % < 50 %");
        let t = b
            .configure(Config {
                failure_rate: Some(RateRule::percent(25.0)),
                ..b.config().clone()
            })
            .unwrap()
            .unwrap();
        assert_eq!(
            (t.from, t.to, t.reason),
            (State::Closed, State::Open, Reason::Reconfigured)
        );
    }

    #[test]
    fn the_window_and_the_failures_in_a_row_survive_a_change() {
        let b = breaker(Config::default());
        calls(&b, Outcome::Failure, 1, 2);
        assert_eq!(
            b.configure(Config {
                consecutive_failures: Some(4),
                ..b.config().clone()
            }),
            Ok(None)
        );
        assert_eq!(b.window_counts().calls, 2);
        calls(&b, Outcome::Failure, 1, 1);
        assert_eq!(b.state(), State::Closed);
        calls(&b, Outcome::Failure, 1, 1);
        assert_eq!(b.state(), State::Open, "2 before the change + 2 after = 4");
    }

    #[test]
    fn an_added_latency_rule_judges_the_next_calls() {
        let b = breaker(Config {
            consecutive_failures: None,
            failure_rate: None,
            ..Config::default()
        });
        calls(&b, Outcome::Success, 500, 10);
        assert_eq!(b.window_counts().over_latency, 0);
        let rule = LatencyRule {
            min_calls: 5,
            ..LatencyRule::p99(Duration::from_millis(100))
        };
        b.configure(Config {
            latency: Some(rule),
            ..b.config().clone()
        })
        .unwrap();
        calls(&b, Outcome::Success, 500, 1);
        assert_eq!((b.state(), b.window_counts().over_latency), (State::Closed, 1));
        // 12 calls: P99 is sorted[floor(11 * 0.99)] = sorted[10], above 100 ms with 2 slow calls.
        calls(&b, Outcome::Success, 500, 1);
        assert_eq!(b.state(), State::Open);
    }

    #[test]
    fn invalid_or_fixed_options_change_nothing() {
        let b = breaker(Config::default());
        let before = b.config().clone();
        let bad = Config {
            half_open_max_probes: 0,
            ..b.config().clone()
        };
        assert_eq!(b.configure(bad).unwrap_err().field, "half_open_max_probes");
        let reshaped = Config {
            window: Window::Count(10),
            ..b.config().clone()
        };
        let e = b.configure(reshaped).unwrap_err();
        assert_eq!(
            e.to_string(),
            "window.count must be 100, as when the breaker was made, but was \"10\""
        );
        assert_eq!(b.config(), before);
    }
}
