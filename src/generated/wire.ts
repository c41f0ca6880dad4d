// Generated from crates/breakwater-node/src/wire.rs by `cargo test -p breakwater-node`. DO NOT EDIT.
// Regenerate: BREAKWATER_WRITE_WIRE=1 cargo test -p breakwater-node generated_wire

/** The state names, by state number. */
export const STATE_NAMES = ['closed', 'open', 'half_open', 'forced_open', 'disabled'] as const

/** The reason names, by the reason part of a transition code. */
export const REASON_NAMES = ['consecutive_failures', 'failure_rate', 'slow_call_rate', 'failures_in_window', 'latency_percentile', 'probe_failed', 'probe_timed_out', 'open_elapsed', 'forced_open_elapsed', 'probes_succeeded', 'manual', 'remote', 'health_check', 'retry_after'] as const

/** Permits are below this; an acquire that moved the breaker adds `TRANSITION_UNIT * transition code`. */
export const TRANSITION_UNIT = 16777216

/** A transition code is `1 + from + STATE_RADIX * to + REASON_UNIT * reason`. */
export const STATE_RADIX = 8

/** See `STATE_RADIX`. */
export const REASON_UNIT = 64

/** A refusal is `-(1 + state + STATE_RADIX * transition + REFUSAL_RETRY_UNIT * (retryAfterMs + 1))`. */
export const REFUSAL_RETRY_UNIT = 8192

/** The state in the state word's low half. */
export const WORD_STATE_MASK = 0b111

/** The permit bits (state and generation) of the state word's low half; a closed word's permit is `TRANSITION_UNIT +` them. */
export const WORD_PERMIT_BITS = 0xfff807

/** How a call ended, as `record` takes it; any other number counts as ignored. */
export const enum Outcome {
  Success = 0,
  Failure = 1,
  Timeout = 2,
  Ignored = 3,
}

/** The named fields of a metrics record, in order; the transition counts `[from * 5 + to]` follow. */
export const METRIC_FIELDS = ['state', 'stateSinceMs', 'timeInStateMs', 'retryAfterMs', 'calls', 'successes', 'failures', 'ignored', 'rejections', 'inFlight', 'timeouts', 'slowCalls', 'stale', 'timesOpened', 'timesHalfOpened', 'timeOpenMs', 'successRate', 'consecutiveFailures', 'windowCalls', 'windowFailures', 'windowSlowCalls', 'windowFailureRate', 'windowSlowCallRate', 'latencyCount', 'latencyMin', 'latencyMean', 'latencyP50', 'latencyP95', 'latencyP99', 'latencyMax'] as const

/** Numbers in one breaker's metrics record. */
export const RECORD_LEN = 55

/** What the binding's `wireFingerprint()` must answer: it packs these numbers this way. */
export const WIRE_FINGERPRINT = '91a58dd1e8ec1a9b'
