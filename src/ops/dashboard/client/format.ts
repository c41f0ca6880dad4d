// How numbers and states read on a card.
import type { StateName } from './types.js'

/** A state as a person reads it; `removed` for a breaker that left the registry. */
export function stateLabel(state: StateName | 'removed'): string {
  return state.replace('_', ' ')
}

/** Worst first: the order of "sort by state". */
const RANK: Record<StateName | 'removed', number> = { open: 0, forced_open: 1, half_open: 2, disabled: 3, closed: 4, removed: 5 }

export function stateRank(state: StateName | 'removed'): number {
  return RANK[state]
}

/** Whether `value` is a breaker state the page knows. */
export function isStateName(value: unknown): value is StateName {
  return typeof value === 'string' && value !== 'removed' && Object.hasOwn(RANK, value)
}

/** `42s`, `3m 05s`, `2h 10m`, `4d 3h`. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000))
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`
  const h = Math.floor(m / 60)
  if (h < 24) return `${h}h ${String(m % 60).padStart(2, '0')}m`
  return `${Math.floor(h / 24)}d ${h % 24}h`
}

/** Calls per second: one decimal under 10. */
export function perSecond(value: number | null): string {
  if (value === null) return '–'
  return value < 10 ? value.toFixed(1) : String(Math.round(value))
}

/** A rate given in percent (0 to 100). */
export function percent(value: number | undefined): string {
  if (value === undefined) return '–'
  return value === 0 || value >= 10 ? `${Math.round(value)}%` : `${value.toFixed(1)}%`
}

/** Milliseconds, or `–` when the breaker does not track latency. */
export function millis(value: number | null | undefined): string {
  if (value === null || value === undefined) return '–'
  return value < 1000 ? `${value < 10 ? value.toFixed(1) : Math.round(value)} ms` : `${(value / 1000).toFixed(2)} s`
}

/** One formatter for every count: `toLocaleString('en')` makes a new one per call, most of a redraw's time at 10,000 cards. */
const COUNT = new Intl.NumberFormat('en')

/** A whole number with thousands separated. */
export function count(value: number | undefined): string {
  return value === undefined ? '–' : COUNT.format(value)
}

/** The local time of day, `14:03:27`. */
export function clock(at: number): string {
  const d = new Date(at)
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':')
}
