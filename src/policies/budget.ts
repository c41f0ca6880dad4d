import { type Duration, toMillis } from '../duration.js'
import { ratio, whole } from './check.js'
import { ownOptions, rangeError } from '../validate.js'

/** How many retries a budget allows. */
export interface RetryBudgetOptions {
  /** Retries may add at most this fraction of the calls made over the window. @default 0.1 */
  ratio?: number
  /** Retries allowed per second whatever the load, so a quiet service can still retry. @default 1 */
  minPerSecond?: number
  /** The window calls and retries are counted over. @default '10s' */
  window?: Duration
}

const BUCKETS = 10

/**
 * A retry budget: retries may add at most `ratio` of the calls over a sliding window (plus a small
 * floor), so retries cannot multiply the load on a dependency that is already failing. Share one
 * budget between the retry policies of a dependency. It counts this thread's calls: each thread
 * keeps its retries within the ratio of its own calls, so the process as a whole does too.
 *
 * @example
 * const budget = new RetryBudget({ ratio: 0.1 })
 * const orders = retry({ maxAttempts: 3, budget })
 */
export class RetryBudget {
  readonly #ratio: number
  readonly #floor: number
  readonly #bucketMs: number
  /** Per bucket: its index in time, calls and retries. */
  readonly #epochs = new Array<number>(BUCKETS).fill(-1)
  readonly #calls = new Array<number>(BUCKETS).fill(0)
  readonly #retries = new Array<number>(BUCKETS).fill(0)

  /** Options are read as own properties; an unknown key (a typo) or `null` is a `TypeError`. */
  constructor(value: RetryBudgetOptions = {}) {
    const options = ownOptions<RetryBudgetOptions>('budget', value, ['ratio', 'minPerSecond', 'window'])
    this.#ratio = ratio('budget.ratio', options.ratio ?? 0.1, 0, 1000)
    const windowMs = toMillis('budget.window', options.window ?? 10_000)
    if (windowMs <= 0) throw rangeError(`budget.window must be more than 0 ms, but was ${windowMs}`)
    this.#floor = whole('budget.minPerSecond', options.minPerSecond ?? 1, 0) * (windowMs / 1000)
    this.#bucketMs = windowMs / BUCKETS
  }

  /** Counts a call (a first attempt). */
  recordCall(): void {
    this.#calls[this.#bucket()]! += 1
  }

  /** Takes one retry from the budget; `false` (and nothing taken) when it is spent. */
  tryRetry(): boolean {
    const now = this.#bucket()
    let calls = 0
    let retries = 0
    for (let i = 0; i < BUCKETS; i++) {
      calls += this.#calls[i]!
      retries += this.#retries[i]!
    }
    if (retries + 1 > calls * this.#ratio + this.#floor) return false
    this.#retries[now]! += 1
    return true
  }

  /** The current bucket, after clearing the ones that fell out of the window. */
  #bucket(): number {
    const epoch = Math.floor(performance.now() / this.#bucketMs)
    const i = epoch % BUCKETS
    if (this.#epochs[i] !== epoch) {
      for (let k = 0; k < BUCKETS; k++) {
        if (this.#epochs[k]! <= epoch - BUCKETS) {
          this.#epochs[k] = -1
          this.#calls[k] = 0
          this.#retries[k] = 0
        }
      }
      this.#epochs[i] = epoch
      this.#calls[i] = 0
      this.#retries[i] = 0
    }
    return i
  }
}
