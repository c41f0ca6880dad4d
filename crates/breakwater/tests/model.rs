//! A plain single-threaded reference model of the breaker, driven with the same random sequence
//! of acquires, reports, clock moves and manual controls as the real one; state, answers and
//! counters must agree after every step. The model is written from the spec, not the code: it
//! keeps the window as a queue and sorts it for the latency percentile.

mod common;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use breakwater::{
    Backoff, Breaker, Clock, Config, FakeClock, LatencyRule, Outcome, Permit, RateRule, Reason, SlowCallRule, State,
    Window,
};
use proptest::prelude::*;

const MS: u64 = 1_000_000;
const NEVER: u64 = u64::MAX;

#[derive(Debug, Clone)]
struct Params {
    window: usize,
    consecutive: Option<u32>,
    rate_percent: u64,
    min_calls: usize,
    slow_ms: Option<u64>,
    p99_ms: Option<u64>,
    probes: u32,
    successes: u32,
}

impl Params {
    fn config(&self) -> Config {
        let rate = RateRule {
            threshold_percent: self.rate_percent as f64,
            min_calls: self.min_calls as u32,
        };
        Config {
            consecutive_failures: self.consecutive,
            failure_rate: Some(rate),
            slow_call_rate: self.slow_ms.map(|ms| SlowCallRule {
                slow_call: Duration::from_millis(ms),
                rate,
            }),
            latency: self.p99_ms.map(|ms| LatencyRule {
                percentile: 99.0,
                threshold: Duration::from_millis(ms),
                min_calls: self.min_calls as u32,
            }),
            window: Window::Count(self.window as u32),
            open_duration: Backoff {
                base: Duration::from_secs(1),
                multiplier: 2.0,
                cap: Duration::from_secs(8),
                jitter: 0.0,
            },
            half_open_max_probes: self.probes,
            half_open_successes: self.successes,
            max_probe_time: Some(Duration::from_secs(2)),
            ..Config::default()
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Acquire,
    Report { held: usize, outcome: Outcome, ms: u64 },
    Advance(u64),
    Reset,
    ForceOpen(Option<u64>),
    Disable,
}

#[derive(Debug, Clone, Copy)]
struct ModelPermit {
    generation: u64,
    state: State,
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Counts {
    acquired: u64,
    rejected: u64,
    successes: u64,
    failures: u64,
    ignored: u64,
    stale: u64,
}

struct Model {
    p: Params,
    state: State,
    generation: u64,
    in_flight: u32,
    deadline_ns: u64,
    probe_successes: u32,
    consecutive: u32,
    reopens: u32,
    window: VecDeque<(bool, u64)>,
    counts: Counts,
}

impl Model {
    fn new(p: Params) -> Self {
        Model {
            p,
            state: State::Closed,
            generation: 0,
            in_flight: 0,
            deadline_ns: 0,
            probe_successes: 0,
            consecutive: 0,
            reopens: 0,
            window: VecDeque::new(),
            counts: Counts::default(),
        }
    }

    fn enter(&mut self, state: State, deadline_ns: u64) {
        self.state = state;
        self.generation += 1;
        self.in_flight = 0;
        self.probe_successes = 0;
        self.deadline_ns = deadline_ns;
        if state == State::Closed {
            self.window.clear();
            self.consecutive = 0;
            self.reopens = 0;
        }
    }

    fn open(&mut self, now: u64) {
        let secs = (1u64 << self.reopens.min(3)).min(8);
        self.enter(State::Open, (now + secs * 1_000 * MS) / MS * MS);
        self.reopens += 1;
    }

    fn acquire(&mut self, now: u64) -> Result<ModelPermit, Option<u64>> {
        loop {
            let expired = now / MS * MS >= self.deadline_ns;
            match self.state {
                State::Open | State::ForcedOpen if !expired => break,
                State::Open | State::ForcedOpen => {
                    self.enter(State::HalfOpen, 0);
                }
                State::HalfOpen if self.in_flight == self.p.probes && expired => {
                    self.open(now);
                    continue;
                }
                State::HalfOpen if self.in_flight == self.p.probes => break,
                _ => {}
            }
            if self.state == State::HalfOpen {
                self.in_flight += 1;
                self.deadline_ns = (now / MS + 2_000) * MS;
            }
            self.counts.acquired += 1;
            return Ok(ModelPermit {
                generation: self.generation,
                state: self.state,
            });
        }
        self.counts.rejected += 1;
        let until_deadline = self.deadline_ns.saturating_sub(now);
        if self.state == State::HalfOpen {
            // A probe slot may free at any moment: at most a second, or until the probes expire.
            return Err(Some(until_deadline.min(1_000 * MS)));
        }
        Err((self.deadline_ns != NEVER).then_some(until_deadline))
    }

    fn unhealthy(&self, failed: bool, ms: u64) -> bool {
        failed || self.p.slow_ms.is_some_and(|s| ms >= s) || self.p.p99_ms.is_some_and(|t| ms > t)
    }

    fn window_trips(&self) -> bool {
        let n = self.window.len();
        if n < self.p.min_calls {
            return false;
        }
        let failures = self.window.iter().filter(|(f, _)| *f).count() as u64;
        let rate = self.p.rate_percent;
        if failures * 100 >= rate * n as u64 {
            return true;
        }
        if let Some(slow) = self.p.slow_ms {
            let slow = self.window.iter().filter(|(_, ms)| *ms >= slow).count() as u64;
            if slow * 100 >= rate * n as u64 {
                return true;
            }
        }
        if let Some(limit) = self.p.p99_ms {
            let mut sorted: Vec<u64> = self.window.iter().map(|(_, ms)| *ms).collect();
            sorted.sort_unstable();
            let k = ((n - 1) as f64 * 0.99).floor() as usize;
            return sorted[k] > limit;
        }
        false
    }

    fn report(&mut self, permit: ModelPermit, outcome: Outcome, ms: u64, now: u64) {
        let current = permit.generation == self.generation && permit.state == self.state;
        match outcome {
            Outcome::Success => self.counts.successes += 1,
            Outcome::Failure | Outcome::Timeout => self.counts.failures += 1,
            Outcome::Ignored => self.counts.ignored += 1,
        }
        if !current {
            self.counts.stale += 1;
            return;
        }
        let failed = matches!(outcome, Outcome::Failure | Outcome::Timeout);
        match (self.state, outcome) {
            (State::HalfOpen, Outcome::Ignored) => self.in_flight -= 1,
            (State::HalfOpen, _) if self.unhealthy(failed, ms) => self.open(now),
            (State::HalfOpen, _) => {
                self.probe_successes += 1;
                if self.probe_successes >= self.p.successes {
                    self.enter(State::Closed, 0);
                } else {
                    self.in_flight -= 1;
                }
            }
            (State::Closed, Outcome::Ignored) => {}
            (State::Closed, _) => {
                if self.window.len() == self.p.window {
                    self.window.pop_front();
                }
                self.window.push_back((failed, ms));
                self.consecutive = if failed { self.consecutive + 1 } else { 0 };
                if self.p.consecutive.is_some_and(|n| self.consecutive >= n)
                    || (self.unhealthy(failed, ms) && self.window_trips())
                {
                    self.open(now);
                }
            }
            _ => {}
        }
    }

    fn force(&mut self, to: State, deadline_ns: u64) {
        if self.state == to {
            match to {
                State::Closed => self.enter(State::Closed, 0),
                State::ForcedOpen => self.deadline_ns = deadline_ns,
                _ => {}
            }
        } else {
            self.enter(to, deadline_ns);
            if to == State::Closed {
                self.reopens = 0;
            }
        }
    }
}

fn params() -> impl Strategy<Value = Params> {
    (
        4usize..12,
        prop::option::of(2u32..5),
        prop::sample::select(vec![25u64, 50, 75, 100]),
        prop::option::of(prop::sample::select(vec![50u64, 150])),
        prop::option::of(prop::sample::select(vec![100u64, 180])),
        1u32..4,
        1u32..4,
    )
        .prop_flat_map(
            |(window, consecutive, rate_percent, slow_ms, p99_ms, probes, successes)| {
                (1..=window).prop_map(move |min_calls| Params {
                    window,
                    consecutive,
                    rate_percent,
                    min_calls,
                    slow_ms,
                    p99_ms,
                    probes: probes.min(window as u32),
                    successes,
                })
            },
        )
}

fn op() -> impl Strategy<Value = Op> {
    let outcome = prop::sample::select(vec![
        Outcome::Success,
        Outcome::Failure,
        Outcome::Timeout,
        Outcome::Ignored,
    ]);
    prop_oneof![
        6 => Just(Op::Acquire),
        6 => (0usize..8, outcome, prop::sample::select(vec![1u64, 60, 120, 200])).prop_map(|(held, outcome, ms)| Op::Report { held, outcome, ms }),
        3 => prop::sample::select(vec![1u64, 500, 1_000, 2_000, 4_000, 9_000]).prop_map(Op::Advance),
        1 => Just(Op::Reset),
        1 => prop::option::of(prop::sample::select(vec![1_000u64, 3_000])).prop_map(Op::ForceOpen),
        1 => Just(Op::Disable),
    ]
}

fn run(p: Params, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let clock = FakeClock::new();
    let breaker = Breaker::with_clock("model", p.config(), Arc::new(clock.clone())).unwrap();
    let mut model = Model::new(p);
    let mut held: Vec<(Permit, ModelPermit)> = Vec::new();
    for (step, op) in ops.into_iter().enumerate() {
        let now = clock.now_nanos();
        match op {
            Op::Acquire => match (breaker.try_acquire(), model.acquire(now)) {
                (Ok(real), Ok(expected)) => held.push((real, expected)),
                (Err(real), Err(retry_after)) => {
                    let real_ns = real.retry_after.map(|d| d.as_nanos() as u64);
                    prop_assert_eq!(real_ns, retry_after, "step {}: retry_after", step);
                }
                (real, expected) => prop_assert!(false, "step {step}: real {real:?}, model {expected:?}"),
            },
            Op::Report { held: i, outcome, ms } if !held.is_empty() => {
                let (real, expected) = held.remove(i % held.len());
                breaker.record(real, outcome, Duration::from_millis(ms));
                model.report(expected, outcome, ms, now);
            }
            Op::Report { .. } => {}
            Op::Advance(ms) => clock.advance(Duration::from_millis(ms)),
            Op::Reset => {
                breaker.reset();
                model.force(State::Closed, 0);
            }
            Op::ForceOpen(ms) => {
                breaker.force_open(ms.map(Duration::from_millis));
                model.force(State::ForcedOpen, ms.map_or(NEVER, |ms| (now + ms * MS) / MS * MS));
            }
            Op::Disable => {
                breaker.disable();
                model.force(State::Disabled, 0);
            }
        }
        let m = breaker.metrics();
        prop_assert_eq!(m.state, model.state, "step {}: state", step);
        let c = &model.counts;
        let real = (m.calls, m.rejections, m.successes, m.failures, m.ignored, m.stale);
        let expected = (
            c.acquired + c.rejected,
            c.rejected,
            c.successes,
            c.failures,
            c.ignored,
            c.stale,
        );
        prop_assert_eq!(real, expected, "step {}: counters", step);
        prop_assert_eq!(m.in_flight, held.len() as u64, "step {}: in flight", step);
        prop_assert_eq!(m.consecutive_failures, model.consecutive, "step {}: consecutive", step);
        if model.state == State::Closed {
            let failures = model.window.iter().filter(|(f, _)| *f).count() as u64;
            prop_assert_eq!(
                (m.window.calls, m.window.failures),
                (model.window.len() as u64, failures)
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn the_breaker_behaves_like_the_reference_model(p in params(), ops in prop::collection::vec(op(), 1..150)) {
        run(p, ops)?;
    }
}

#[test]
fn the_model_agrees_on_a_trip_and_recovery_by_hand() {
    let p = Params {
        window: 4,
        consecutive: Some(2),
        rate_percent: 50,
        min_calls: 4,
        slow_ms: None,
        p99_ms: None,
        probes: 1,
        successes: 1,
    };
    let report = |held| Op::Report {
        held,
        outcome: Outcome::Failure,
        ms: 1,
    };
    let ops = vec![
        Op::Acquire,
        report(0),
        Op::Acquire,
        report(0),
        Op::Acquire,
        Op::Advance(1_000),
        Op::Acquire,
    ];
    run(p, ops).unwrap();
    let _ = Reason::Manual;
}
