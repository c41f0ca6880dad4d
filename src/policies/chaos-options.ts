import { type Duration, toMillis, toTimerMillis } from '../duration.js'
import type { StateName } from '../state.js'
import type { Disposer } from '../events.js'
import { ratio, whole } from './check.js'
import { describe, ownOptions, rangeError, typeError } from '../validate.js'

/** What a chaos policy injects. */
export type ChaosKind = 'fault' | 'latency' | 'outcome' | 'behavior'

/** What the chaos functions (`rate`, `latency`, `fault`, `behavior`) are given for a call. */
export interface ChaosContext {
  /** The call's signal (the caller's, or one that never aborts). */
  signal: AbortSignal
  /** This call's number through the policy, 1 for the first. */
  call: number
}

/** Why injection stopped by itself, or was stopped. */
export type ChaosStopReason = 'expired' | 'breaker_open' | 'error_rate' | 'stop_when' | 'disabled'

/** What a chaos policy has done since it was made. */
export interface ChaosStats {
  /** Calls through the policy, injected or not. */
  calls: number
  /** Injections by kind (a policy injects one kind; the others stay 0). */
  injected: Record<ChaosKind, number>
  /** Whether injection is on now. */
  enabled: boolean
  /** Why injection last stopped, if it did and was not enabled again since. */
  stopped: ChaosStopReason | undefined
}

/** What a `stopWhen` function is given. */
export type ChaosStopCheck = (stats: ChaosStats) => boolean

/** A breaker handle, as the `breakerOpen` stop reads it. */
export interface WatchedBreaker {
  readonly state: StateName
  onOpen(listener: () => void): Disposer
}

/** Where a breaker named in `stopWhen.breakerOpen` is looked up. */
export interface BreakerLookup {
  get(name: string): WatchedBreaker | undefined
}

/** The safety stop: any condition that holds disables injection before the next call. */
export type ChaosStopWhen =
  | {
      /** Stop when this breaker (a handle, or a name looked up in the `registry` option) is not closed. */
      breakerOpen: WatchedBreaker | string
    }
  | {
      /** Stop when at least this share (0..1) of the calls through this policy failed within `window`. */
      errorRate: number
      /** How far back the error rate looks. */
      window: Duration
      /** Fewer calls than this in the window never stop injection. @default 10 */
      minimumCalls?: number
    }
  | ChaosStopCheck

/** How a chaos policy injects, how often, for how long, and when it stops by itself. */
export interface ChaosOptions<T = never> {
  /** Inject a fault: the call rejects with this error, or with what this function returns. */
  fault?: object | ((context: ChaosContext) => unknown)
  /** Inject latency: wait this long (or what the function returns) before the real call. */
  latency?: Duration | ((context: ChaosContext) => Duration)
  /** Inject an outcome: the call resolves to this value; the real call is not made. */
  outcome?: T
  /** Inject a behaviour: run this side effect (awaited), then the real call. */
  behavior?: (context: ChaosContext) => unknown
  /** The share of calls injected, 0..1, or a function of the call's context giving it. @default 1 */
  rate?: number | ((context: ChaosContext) => number)
  /** Whether injection is on from the start (it needs `until` or `for`). @default false */
  enabled?: boolean
  /** When injection ends by itself: a Date, or milliseconds since the epoch (as `now` counts). */
  until?: Date | number
  /** How long injection lasts once enabled (each `enable()` starts it again). */
  for?: Duration
  /** The safety stop, or several. @default none */
  stopWhen?: ChaosStopWhen | readonly ChaosStopWhen[]
  /** Where `stopWhen.breakerOpen` names are looked up. @default the process-wide `registry` */
  registry?: BreakerLookup
  /** Random numbers in [0, 1). @default Math.random */
  random?: () => number
  /** The time in milliseconds since the epoch, for the TTL and the error-rate window. @default Date.now */
  now?: () => number
}

export const CHAOS_OPTIONS: readonly (keyof ChaosOptions)[] = [
  'fault',
  'latency',
  'outcome',
  'behavior',
  'rate',
  'enabled',
  'until',
  'for',
  'stopWhen',
  'registry',
  'random',
  'now',
]

const KINDS: readonly ChaosKind[] = ['fault', 'latency', 'outcome', 'behavior']

/** A `stopWhen` condition, checked. */
export type StopRule =
  | { kind: 'breaker'; breaker: WatchedBreaker | string }
  | { kind: 'errorRate'; errorRate: number; windowMs: number; minimumCalls: number }
  | { kind: 'function'; check: ChaosStopCheck }

/** The options, checked and with their defaults. */
export interface ChaosConfig {
  kind: ChaosKind
  /** The kind's option value as given. */
  injection: unknown
  rate: number | ((context: ChaosContext) => number)
  enabled: boolean
  ttl: { untilMs: number } | { forMs: number }
  stops: StopRule[]
  registry: BreakerLookup | undefined
  random: () => number
  now: () => number
}

