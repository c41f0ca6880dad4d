//! Breaker states, why they change, the table of legal changes, and the packed state word that a
//! compare-and-swap loop updates.

use std::fmt;

/// Where a breaker is in its life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum State {
    /// Calls pass; outcomes are counted and the trip rules watch them.
    Closed = 0,
    /// Calls are rejected until the open duration has passed; the next call then probes.
    Open = 1,
    /// A few probe calls pass; enough successes close the breaker, a failure reopens it.
    HalfOpen = 2,
    /// Opened by hand or by the fleet, optionally until a deadline; the rules cannot close it.
    ForcedOpen = 3,
    /// Every call passes and is counted, and no rule can open the breaker.
    Disabled = 4,
}

impl State {
    /// Every state, in declaration order.
    pub const ALL: [State; 5] = [
        State::Closed,
        State::Open,
        State::HalfOpen,
        State::ForcedOpen,
        State::Disabled,
    ];

    /// The state's name in snake case, as events and health views print it.
    pub const fn as_str(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half_open",
            State::ForcedOpen => "forced_open",
            State::Disabled => "disabled",
        }
    }

    /// Whether calls are refused in this state (half-open refuses only beyond its probes).
    pub const fn is_open(self) -> bool {
        matches!(self, State::Open | State::ForcedOpen)
    }

    /// The state in the low three bits (a table: one load, where a match costs a dozen
    /// instructions on the hot path).
    #[inline(always)]
    pub(crate) const fn from_bits(bits: u64) -> State {
        const BY_BITS: [State; 8] = [
            State::Closed,
            State::Open,
            State::HalfOpen,
            State::ForcedOpen,
            State::Disabled,
            State::Disabled,
            State::Disabled,
            State::Disabled,
        ];
        BY_BITS[(bits & 0b111) as usize]
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a breaker changed state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Closed -> Open: `consecutive_failures` failures in a row.
    ConsecutiveFailures,
    /// Closed -> Open: the window's failure rate reached its threshold.
    FailureRate,
    /// Closed -> Open: the window's slow-call rate reached its threshold.
    SlowCallRate,
    /// Closed -> Open: the window held `failures_in_window` failures, whatever the rate.
    FailuresInWindow,
    /// Closed -> Open: the window's latency percentile exceeded its threshold.
    LatencyPercentile,
    /// HalfOpen -> Open: a probe failed (or was slow).
    ProbeFailed,
    /// HalfOpen -> Open: every probe slot was held past `max_probe_time` without a report.
    ProbeTimedOut,
    /// Open -> HalfOpen: the open duration has passed.
    OpenElapsed,
    /// ForcedOpen -> HalfOpen: the forced-open deadline has passed.
    ForcedOpenElapsed,
    /// HalfOpen -> Closed: enough probes succeeded.
    ProbesSucceeded,
    /// A person or program called reset, force open or disable.
    Manual,
    /// The fleet (another instance) told this breaker to change.
    Remote,
    /// Open -> HalfOpen: a health check found the dependency well before the open duration passed.
    HealthCheck,
    /// -> ForcedOpen: the dependency asked callers to wait (an HTTP `Retry-After`, say).
    RetryAfter,
    /// Closed -> Open at once by new rules that the window (or the failures in a row) already
    /// breaks (see [`Breaker::configure`](crate::Breaker::configure)).
    Reconfigured,
}

impl Reason {
    /// Every reason, in declaration order.
    pub const ALL: [Reason; 15] = [
        Reason::ConsecutiveFailures,
        Reason::FailureRate,
        Reason::SlowCallRate,
        Reason::FailuresInWindow,
        Reason::LatencyPercentile,
        Reason::ProbeFailed,
        Reason::ProbeTimedOut,
        Reason::OpenElapsed,
        Reason::ForcedOpenElapsed,
        Reason::ProbesSucceeded,
        Reason::Manual,
        Reason::Remote,
        Reason::HealthCheck,
        Reason::RetryAfter,
        Reason::Reconfigured,
    ];

    /// The reason's name in snake case.
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::ConsecutiveFailures => "consecutive_failures",
            Reason::FailureRate => "failure_rate",
            Reason::SlowCallRate => "slow_call_rate",
            Reason::FailuresInWindow => "failures_in_window",
            Reason::LatencyPercentile => "latency_percentile",
            Reason::ProbeFailed => "probe_failed",
            Reason::ProbeTimedOut => "probe_timed_out",
            Reason::OpenElapsed => "open_elapsed",
            Reason::ForcedOpenElapsed => "forced_open_elapsed",
            Reason::ProbesSucceeded => "probes_succeeded",
            Reason::Manual => "manual",
            Reason::Remote => "remote",
            Reason::HealthCheck => "health_check",
            Reason::RetryAfter => "retry_after",
            Reason::Reconfigured => "reconfigured",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One change of state, as reported to the caller that made it and to listeners.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// The state before.
    pub from: State,
    /// The state after.
    pub to: State,
    /// Why it changed.
    pub reason: Reason,
    /// When, in nanoseconds of the breaker's clock.
    pub at_nanos: u64,
}

