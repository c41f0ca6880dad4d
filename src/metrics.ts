import type { NativeMetrics } from './native.js'
import { type StateName, STATES } from './state.js'

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

export function toMetrics(m: NativeMetrics): Metrics {
  const { windowCalls, windowFailures, windowSlowCalls, windowFailureRate, windowSlowCallRate, latency, state, retryAfterMs, transitions, ...rest } = m
  return {
    ...rest,
    state: STATES[state]!,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs: Math.ceil(retryAfterMs) }),
    transitions: transitionCounts(transitions),
    window: {
      calls: windowCalls,
      failures: windowFailures,
      slowCalls: windowSlowCalls,
      failureRate: windowFailureRate,
      slowCallRate: windowSlowCallRate,
    },
    ...(latency ? { latency } : {}),
  }
}

/** The nonzero counts of the binding's `[from * 5 + to]` table. */
function transitionCounts(table: number[]): TransitionCount[] {
  const counts: TransitionCount[] = []
  for (let i = 0; i < table.length; i++) {
    if (table[i]! > 0) counts.push({ from: STATES[Math.floor(i / 5)]!, to: STATES[i % 5]!, count: table[i]! })
  }
  return counts
}
