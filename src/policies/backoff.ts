import { type Duration, toMillis, toTimerMillis } from '../duration.js'
import { ratio } from './check.js'
import { describe, ownOptions, rangeError, typeError } from '../validate.js'

/** How retry delays grow. */
export type BackoffStrategy = 'constant' | 'linear' | 'fibonacci' | 'exponential' | 'decorrelated'

/** Delays between retries. Every strategy takes a base, a cap and jitter. */
export interface BackoffOptions {
  /**
   * `constant`: base every time. `linear`: base x 1, 2, 3, ... `fibonacci`: base x 1, 1, 2, 3, 5, ...
   * `exponential`: base x multiplier^(n-1). `decorrelated` (decorrelated jitter): a random delay
   * between base and three times the previous one.
   * @default 'exponential'
   */
  strategy?: BackoffStrategy
  /** The first delay. @default '100ms' */
  base?: Duration
  /** No delay is longer; in a retry policy, no wait for an error's `retryAfterMs` either (a longer one gives up). @default '30s' */
  max?: Duration
  /** Growth of `exponential` delays. @default 2 */
  multiplier?: number
  /** Spread of every delay, 0 to 1: a delay d becomes uniform in d x [1 - jitter, 1 + jitter], then capped. @default 0 */
  jitter?: number
  /** Source of randomness in [0, 1), for jitter and `decorrelated`. @default Math.random */
  random?: () => number
}

/** The delay before retry `n` (1 for the first retry), given the delay before the previous one. */
export type Backoff = (n: number, previousMs: number) => number

const STRATEGIES: readonly BackoffStrategy[] = ['constant', 'linear', 'fibonacci', 'exponential', 'decorrelated']
const BACKOFF_OPTIONS: readonly (keyof BackoffOptions)[] = ['strategy', 'base', 'max', 'multiplier', 'jitter', 'random']

/** A checked schedule and its cap. */
export interface BackoffSchedule {
  delay: Backoff
  /** The longest delay it gives, in milliseconds (its `max`). */
  maxMs: number
}

/**
 * A checked backoff schedule: a `RangeError` or `TypeError` names the option and its value. The
 * options are read as own properties; an unknown key (a typo) is refused.
 *
 * @example
 * const delay = backoff({ strategy: 'exponential', base: '100ms', max: '2s' })
 * delay(1, 0) // 100, then 200, 400, 800, 1600, 2000, 2000 ...
 */
export function backoff(options: BackoffOptions = {}): Backoff {
  return backoffSchedule(options, 'backoff.').delay
}

/** `backoff` whose errors name the options with `prefix` (a recovery manager's have none). */
export function checkedBackoff(options: BackoffOptions, prefix: string): Backoff {
  return backoffSchedule(options, prefix).delay
}

/** `backoff` with its cap, which the retry policy needs too. */
export function backoffSchedule(value: unknown, prefix: string): BackoffSchedule {
  const options = ownOptions<BackoffOptions>('backoff', value, BACKOFF_OPTIONS)
  const strategy = options.strategy ?? 'exponential'
  if (!STRATEGIES.includes(strategy)) {
    throw rangeError(`${prefix}strategy must be one of ${STRATEGIES.join(', ')}, but was ${describe(strategy)}`)
  }
  const base = toMillis(`${prefix}base`, options.base ?? 100)
  const max = toTimerMillis(`${prefix}max`, options.max ?? 30_000)
  if (max < base) throw rangeError(`${prefix}max must be at least ${prefix}base (${base} ms), but was ${max}`)
  const multiplier = ratio(`${prefix}multiplier`, options.multiplier ?? 2, 1, Number.MAX_VALUE)
  const jitter = ratio(`${prefix}jitter`, options.jitter ?? 0, 0, 1)
  const source = options.random ?? Math.random
  if (typeof source !== 'function') throw typeError(`${prefix}random must be a function, but was ${describe(source)}`)
  // A draw outside [0, 1) (NaN, say) would make every wait 0 ms: a retry storm, a busy loop.
  const random = (): number => {
    const r: unknown = source()
    if (typeof r === 'number' && r >= 0 && r < 1) return r
    throw rangeError(`${prefix}random must return a number from 0 up to (not including) 1, but returned ${describe(r)}`)
  }

  const plain = (n: number, previousMs: number): number => {
    switch (strategy) {
      case 'constant':
        return base
      case 'linear':
        return base * n
      case 'fibonacci':
        return base * fibonacci(n)
      case 'exponential':
        return base * multiplier ** (n - 1)
      case 'decorrelated': {
        const upper = Math.max(base, (previousMs || base) * 3)
        return base + random() * (upper - base)
      }
    }
  }
  const delay: Backoff = (n, previousMs) => {
    const d = plain(n, previousMs)
    const spread = jitter === 0 ? d : d * (1 - jitter + 2 * jitter * random())
    return Math.min(max, spread)
  }
  return { delay, maxMs: max }
}

/** 1, 1, 2, 3, 5, 8, ... (grows past any cap by n = 80, so no overflow matters). */
function fibonacci(n: number): number {
  let [a, b] = [1, 1]
  for (let i = 2; i < Math.min(n, 80); i++) [a, b] = [b, a + b]
  return n <= 2 ? 1 : b
}
