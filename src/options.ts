import { type Duration, toMillis, toTimeoutMillis } from './duration.js'
import type { NativeOptions } from './native.js'
import { describe, ownOptions, typeError } from './validate.js'

/** How a breaker decides and recovers. Every option is optional; durations take `'30s'` or ms. */
export interface BreakerOptions {
  /** Open after this many failures in a row; `false` turns the rule off. @default 5 */
  consecutiveFailures?: number | false
  /** Open when this percentage of the window failed; `false` turns the rule off. @default 50 */
  failureRate?: number | false
  /** Calls the window must hold before a rate or latency rule may trip. @default 10 */
  minimumCalls?: number
  /** Open when this percentage of the window was slow (needs `slowCallDuration`). @default off */
  slowCallRate?: number
  /** A call is slow when it took at least this long. @default off */
  slowCallDuration?: Duration
  /** Open when the window holds this many failures, whatever the rate. @default off */
  failuresInWindow?: number
  /** Open when a latency percentile of the window is above `threshold`: the trading pause. @default off */
  latency?: { percentile?: number; threshold: Duration }
  /** The window: the last N calls. @default 100 */
  windowSize?: number
  /** A time window of this length instead of `windowSize` calls. @default off */
  window?: Duration
  /** Buckets of the time window. @default 10 */
  windowBuckets?: number
  /** How long the breaker stays open the first time. @default '30s' */
  openFor?: Duration
  /** Growth of the open duration on every reopen without a full recovery. @default 2 */
  openMultiplier?: number
  /** The longest open duration. @default '300s' */
  maxOpenFor?: Duration
  /** Spread of open durations, 0 to 1. @default 0 */
  openJitter?: number
  /** Probe calls at once while half-open. @default 3 */
  halfOpenProbes?: number
  /** Successful probes that close the breaker. @default 2 */
  halfOpenSuccesses?: number
  /** An unreported probe expires after this. @default the timeout, else '60s' */
  maxProbeTime?: Duration
  /** Timeout of every `execute`; a timeout counts as a failure. @default none */
  timeout?: Duration
  /** Keep latency percentiles in `metrics()` (on by itself with a latency rule). @default false */
  trackLatency?: boolean
}

/** What this thread's handle of a breaker does around each call. Not shared across threads. */
export interface CallPolicy<T = unknown> {
  /** Whether an error counts as a failure; an error it clears counts as a success. @default every error */
  isFailure?: (error: unknown) => boolean
  /** Whether a result counts as a failure. @default none */
  isResultFailure?: (result: T) => boolean
  /** Used instead of throwing when a call is refused, fails or times out. @default none */
  fallback?: (error: unknown) => T | Promise<T>
  /**
   * Let the process exit while a call waits for its timeout. A pending call is pending work, so
   * by default its timeout timer keeps the process alive, as any pending I/O does. @default false
   */
  unref?: boolean
}

type Check = (option: string, value: unknown) => number | boolean | undefined

const number: Check = (option, value) => {
  if (typeof value !== 'number') throw typeError(`${option} must be a number, but was ${describe(value)}`)
  return value
}
const numberOrOff: Check = (option, value) => (value === false ? false : number(option, value))
const millis: Check = (option, value) => toMillis(option, value)
const timeout: Check = (option, value) => toTimeoutMillis(option, value)
const flag: Check = (option, value) => {
  if (typeof value !== 'boolean') throw typeError(`${option} must be true or false, but was ${describe(value)}`)
  return value
}
const fn: Check = (option, value) => {
  if (typeof value !== 'function') throw typeError(`${option} must be a function, but was ${describe(value)}`)
  return undefined
}

/** Each option: how to check it, and its native name. */
const OPTIONS: Record<string, [Check, keyof NativeOptions | undefined]> = {
  consecutiveFailures: [numberOrOff, 'consecutiveFailures'],
  failureRate: [numberOrOff, 'failureRate'],
  minimumCalls: [number, 'minimumCalls'],
  slowCallRate: [number, 'slowCallRate'],
  slowCallDuration: [millis, 'slowCallMs'],
  failuresInWindow: [number, 'failuresInWindow'],
  latency: [() => undefined, undefined],
  windowSize: [number, 'windowSize'],
  window: [millis, 'windowMs'],
  windowBuckets: [number, 'windowBuckets'],
  openFor: [millis, 'openMs'],
  openMultiplier: [number, 'openMultiplier'],
  maxOpenFor: [millis, 'openMaxMs'],
  openJitter: [number, 'openJitter'],
  halfOpenProbes: [number, 'halfOpenProbes'],
  halfOpenSuccesses: [number, 'halfOpenSuccesses'],
  maxProbeTime: [millis, 'maxProbeMs'],
  timeout: [timeout, 'callTimeoutMs'],
  trackLatency: [flag, 'trackLatency'],
  isFailure: [fn, undefined],
  isResultFailure: [fn, undefined],
  fallback: [fn, undefined],
  unref: [flag, undefined],
}

/** A breaker's options, read: what the core gets, what the handle keeps, and the call timeout. */
export interface ReadOptions<T> {
  native: NativeOptions
  policy: CallPolicy<T>
  timeoutMs: number | undefined
}

/** Every key of a breaker's options and call policy. */
export const BREAKER_OPTION_KEYS = Object.keys(OPTIONS) as (keyof (BreakerOptions & CallPolicy))[]

/**
 * Reads a breaker's options: own properties only (a polluted `Object.prototype` changes
 * nothing), unknown keys refused, types checked here (a `TypeError` names the option and the
 * value), ranges checked by the core (a `RangeError` then).
 */
export function readBreakerOptions<T>(options: unknown): ReadOptions<T> {
  const own = ownOptions<BreakerOptions & CallPolicy<T>>('breaker', options, BREAKER_OPTION_KEYS)
  // No prototype: the binding reads every native option by name, and must find only ours.
  const native = Object.create(null) as Record<string, unknown>
  for (const key of Object.keys(own) as (keyof typeof own)[]) {
    const value = own[key]
    if (value === undefined) continue
    const [check, nativeName] = OPTIONS[key]!
    const checked = check(key, value)
    if (nativeName) native[nativeName] = checked
  }
  if (own.latency !== undefined) {
    const latency = ownOptions<NonNullable<BreakerOptions['latency']>>('latency', own.latency, ['percentile', 'threshold'])
    native.latencyThresholdMs = toMillis('latency.threshold', latency.threshold)
    if (latency.percentile !== undefined) native.latencyPercentile = number('latency.percentile', latency.percentile)
  }
  const policy = Object.create(null) as CallPolicy<T>
  if (own.isFailure) policy.isFailure = own.isFailure
  if (own.isResultFailure) policy.isResultFailure = own.isResultFailure
  if (own.fallback) policy.fallback = own.fallback
  if (own.unref) policy.unref = true
  const timeoutMs = native.callTimeoutMs as number | undefined
  return { native: native as NativeOptions, policy, timeoutMs }
}
