// Generated from crates/breakwater-node/src/wire.rs by `cargo test -p breakwater-node`. DO NOT EDIT.
// Regenerate: BREAKWATER_WRITE_WIRE=1 cargo test -p breakwater-node generated_wire

/** The state names, by state number. */
export const STATE_NAMES = ['closed', 'open', 'half_open', 'forced_open', 'disabled'] as const

/** The reason names, by the reason part of a transition code. */
export const REASON_NAMES = ['consecutive_failures', 'failure_rate', 'slow_call_rate', 'failures_in_window', 'latency_percentile', 'probe_failed', 'probe_timed_out', 'open_elapsed', 'forced_open_elapsed', 'probes_succeeded', 'manual', 'remote', 'health_check', 'retry_after', 'reconfigured'] as const

/** The numbers of the packing, as a const enum so the bundler writes them into the decoding as literals. */
export const enum Wire {
  /** Permits are below this; an acquire that moved the breaker adds `TransitionUnit * transition code`. */
  TransitionUnit = 16777216,
  /** A transition code is `1 + from + StateRadix * to + ReasonUnit * reason`. */
  StateRadix = 8,
  /** See `StateRadix`. */
  ReasonUnit = 64,
  /** A refusal is `-(1 + state + StateRadix * transition + RefusalRetryUnit * (retryAfterMs + 1))`. */
  RefusalRetryUnit = 8192,
  /** The state in the state word's low half. */
  WordStateMask = 0b111,
  /** The permit bits (state and generation) of the state word's low half; a closed word's permit is `TransitionUnit +` them. */
  WordPermitBits = 0xfff807,
}

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
export const WIRE_FINGERPRINT = 'fceb196a016a3a75'
