import type { CallContext } from '../breaker.js'
import { type Duration, toMillis } from '../duration.js'
import { isBrokenCircuitError, isBulkheadRejectedError } from '../errors.js'
import { type Disposer, Listeners } from '../events.js'
import { checkSignal, NEVER_ABORTS, sleep } from '../signal.js'
import { type Backoff, backoff, type BackoffOptions } from './backoff.js'
import { RetryBudget, type RetryBudgetOptions } from './budget.js'
import { whole } from './check.js'
import { checkFunction, type Policy, type PolicyCallOptions, type POLICY_TYPES } from './policy.js'
import { describe, typeError } from '../validate.js'

/** How a retry policy retries. */
export interface RetryOptions {
  /** Attempts in all, the first included: 1 never retries. @default 3 */
  maxAttempts?: number
  /** Delays between attempts. @default exponential from 100 ms, x2, capped at 30 s */
  backoff?: BackoffOptions
  /** No retry starts (or waits) past this time after the first attempt began. @default none */
  deadline?: Duration
  /**
   * Whether an error may be retried. @default every error but a `BrokenCircuitError` or
   * `BulkheadRejectedError` (retrying into an open breaker or a full bulkhead adds load to a
   * dependency that asked for less)
   */
  retryOn?: (error: unknown) => boolean
  /**
   * Retry a `BrokenCircuitError` too. Any error that carries a `retryAfterMs` (a refusal, an
   * `HttpError` of a 429 or 503 with `Retry-After`) is retried no sooner than that. @default false
   */
  retryBrokenCircuit?: boolean
  /** A shared budget, or options for one of its own; `false`: no budget. @default 10 % of calls, at least 1 per second */
  budget?: RetryBudget | RetryBudgetOptions | false
}

/** What a retry policy adds to the context: the attempt, 1 for the first. */
export interface RetryContext {
  attempt: number
}

/** A retry about to be made. */
export interface RetryEvent {
  /** The attempt about to be made: 2 for the first retry. */
  attempt: number
  /** How long it waits first, in milliseconds. */
  delayMs: number
  /** The error of the attempt that failed. */
  error: unknown
}

/** Why a retry policy stopped retrying and let an error through. */
export interface GiveUpEvent {
  attempts: number
  error: unknown
  reason: 'not_retryable' | 'max_attempts' | 'deadline' | 'budget' | 'aborted'
}

/** What a retry policy has done since it was made. */
export interface RetryStats {
  calls: number
  retries: number
  /** Calls that failed in the end, whatever the reason. */
  givenUp: number
  /** Retries refused by the budget. */
  budgetExhausted: number
}

/** Retries failed calls with backoff, within a budget. Make one with `retry()`. */
export class RetryPolicy implements Policy<RetryContext> {
  /** Type-only: what this policy adds, for `wrap`. */
  declare readonly [POLICY_TYPES]?: { context: RetryContext; fallback: never }
  readonly #maxAttempts: number
  readonly #delay: Backoff
  readonly #deadlineMs: number | undefined
  readonly #retryOn: (error: unknown) => boolean
  readonly #retryBrokenCircuit: boolean
  readonly #budget: RetryBudget | undefined
  readonly #retries = new Listeners<RetryEvent>()
  readonly #giveUps = new Listeners<GiveUpEvent>()
  readonly #stats: RetryStats = { calls: 0, retries: 0, givenUp: 0, budgetExhausted: 0 }

  /** @internal Made by `retry()`. */
  constructor(options: RetryOptions) {
    this.#maxAttempts = whole('maxAttempts', options.maxAttempts ?? 3, 1)
    this.#delay = backoff(options.backoff)
    this.#deadlineMs = options.deadline === undefined ? undefined : toMillis('deadline', options.deadline)
    if (options.retryOn !== undefined && typeof options.retryOn !== 'function') {
      throw typeError(`retryOn must be a function, but was ${describe(options.retryOn)}`)
    }
    this.#retryOn = options.retryOn ?? ((e) => !isBrokenCircuitError(e) && !isBulkheadRejectedError(e))
    this.#retryBrokenCircuit = options.retryBrokenCircuit === true
    const budget = options.budget
    this.#budget = budget === false ? undefined : budget instanceof RetryBudget ? budget : new RetryBudget(budget)
  }

