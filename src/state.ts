import { reasonNames, stateNames } from './native.js'

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

export const STATES = stateNames() as StateName[]
const REASONS = reasonNames() as ReasonName[]

/** Decodes the binding's transition code, `1 + from + 8 * to + 64 * reason`. */
export function decodeTransition(code: number): Pick<StateChange, 'from' | 'to' | 'reason'> {
  const n = code - 1
  return { from: STATES[n & 7]!, to: STATES[(n >> 3) & 7]!, reason: REASONS[n >> 6]! }
}