/** Reads and checks every option before anything is made. */
export function readChaosOptions(value: unknown): ChaosConfig {
  const options = ownOptions<ChaosOptions<unknown>>('chaos', value, CHAOS_OPTIONS as (keyof ChaosOptions<unknown>)[], ['outcome'])
  const kinds = KINDS.filter((kind) => kind in options)
  if (kinds.length !== 1) {
    throw typeError(`chaos needs exactly one of fault, latency, outcome or behavior, but was given ${kinds.length === 0 ? 'none' : kinds.join(' and ')}`)
  }
  const kind = kinds[0]!
  const injection = options[kind]
  if (kind === 'fault' && (typeof injection !== 'object' || injection === null) && typeof injection !== 'function') {
    throw typeError(`fault must be an error (an object) or a function that makes one, but was ${describe(injection)}`)
  }
  if (kind === 'latency' && typeof injection !== 'function') toTimerMillis('latency', injection)
  if (kind === 'behavior' && typeof injection !== 'function') throw typeError(`behavior must be a function, but was ${describe(injection)}`)
  const rate = options.rate ?? 1
  if (typeof rate !== 'function') ratio('rate', rate, 0, 1)
  const enabled = options.enabled ?? false
  if (typeof enabled !== 'boolean') throw typeError(`enabled must be true or false, but was ${describe(enabled)}`)
  const ttl = readTtl(options, enabled)
  const registry = options.registry
  if (registry !== undefined && typeof (registry as Partial<BreakerLookup>).get !== 'function') {
    throw typeError(`registry must be a Registry (something with get), but was ${describe(registry)}`)
  }
  return {
    kind,
    injection,
    rate,
    enabled,
    ttl,
    stops: readStops(options.stopWhen),
    registry,
    random: fn('random', options.random) ?? Math.random,
    now: fn('now', options.now) ?? Date.now,
  }
}

function fn<F>(option: string, value: F | undefined): F | undefined {
  if (value !== undefined && typeof value !== 'function') throw typeError(`${option} must be a function, but was ${describe(value)}`)
  return value
}

/** The TTL: exactly one of `until` and `for`. */
function readTtl(options: Partial<ChaosOptions<unknown>>, enabled: boolean): ChaosConfig['ttl'] {
  const { until, for: lasts } = options
  if (until !== undefined && lasts !== undefined) throw typeError('chaos takes until or for, not both')
  if (until === undefined && lasts === undefined) {
    const start = enabled ? 'enabled: true needs a TTL' : 'chaos needs a TTL'
    throw typeError(`${start}: until (a Date or epoch milliseconds) or for (a duration), so that injection ends by itself`)
  }
  if (lasts !== undefined) {
    const forMs = toMillis('for', lasts)
    if (forMs === 0) throw rangeError('for must be more than 0 ms, but was 0')
    return { forMs }
  }
  const untilMs = until instanceof Date ? until.getTime() : until
  if (typeof untilMs !== 'number') throw typeError(`until must be a Date or a number of epoch milliseconds, but was ${describe(until)}`)
  if (!Number.isFinite(untilMs)) throw rangeError(`until must be a valid Date or a finite number of epoch milliseconds, but was ${describe(until)}`)
  return { untilMs }
}

/** Each `stopWhen` condition, checked. */
function readStops(value: unknown): StopRule[] {
  if (value === undefined) return []
  const list = Array.isArray(value) ? value : [value]
  return list.map((item, i) => readStop(item, Array.isArray(value) ? `stopWhen[${i}]` : 'stopWhen'))
}

function readStop(value: unknown, at: string): StopRule {
  if (typeof value === 'function') return { kind: 'function', check: value as ChaosStopCheck }
  const isBreakerRule = typeof value === 'object' && value !== null && Object.hasOwn(value, 'breakerOpen')
  if (isBreakerRule) {
    const { breakerOpen } = ownOptions<{ breakerOpen: unknown }>(at, value, ['breakerOpen'])
    if (typeof breakerOpen === 'string') return { kind: 'breaker', breaker: breakerOpen }
    const b = breakerOpen as Partial<WatchedBreaker> | null
    if (typeof b !== 'object' || b === null || typeof b.onOpen !== 'function' || typeof b.state !== 'string') {
      throw typeError(`${at}.breakerOpen must be a breaker or a breaker's name, but was ${describe(breakerOpen)}`)
    }
    return { kind: 'breaker', breaker: b as WatchedBreaker }
  }
  const rule = ownOptions<{ errorRate: number; window: Duration; minimumCalls: number }>(at, value, ['errorRate', 'window', 'minimumCalls'])
  if (rule.errorRate === undefined) throw typeError(`${at} must be a function, { breakerOpen } or { errorRate, window }, but had no errorRate`)
  if (rule.window === undefined) throw typeError(`${at}.window is needed with errorRate: how far back the rate looks, as a duration`)
  const windowMs = toMillis(`${at}.window`, rule.window)
  if (windowMs === 0) throw rangeError(`${at}.window must be more than 0 ms, but was 0`)
  return {
    kind: 'errorRate',
    errorRate: ratio(`${at}.errorRate`, rule.errorRate, 0, 1),
    windowMs,
    minimumCalls: whole(`${at}.minimumCalls`, rule.minimumCalls ?? 10, 1),
  }
}
