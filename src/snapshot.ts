import { type Duration, toMillis } from './duration.js'
import { toMetrics } from './metrics.js'
import type { NativeBreaker } from './native.js'
import type { StateName } from './state.js'
import { describe, ownOptions, rangeError, typeError } from './validate.js'
import { STATES } from './wire.js'

/** The snapshot format this build writes and reads. */
export const SNAPSHOT_VERSION = 1

/** One breaker as a snapshot keeps it: `breaker.toJSON()`, and an entry of `registry.snapshot()`. */
export interface BreakerRecord {
  name: string
  state: StateName
  /** Open or forced open: when a call may probe, in wall-clock ms (like `Date.now()`); else `null` (and forced open until reset). */
  openUntil: number | null
  /** Openings since the breaker last closed for real: the next opening lasts as the backoff says for this attempt. */
  backoffAttempt: number
  /** The state word's generation, changed by every transition (for the record: not restored). */
  generation: number
  /** Failures in a row (closed). */
  consecutiveFailures: number
  /** The sliding window's counts (closed). */
  window: { calls: number; failures: number; slowCalls: number; overLatency: number }
  /** Lifetime counters of the process that wrote the record (for the record: not restored). */
  counters: {
    calls: number
    successes: number
    failures: number
    timeouts: number
    ignored: number
    rejections: number
    slowCalls: number
    timesOpened: number
    timesHalfOpened: number
    timeOpenMs: number
  }
}

/** Every breaker of a registry, as `registry.snapshot()` writes it: JSON-serialisable. */
export interface RegistrySnapshot {
  version: typeof SNAPSHOT_VERSION
  /** When it was taken, in wall-clock ms. */
  takenAt: number
  breakers: BreakerRecord[]
}

/** Options of `registry.restore`. */
export interface RestoreOptions {
  /** A snapshot taken longer ago than this is refused whole. @default '5m' */
  maxAge?: Duration
}

/** What `registry.restore` did. */
export interface RestoreResult {
  /** The breakers that took their record over. */
  restored: string[]
  /** Names in the snapshot that this registry has no breaker of: skipped (options come from code: create the breaker first). */
  unknown: string[]
}

const DEFAULT_MAX_AGE_MS = 5 * 60_000

/** The record of one native breaker, now. */
export function recordOf(name: string, native: NativeBreaker): BreakerRecord {
  const p = native.persisted()
  const m = toMetrics(native.metrics())
  const [calls = 0, failures = 0, slowCalls = 0, overLatency = 0] = p.window
  return {
    name,
    state: STATES[p.state]!,
    openUntil: p.openForMs === undefined || p.openForMs === null ? null : Date.now() + p.openForMs,
    backoffAttempt: p.reopenAttempt,
    generation: p.generation,
    consecutiveFailures: p.consecutiveFailures,
    window: { calls, failures, slowCalls, overLatency },
    counters: {
      calls: m.calls,
      successes: m.successes,
      failures: m.failures,
      timeouts: m.timeouts,
      ignored: m.ignored,
      rejections: m.rejections,
      slowCalls: m.slowCalls,
      timesOpened: m.timesOpened,
      timesHalfOpened: m.timesHalfOpened,
      timeOpenMs: m.timeOpenMs,
    },
  }
}

/** A record, checked, as the native restore takes it. */
export interface ReadRecord {
  name: string
  state: number
  openForMs: number | undefined
  reopenAttempt: number
  generation: number
  consecutiveFailures: number
  window: number[]
}

/**
 * Reads a snapshot for `restore`, whole, before anything is applied: its version, its age
 * against `maxAge` (a snapshot from further in the future than `maxAge` is refused too: a
 * clock that jumped), and every record. A `TypeError` or `RangeError` (code
 * `ERR_BREAKWATER_INVALID_OPTION`) names the field, the rule and the value.
 */
