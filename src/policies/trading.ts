import type { CircuitBreaker } from '../breaker.js'
import type { Duration } from '../duration.js'
import type { BreakerOptions, CallPolicy } from '../options.js'
import { type Registry, registry as processWide } from '../registry.js'

/** Options of a trading pause; any breaker option may be added or overridden. */
export interface TradingPauseOptions<T = unknown> extends BreakerOptions, CallPolicy<T> {
  /** The latency percentile watched. @default 99 */
  percentile?: number
  /** Trading pauses when the percentile is above this. @default '200ms' */
  threshold?: Duration
  /** The window: the last N calls. @default 1000 */
  windowSize?: number
  /** Calls the window must hold before the percentile may pause trading. @default 100 */
  minimumCalls?: number
  /** The registry to create the breaker in. @default the process-wide registry */
  registry?: Registry
}

/**
 * A ready-made breaker for the latency-based trading pause of our design papers: it opens when
 * the P99 latency of the last 1,000 calls is above 200 ms (both configurable), keeping the other
 * breaker defaults (it also opens on failures). Read the latency with `latencyStats()`.
 *
 * @example
 * import { tradingPause } from 'breakwater'
 * const execution = tradingPause('order-execution', { threshold: '200ms' })
 * await execution.execute(() => broker.submit(order))
 * const { p99 } = execution.latencyStats()!
 */
export function tradingPause<T = unknown>(name: string, options: TradingPauseOptions<T> = {}): CircuitBreaker<T> {
  const { percentile = 99, threshold = 200, registry = processWide, ...rest } = options
  return registry.getOrCreate<T>(name, {
    windowSize: 1000,
    minimumCalls: 100,
    ...rest,
    latency: { percentile, threshold },
    trackLatency: true,
  })
}
