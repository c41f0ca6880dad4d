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

/** What a breaker has seen since it was created, across every thread of the process. */
export interface Metrics {
  state: StateName
  /** When the state began, in milliseconds of the breaker's clock. */
  stateSinceMs: number
  /** Every call asked for: successes + failures + ignored + rejections + inFlight. */
  calls: number
  successes: number
  /** Failures, timeouts included. */
  failures: number
  ignored: number
  rejections: number
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
}

export function toMetrics(m: NativeMetrics): Metrics {
  const { windowCalls, windowFailures, windowSlowCalls, windowFailureRate, windowSlowCallRate, latency, state, ...rest } = m
  return {
    ...rest,
    state: STATES[state]!,
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
