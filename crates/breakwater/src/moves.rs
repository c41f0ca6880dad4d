//! What a breaker keeps once it has moved: see [`Moves`].

use std::sync::atomic::{AtomicU32, AtomicU64};
use std::sync::Mutex;

use crate::events::Listeners;
use crate::isolation::Isolations;
use crate::state::Transition;

/// What a breaker keeps once it has moved (or has a listener or an isolation): counts and times
/// of its transitions, its backoff, its listeners. Allocated then, by `Inner::moves`: a breaker
/// that never moves never pays for it, and a closed success or an open refusal never reads it.
#[derive(Debug)]
pub(crate) struct Moves {
    /// Probe successes of the current half-open period: `generation << 32 | count`.
    pub(crate) probe_successes: AtomicU64,
    /// Reopens since the breaker last closed for real; picks the open duration.
    pub(crate) reopen_attempt: AtomicU32,
    pub(crate) jitter_seed: AtomicU64,
    pub(crate) open_nanos_total: AtomicU64,
    pub(crate) times_opened: AtomicU64,
    pub(crate) times_half_opened: AtomicU64,
    pub(crate) cas_retries: AtomicU64,
    /// Transitions made, `[from * 5 + to]` in [`State::ALL`](crate::State::ALL) order.
    pub(crate) transition_counts: [AtomicU64; 25],
    pub(crate) listeners: Listeners<Transition>,
    /// Held from a transition's swap to its announcement to the hub while anyone subscribes,
    /// so subscribers hear of a breaker's transitions in the order they happened.
    pub(crate) order: Mutex<()>,
    pub(crate) isolation: Isolations,
}

impl Moves {
    /// A breaker's moves, none made yet, its jitter drawn from `seed`.
    pub(crate) fn new(seed: u64) -> Moves {
        Moves {
            probe_successes: AtomicU64::new(0),
            reopen_attempt: AtomicU32::new(0),
            jitter_seed: AtomicU64::new(seed),
            open_nanos_total: AtomicU64::new(0),
            times_opened: AtomicU64::new(0),
            times_half_opened: AtomicU64::new(0),
            cas_retries: AtomicU64::new(0),
            transition_counts: Default::default(),
            listeners: Listeners::default(),
            order: Mutex::new(()),
            isolation: Isolations::default(),
        }
    }
}
