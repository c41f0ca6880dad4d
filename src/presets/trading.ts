import type { CircuitBreaker } from '../breaker.js'
import { type Duration, toMillis } from '../duration.js'
import { BREAKER_OPTION_KEYS, type BreakerOptions, type CallPolicy } from '../options.js'
import { registryOption } from '../adapters/setup.js'
import { ownOptions } from '../validate.js'
import { type Registry, registry as processWide } from '../registry.js'

/** Options of a trading pause; any breaker option but `latency` and `trackLatency` may be added or overridden. */
export interface TradingPauseOptions<T = unknown> extends Omit<BreakerOptions, 'latency' | 'trackLatency'>, CallPolicy<T> {
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

/** The latency rule is the pause's own (`percentile`, `threshold`), so `latency` and `trackLatency` are not taken. */
const TRADING_PAUSE_KEYS = [
  ...BREAKER_OPTION_KEYS.filter((k) => k !== 'latency' && k !== 'trackLatency'),
  'percentile',
  'threshold',
  'registry',
] as (keyof TradingPauseOptions)[]

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
export function tradingPause<T = unknown>(name: string, options?: TradingPauseOptions<T>): CircuitBreaker<T> {
  const own = ownOptions<TradingPauseOptions<T>>('trading pause', options, TRADING_PAUSE_KEYS)
  const { percentile = 99, threshold = 200, registry: given, ...rest } = own
  const registry = registryOption(given, processWide)
  return registry.getOrCreate<T>(name, {
    windowSize: 1000,
    minimumCalls: 100,
    ...rest,
    // Read here, so an error names the option the caller wrote, not the latency rule it becomes.
    latency: { percentile, threshold: toMillis('threshold', threshold) },
    trackLatency: true,
  })
}
