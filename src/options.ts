import { type Duration, toMillis, toTimeoutMillis } from './duration.js'
import { breakerOptions, type NativeOptions, type OptionShape } from './native.js'
import { checkBoolean, checkFunction, checkNumber, ownOptions } from './validate.js'

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

type Check = (option: string, value: unknown) => unknown

/**
 * How each shape of JavaScript value is checked and converted for the core (durations to ms).
 * Only shapes: every range and relation is checked by the core, which names the option.
 */
const SHAPES: Record<`${OptionShape}`, Check> = {
  number: checkNumber,
  numberOrOff: (option, value) => (value === false ? false : checkNumber(option, value)),
  // A string is parsed here; a number must be finite and at least 0 here, in the order of the
  // keys (so it is named before a later key's mistake, as always), and the core checks its upper bound.
  duration: toMillis,
  // A timer's limits are JavaScript's (Node.js fires a longer timer at once): checked here.
  timeout: toTimeoutMillis,
  flag: checkBoolean,
  object: (_option, value) => value, // read by `readObject`, with the rows of its keys
}

/** Whether two unions are the same. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
// The facade's option names are the core's: a name in one and not in the other fails to compile.
true satisfies Same<keyof BreakerOptions, keyof NativeOptions>
true satisfies Same<keyof NonNullable<BreakerOptions['latency']>, keyof NonNullable<NativeOptions['latency']>>

/** The core's table of breaker options: each one's name and the shape of its value. */
const NATIVE_OPTIONS = breakerOptions()

/** The options a breaker's handle keeps (not shared across threads), and their shapes. */
const POLICY_OPTIONS: Record<keyof CallPolicy, Check> = {
  isFailure: checkFunction,
  isResultFailure: checkFunction,
  fallback: checkFunction,
  unref: checkBoolean,
}

/** Every key of a breaker's options and call policy: the core's table, then the handle's. */
export const BREAKER_OPTION_KEYS = [
  ...NATIVE_OPTIONS.filter((o) => !o.name.includes('.')).map((o) => o.name),
  ...Object.keys(POLICY_OPTIONS),
] as (keyof (BreakerOptions & CallPolicy))[]

/** The rows of the options, by name (`latency.threshold` for the key of `latency`). */
const ROWS = new Map(NATIVE_OPTIONS.map((o) => [o.name, o]))

/** A breaker's options, read: what the core gets, what the handle keeps, and the call timeout. */
export interface ReadOptions<T> {
  native: NativeOptions
  policy: CallPolicy<T>
  timeoutMs: number | undefined
}

/**
 * Reads a breaker's options: own properties only (a polluted `Object.prototype` changes
 * nothing), unknown keys refused, types checked here (a `TypeError` names the option and the
 * value), ranges checked by the core (a `RangeError` then).
 */
export function readBreakerOptions<T>(options: unknown): ReadOptions<T> {
  const own = ownOptions<BreakerOptions & CallPolicy<T>>('breaker', options, BREAKER_OPTION_KEYS)
  // No prototype: the binding reads every native option by name, and must find only ours.
  const native = Object.create(null) as Record<string, unknown>
  const policy = Object.create(null) as Record<string, unknown>
  const objects: string[] = []
  for (const key of Object.keys(own) as (keyof typeof own)[]) {
    const value = own[key]
    if (value === undefined) continue
    const row = ROWS.get(key)
    if (row?.shape === 'object') objects.push(key)
    else if (row) native[key] = SHAPES[row.shape](key, value)
    else policy[key] = POLICY_OPTIONS[key as keyof CallPolicy](key, value)
  }
  for (const key of objects) native[key] = readObject(key, own[key as keyof typeof own])
  if (policy.unref === false) delete policy.unref
  return { native: native as NativeOptions, policy: policy as CallPolicy<T>, timeoutMs: native.timeout as number | undefined }
}

/** An object-shaped option (`latency`): its own keys, each checked by its row; required ones first. */
function readObject(name: string, value: unknown): Record<string, unknown> {
  const rows = NATIVE_OPTIONS.filter((o) => o.name.startsWith(`${name}.`))
  const keys = rows.map((o) => o.name.slice(name.length + 1))
  const own = ownOptions<Record<string, unknown>>(name, value, keys) as Record<string, unknown>
  const read = Object.create(null) as Record<string, unknown>
  for (const row of [...rows.filter((o) => o.required), ...rows.filter((o) => !o.required)]) {
    const key = row.name.slice(name.length + 1)
    if (own[key] !== undefined || row.required) read[key] = SHAPES[row.shape](row.name, own[key])
  }
  return read
}