  /**
   * Runs `fn`, and again after a delay while it fails with an error worth retrying, up to
   * `maxAttempts`, the deadline and the budget. Rejects with the last error.
   *
   * @example
   * const quote = await retryQuotes.execute(({ attempt, signal }) => fetchQuote(signal))
   */
  async execute<R>(fn: (context: RetryContext & CallContext) => R | PromiseLike<R>, options?: PolicyCallOptions): Promise<R> {
    checkFunction('execute', fn)
    const signal = checkSignal(options?.signal)
    const started = performance.now()
    this.#stats.calls += 1
    this.#budget?.recordCall()
    let previousDelay = 0
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn({ attempt, signal: signal ?? NEVER_ABORTS })
      } catch (error) {
        const delay = this.#nextDelay(error, attempt, previousDelay, started, signal)
        if (typeof delay === 'string') {
          this.#stats.givenUp += 1
          if (this.#giveUps.active) this.#giveUps.emit({ attempts: attempt, error, reason: delay })
          throw error
        }
        previousDelay = delay
        this.#stats.retries += 1
        if (this.#retries.active) this.#retries.emit({ attempt: attempt + 1, delayMs: delay, error })
        await sleep(delay, signal)
      }
    }
  }

  /** The wait before the next attempt, or why there is none. */
  #nextDelay(error: unknown, attempt: number, previous: number, started: number, signal: AbortSignal | undefined): number | GiveUpEvent['reason'] {
    if (signal?.aborted) return 'aborted'
    const broken = isBrokenCircuitError(error)
    if (broken ? !this.#retryBrokenCircuit || error.retryAfterMs === undefined : !this.#isRetryable(error)) {
      return 'not_retryable'
    }
    if (attempt >= this.#maxAttempts) return 'max_attempts'
    let delay = this.#delay(attempt, previous)
    // The dependency said when to come back (a refusal's or an HTTP Retry-After's retryAfterMs).
    const asked = (error as { retryAfterMs?: unknown } | null)?.retryAfterMs
    if (typeof asked === 'number' && asked > delay) delay = asked
    if (this.#deadlineMs !== undefined && performance.now() + delay - started > this.#deadlineMs) return 'deadline'
    if (this.#budget && !this.#budget.tryRetry()) {
      this.#stats.budgetExhausted += 1
      return 'budget'
    }
    return delay
  }

  #isRetryable(error: unknown): boolean {
    try {
      return this.#retryOn(error) === true
    } catch {
      return false // a filter that throws retries nothing; the call's error stands
    }
  }

  /** Calls `listener` before each retry's wait. @returns a disposer */
  onRetry(listener: (event: RetryEvent) => void): Disposer {
    return this.#retries.add(listener)
  }

  /** Calls `listener` when a call fails for good. @returns a disposer */
  onGiveUp(listener: (event: GiveUpEvent) => void): Disposer {
    return this.#giveUps.add(listener)
  }

  /** Calls, retries and failures so far (this thread's). */
  stats(): RetryStats {
    return { ...this.#stats }
  }
}

/**
 * A retry policy. Options are checked at once: a `RangeError` or `TypeError` names the option.
 *
 * @example
 * import { retry } from 'breakwater'
 * const retryQuotes = retry({ maxAttempts: 4, backoff: { strategy: 'exponential', base: '50ms', max: '1s', jitter: 0.2 } })
 * const quote = await retryQuotes.execute(() => fetchQuote())
 */
export function retry(options: RetryOptions = {}): RetryPolicy {
  if (options === null || typeof options !== 'object') throw typeError(`retry options must be an object, but was ${describe(options)}`)
  return new RetryPolicy(options)
}