export function readSnapshot(snapshot: unknown, options: unknown): ReadRecord[] {
  const { maxAge } = ownOptions<RestoreOptions>('restore', options === undefined ? {} : options, ['maxAge'])
  const maxAgeMs = maxAge === undefined ? DEFAULT_MAX_AGE_MS : toMillis('maxAge', maxAge)
  const s = ownOptions<Record<keyof RegistrySnapshot, unknown>>('snapshot', snapshot, ['version', 'takenAt', 'breakers'])
  if (s.version !== SNAPSHOT_VERSION) {
    throw rangeError(`snapshot.version must be ${SNAPSHOT_VERSION} (the version this build reads), but was ${describe(s.version)}`)
  }
  const takenAt = wholeNumber('snapshot.takenAt', s.takenAt)
  const now = Date.now()
  const age = now - takenAt
  if (Math.abs(age) > maxAgeMs) {
    const when = age > 0 ? `${age} ms old` : `${-age} ms in the future`
    throw rangeError(
      `snapshot.takenAt must be within maxAge (${maxAgeMs} ms) of now, but the snapshot is ${when} (taken at ${new Date(takenAt).toISOString()})`,
    )
  }
  if (!Array.isArray(s.breakers)) throw typeError(`snapshot.breakers must be an array of breaker records, but was ${describe(s.breakers)}`)
  const seen = new Set<string>()
  return s.breakers.map((record: unknown, i) => {
    const read = readRecord(`snapshot.breakers[${i}]`, record, now, takenAt)
    if (seen.has(read.name)) throw rangeError(`snapshot.breakers[${i}].name must be unique, but ${describe(read.name)} comes twice`)
    seen.add(read.name)
    return read
  })
}

const RECORD_KEYS = ['name', 'state', 'openUntil', 'backoffAttempt', 'generation', 'consecutiveFailures', 'window', 'counters'] as const
const WINDOW_KEYS = ['calls', 'failures', 'slowCalls', 'overLatency'] as const
const COUNTER_KEYS = [
  'calls',
  'successes',
  'failures',
  'timeouts',
  'ignored',
  'rejections',
  'slowCalls',
  'timesOpened',
  'timesHalfOpened',
  'timeOpenMs',
] as const

/** The longest a breaker can be open (the longest `openFor`, `maxOpenFor` and `forceOpen`): 30 days. */
const MAX_OPEN_MS = 2_592_000_000

function readRecord(at: string, record: unknown, now: number, takenAt: number): ReadRecord {
  const r = ownOptions<Record<(typeof RECORD_KEYS)[number], unknown>>(at, record, RECORD_KEYS, ['openUntil'])
  if (typeof r.name !== 'string' || r.name === '') throw typeError(`${at}.name must be a breaker name, but was ${describe(r.name)}`)
  const state = STATES.indexOf(r.state as StateName)
  if (state === -1) throw rangeError(`${at}.state must be one of ${STATES.join(', ')}, but was ${describe(r.state)}`)
  const open = r.state === 'open' || r.state === 'forced_open'
  let openForMs: number | undefined
  if (r.openUntil !== null && r.openUntil !== undefined) {
    if (!open) throw rangeError(`${at}.openUntil must be null unless the state is open or forced_open, but was ${describe(r.openUntil)} with state ${r.state}`)
    const until = wholeNumber(`${at}.openUntil`, r.openUntil)
    if (until > takenAt + MAX_OPEN_MS) {
      throw rangeError(`${at}.openUntil must be at most 30 days (${MAX_OPEN_MS} ms, the longest opening) after takenAt, but was ${until - takenAt} ms after it`)
    }
    openForMs = Math.max(0, until - now)
  } else if (r.state === 'open') {
    throw typeError(`${at}.openUntil must be a wall-clock time in ms for an open breaker, but was ${describe(r.openUntil)}`)
  }
  const w = ownOptions<Record<(typeof WINDOW_KEYS)[number], unknown>>(`${at}.window`, r.window, WINDOW_KEYS)
  const window = WINDOW_KEYS.map((key) => wholeNumber(`${at}.window.${key}`, w[key]))
  for (const [i, key] of WINDOW_KEYS.entries()) {
    if (i > 0 && window[i]! > window[0]!) throw rangeError(`${at}.window.${key} must be at most window.calls (${window[0]}), but was ${window[i]}`)
  }
  // Not restored, but checked as the rest: a record with garbage in it is not trusted.
  if (r.counters !== undefined) {
    const c = ownOptions<Record<(typeof COUNTER_KEYS)[number], unknown>>(`${at}.counters`, r.counters, COUNTER_KEYS)
    for (const key of COUNTER_KEYS) if (c[key] !== undefined) wholeNumber(`${at}.counters.${key}`, c[key])
  }
  return {
    name: r.name,
    state,
    openForMs,
    reopenAttempt: wholeNumber(`${at}.backoffAttempt`, r.backoffAttempt, 0xffff_ffff),
    generation: wholeNumber(`${at}.generation`, r.generation, 0xffff_ffff),
    consecutiveFailures: wholeNumber(`${at}.consecutiveFailures`, r.consecutiveFailures, 0xffff_ffff),
    window,
  }
}

function wholeNumber(field: string, value: unknown, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number') throw typeError(`${field} must be a whole number, but was ${describe(value)}`)
  if (!Number.isInteger(value) || value < 0 || value > max) throw rangeError(`${field} must be a whole number from 0 to ${max}, but was ${describe(value)}`)
  return value
}
