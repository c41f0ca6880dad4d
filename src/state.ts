import type { WireReason, WireState } from './wire.js'

/** A breaker's state. */
export type StateName = 'closed' | 'open' | 'half_open' | 'forced_open' | 'disabled'

/** Why a breaker changed state. */
export type ReasonName =
  | 'consecutive_failures'
  | 'failure_rate'
  | 'slow_call_rate'
  | 'failures_in_window'
  | 'latency_percentile'
  | 'probe_failed'
  | 'probe_timed_out'
  | 'open_elapsed'
  | 'forced_open_elapsed'
  | 'probes_succeeded'
  | 'manual'
  | 'remote'
  | 'health_check'
  | 'retry_after'
  | 'reconfigured'

/**
 * One change of state, made by any thread of the process (or by the native core itself), as every
 * listener in every thread receives it.
 */
export interface StateChange {
  /** The breaker's name. */
  name: string
  from: StateName
  to: StateName
  reason: ReasonName
  /** When it happened: wall-clock milliseconds since the Unix epoch, like `Date.now()`. */
  at: number
  /** On a move to `open` or `forced_open` with a deadline: milliseconds until a call may probe. */
  retryAfterMs?: number
}

export { STATES } from './wire.js'

// The unions above name exactly the binding's states and reasons (generated from Rust): a state
// or reason added in the core fails the build here until it is named above.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
const statesMatch: Same<StateName, WireState> = true
const reasonsMatch: Same<ReasonName, WireReason> = true
void statesMatch
void reasonsMatch