/// The legal transitions, row = from, column = to, in [`State::ALL`] order.
///
/// Self transitions are not transitions: resetting a closed breaker clears its counts, forcing a
/// forced-open breaker moves its deadline, and neither is reported.
const LEGAL: [[bool; 5]; 5] = [
    //            Closed Open   HalfOp Forced Disabled
    /* Closed */ [false, true, false, true, true],
    /* Open   */ [true, false, true, true, true],
    /* HalfOp */ [true, true, false, true, true],
    /* Forced */ [true, false, true, false, true],
    /* Disab. */ [true, false, false, true, false],
];

/// Whether `from -> to` is a legal transition.
pub const fn is_legal(from: State, to: State) -> bool {
    LEGAL[from as usize][to as usize]
}

/// The state word: everything that must change together, in one `u64`.
///
/// ```text
/// bits  0..3   state
/// bits  3..11  probes in flight (half-open only)
/// bits 11..24  generation: +1 on every transition, so permits from before it are recognised as stale
/// bits 24..64  deadline in milliseconds of the clock: open-until (open, forced open; NEVER = none),
///              probe expiry (half-open)
/// ```
/// 40 bits of milliseconds last 34 years of clock time. The 13-bit generation wraps after 8,192
/// transitions; a permit held across exactly a multiple of that many transitions would be taken as
/// current, which the probe expiry and the open durations make practically unreachable.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Word(pub(crate) u64);

const IN_FLIGHT_SHIFT: u32 = 3;
const GEN_SHIFT: u32 = 11;
const DEADLINE_SHIFT: u32 = 24;
pub(crate) const GEN_MASK: u64 = (1 << 13) - 1;
/// The bits of the state (closed is 0).
pub(crate) const STATE_BITS: u64 = 0b111;
/// The bits a permit keeps of the word: state and generation.
pub(crate) const PERMIT_BITS: u64 = STATE_BITS | (GEN_MASK << GEN_SHIFT);
/// The largest number of probes the word can count.
pub const MAX_PROBES: u32 = 255;
/// A deadline that never comes.
pub(crate) const NEVER_MS: u64 = (1 << 40) - 1;

impl Word {
    pub(crate) const fn new(state: State, generation: u64, in_flight: u32, deadline_ms: u64) -> Word {
        Word(
            state as u64
                | ((in_flight as u64 & 0xff) << IN_FLIGHT_SHIFT)
                | ((generation & GEN_MASK) << GEN_SHIFT)
                | ((if deadline_ms > NEVER_MS { NEVER_MS } else { deadline_ms }) << DEADLINE_SHIFT),
        )
    }

    #[inline]
    pub(crate) const fn state(self) -> State {
        State::from_bits(self.0)
    }

    /// Whether the state is closed, in one test.
    #[inline]
    pub(crate) const fn is_closed(self) -> bool {
        self.0 & STATE_BITS == 0
    }

    /// Whether the state is open or forced open (1 or 3: bit 0 set, bit 2 clear), in one test.
    #[inline]
    pub(crate) const fn is_open(self) -> bool {
        self.0 & 0b101 == 0b001
    }

    #[inline]
    pub(crate) const fn in_flight(self) -> u32 {
        ((self.0 >> IN_FLIGHT_SHIFT) & 0xff) as u32
    }

    #[inline]
    pub(crate) const fn generation(self) -> u64 {
        (self.0 >> GEN_SHIFT) & GEN_MASK
    }

    #[inline]
    pub(crate) const fn deadline_ms(self) -> u64 {
        self.0 >> DEADLINE_SHIFT
    }

    /// The word after a transition to `to`: next generation, no probes.
    pub(crate) const fn next(self, to: State, deadline_ms: u64) -> Word {
        Word::new(to, self.generation() + 1, 0, deadline_ms)
    }

    /// The same state and generation with other probe and deadline fields.
    pub(crate) const fn with_probes(self, in_flight: u32, deadline_ms: u64) -> Word {
        Word::new(self.state(), self.generation(), in_flight, deadline_ms)
    }
}

impl fmt::Debug for Word {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Word")
            .field("state", &self.state())
            .field("in_flight", &self.in_flight())
            .field("generation", &self.generation())
            .field("deadline_ms", &self.deadline_ms())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_fields_round_trip() {
        let w = Word::new(State::HalfOpen, 8191, 255, NEVER_MS);
        assert_eq!(w.state(), State::HalfOpen);
        assert_eq!(w.in_flight(), 255);
        assert_eq!(w.generation(), 8191);
        assert_eq!(w.deadline_ms(), NEVER_MS);
        let n = w.next(State::Open, 42);
        assert_eq!(
            (n.state(), n.generation(), n.in_flight(), n.deadline_ms()),
            (State::Open, 0, 0, 42)
        );
    }

    #[test]
    fn deadlines_beyond_forty_bits_saturate_to_never() {
        assert_eq!(Word::new(State::Open, 0, 0, u64::MAX).deadline_ms(), NEVER_MS);
    }

    #[test]
    fn the_one_test_state_checks_match_the_states() {
        for s in State::ALL {
            let word = Word::new(s, 5, 0, 9);
            assert_eq!(word.is_closed(), s == State::Closed, "{s}");
            assert_eq!(word.is_open(), s.is_open(), "{s}");
        }
    }

    #[test]
    fn no_state_may_transition_to_itself() {
        for s in State::ALL {
            assert!(!is_legal(s, s), "{s} -> {s}");
        }
    }
}
