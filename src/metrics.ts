import type { StateName } from './state.js'
import { METRIC, type MetricField, STATES, TRANSITION_COUNTS_AT } from './wire.js'

export { RECORD_LEN } from './wire.js'

/** Latency of every measured call, in milliseconds (percentiles within 1 %). */
export interface LatencyStats {
  count: number
  min: number
  mean: number
  p50: number
  p95: number
  p99: number
  max: number
}

/**
 * What a breaker has seen since it was created, across every thread of the process. Read while
 * other threads make calls, it is consistent in itself (no negative count, rates within 0 to 100,
 * latency percentiles ordered between `min` and `max`), though it may be off by the calls that
 * ended while it was read.
 */
export interface Metrics {
  state: StateName
  /** When the state began, in milliseconds of the breaker's clock. */
  stateSinceMs: number
  /** How long the breaker has been in its state, in milliseconds (`Date.now() - timeInStateMs` is when it began). */
  timeInStateMs: number
  /**
   * Open or forced open until a deadline: milliseconds until a call may probe (0 once the deadline
   * has passed: the next call probes). Absent in other states, and when forced open until `reset()`.
   */
  retryAfterMs?: number
  /** Every call asked for, counted when it is let through: successes + failures + ignored + rejections + inFlight. */
  calls: number
  successes: number
  /** Failures, timeouts included. */
  failures: number
  /** Calls whose outcome was ignored (a caller's abort), and calls a thread was running when it ended. */
  ignored: number
  rejections: number
  /** Calls let through and not ended yet, in every thread (a closed breaker's included). */
  inFlight: number
  timeouts: number
  slowCalls: number
  /** Outcomes reported after the breaker had moved on: counted, but moved no state. */
  stale: number
  timesOpened: number
  timesHalfOpened: number
  timeOpenMs: number
  /** successes / (successes + failures), in percent; 100 before any call. */
  successRate: number
  consecutiveFailures: number
  window: { calls: number; failures: number; slowCalls: number; failureRate: number; slowCallRate: number }
  /** Present when the breaker tracks latency (`trackLatency` or a latency rule). */
  latency?: LatencyStats
  /** Every kind of transition the breaker has made since it was created, with how often. */
  transitions: TransitionCount[]
}

/** How often a breaker has moved from one state to another. */
export interface TransitionCount {
  from: StateName
  to: StateName
  count: number
}

const STATE_COUNT = STATES.length

/** The metrics in the binding's record at `at` of `r` (laid out as `wire.ts` describes). */
export function toMetrics(r: Float64Array, at = 0): Metrics {
  const n = (field: MetricField) => r[at + METRIC[field]]!
  const retryAfterMs = n('retryAfterMs')
  const m: Metrics = {
    state: STATES[n('state')]!,
    stateSinceMs: n('stateSinceMs'),
    timeInStateMs: n('timeInStateMs'),
    calls: n('calls'),
    successes: n('successes'),
    failures: n('failures'),
    ignored: n('ignored'),
    rejections: n('rejections'),
    inFlight: n('inFlight'),
    timeouts: n('timeouts'),
    slowCalls: n('slowCalls'),
    stale: n('stale'),
    timesOpened: n('timesOpened'),
    timesHalfOpened: n('timesHalfOpened'),
    timeOpenMs: n('timeOpenMs'),
    successRate: n('successRate'),
    consecutiveFailures: n('consecutiveFailures'),
    window: {
      calls: n('windowCalls'),
      failures: n('windowFailures'),
      slowCalls: n('windowSlowCalls'),
      failureRate: n('windowFailureRate'),
      slowCallRate: n('windowSlowCallRate'),
    },
    transitions: transitionCounts(r, at + TRANSITION_COUNTS_AT),
  }
  if (!Number.isNaN(retryAfterMs)) m.retryAfterMs = Math.ceil(retryAfterMs)
  if (!Number.isNaN(n('latencyCount'))) {
    m.latency = {
      count: n('latencyCount'),
      min: n('latencyMin'),
      mean: n('latencyMean'),
      p50: n('latencyP50'),
      p95: n('latencyP95'),
      p99: n('latencyP99'),
      max: n('latencyMax'),
    }
  }
  return m
}

/** The nonzero counts of the record's `[from * 5 + to]` table at `at`. */
function transitionCounts(r: Float64Array, at: number): TransitionCount[] {
  const counts: TransitionCount[] = []
  for (let i = 0; i < STATE_COUNT * STATE_COUNT; i++) {
    const count = r[at + i]!
    if (count > 0) counts.push({ from: STATES[Math.floor(i / STATE_COUNT)]!, to: STATES[i % STATE_COUNT]!, count })
  }
  return counts
}
