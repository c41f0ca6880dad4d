import type { Metrics } from '../metrics.js'
import type { StateName } from '../state.js'

/** Latency percentiles of a breaker's timed calls, in milliseconds. */
export interface LatencyView {
  count: number
  mean: number
  p50: number
  p95: number
  p99: number
  max: number
}

/**
 * One breaker as the operations surfaces show it (HTTP, dashboard): plain JSON, every key always
 * present (`null` where a value does not apply), so a client can rely on the shape.
 */
export interface BreakerView {
  name: string
  state: StateName
  /** When the state began: wall-clock time, ISO 8601 (computed from the time spent in the state). */
  since: string
  /** When open or forced open with a deadline: milliseconds until a call may probe; else `null`. */
  retryAfterMs: number | null
  /** Every call asked for: successes + failures + ignored + rejections + in flight. */
  calls: number
  successes: number
  /** Failures, timeouts included. */
  failures: number
  timeouts: number
  ignored: number
  rejections: number
  inFlight: number
  /** Failures among the calls of the breaker's window, in percent (0 to 100). */
  failureRate: number
  /** Slow calls among the calls of the breaker's window, in percent (0 to 100). */
  slowCallRate: number
  /** Latency percentiles when the breaker tracks latency (`trackLatency` or a latency rule); else `null`. */
  latency: LatencyView | null
}

/** What the view reads of a breaker's metrics. */
export type ViewedMetrics = Pick<
  Metrics,
  'state' | 'calls' | 'successes' | 'failures' | 'timeouts' | 'ignored' | 'rejections' | 'inFlight' | 'window' | 'latency' | 'retryAfterMs' | 'timeInStateMs'
>

/**
 * The view of the breaker called `name` from its `metrics`, at wall-clock time `now`
 * (milliseconds since the Unix epoch).
 *
 * @example
 * const view = breakerView('orders', orders.metrics())
 */
export function breakerView(name: string, metrics: ViewedMetrics, now: number = Date.now()): BreakerView {
  const { latency } = metrics
  return {
    name,
    state: metrics.state,
    since: new Date(now - metrics.timeInStateMs).toISOString(),
    retryAfterMs: metrics.retryAfterMs ?? null,
    calls: metrics.calls,
    successes: metrics.successes,
    failures: metrics.failures,
    timeouts: metrics.timeouts,
    ignored: metrics.ignored,
    rejections: metrics.rejections,
    inFlight: metrics.inFlight,
    failureRate: metrics.window.failureRate,
    slowCallRate: metrics.window.slowCallRate,
    latency: latency ? { count: latency.count, mean: latency.mean, p50: latency.p50, p95: latency.p95, p99: latency.p99, max: latency.max } : null,
  }
}

/** Whether a breaker in `state` refuses calls (open, or forced open by an operator). */
export function refuses(state: StateName): boolean {
  return state === 'open' || state === 'forced_open'
}
