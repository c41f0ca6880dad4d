import { describe, rangeError, typeError } from './validate.js'

/** A duration: milliseconds as a number, or a string such as `'250ms'`, `'30s'`, `'5m'`, `'1h'`. */
export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h'}`

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const

/**
 * Milliseconds in `value`. Throws a `TypeError` for a value of another type and a `RangeError` for
 * a malformed or negative one; both name `option`.
 *
 * @example
 * toMillis('openFor', '30s') // 30000
 */
export function toMillis(option: string, value: unknown): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return value
    throw rangeError(`${option} must be a finite number of milliseconds of at least 0, but was ${String(value)}`)
  }
  if (typeof value === 'string') {
    const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/.exec(value)
    const ms = match ? Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS] : Number.NaN
    if (Number.isFinite(ms)) return ms
    throw rangeError(`${option} must be a duration like 250ms, 30s, 5m or 1h, but was ${describe(value)}`)
  }
  throw typeError(`${option} must be a number of milliseconds or a duration string, but was ${describe(value)}`)
}

/** The longest delay a Node.js timer keeps; a longer one fires after 1 ms instead. */
export const MAX_TIMER_MS = 2_147_483_647

/**
 * `toMillis` for a duration a timer will wait: also at most `MAX_TIMER_MS` (about 24.8 days),
 * since Node.js would fire a longer timer at once.
 */
export function toTimerMillis(option: string, value: unknown): number {
  const ms = toMillis(option, value)
  if (ms > MAX_TIMER_MS) {
    throw rangeError(`${option} must be at most ${MAX_TIMER_MS} ms (about 24.8 days, the longest timer Node.js keeps), but was ${ms}`)
  }
  return ms
}

/**
 * `toTimerMillis` for a timeout: also more than 0, since a call that must end before it starts is
 * a mistake, not a rule.
 */
export function toTimeoutMillis(option: string, value: unknown): number {
  const ms = toTimerMillis(option, value)
  if (ms === 0) throw rangeError(`${option} must be more than 0 ms, but was 0`)
  return ms
}
