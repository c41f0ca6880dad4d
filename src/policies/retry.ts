import { answerOf } from '../callbacks.js'
import type { CallContext } from '../signal.js'
import { type Duration, toMillis } from '../duration.js'
import { isBrokenCircuitError, isBulkheadRejectedError, OUTCOME_UNKNOWN } from '../errors.js'
import { type Disposer, Listeners } from '../events.js'
import { checkSignal, NEVER_ABORTS, readCallOptions, sleep } from '../signal.js'
import { type Backoff, type BackoffOptions, backoffSchedule } from './backoff.js'
import { RetryBudget, type RetryBudgetOptions } from './budget.js'
import { whole } from './check.js'
import { checkFunction, type Policy, type PolicyCallOptions, type POLICY_TYPES } from './policy.js'
import { describe, INVALID_OPTION, ownOptions, typeError } from '../validate.js'

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
   * dependency that asked for less), our own argument errors (code
   * `ERR_BREAKWATER_INVALID_OPTION`: a caller's mistake does not get better) and a
   * `CommitUnknownError` (code `ERR_BREAKWATER_COMMIT_UNKNOWN`: it may have committed, so a
   * retry could commit twice)
   */
  retryOn?: (error: unknown) => boolean
  /**
   * Retry a `BrokenCircuitError` too. Any error that carries a `retryAfterMs` (a refusal, an
   * `HttpError` of a 429 or 503 with `Retry-After`) is retried no sooner than that, and never
   * later than `backoff.max`: when it asks for longer, the policy gives up at once (reason
   * `retry_after_too_long`) rather than sleep past its own cap or come back early. @default false
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
  /** What the call rejects with: the last attempt's error, or the abort reason. */
  error: unknown
  /**
   * `retry_after_too_long`: the error's `retryAfterMs` asked for a longer wait than `backoff.max`.
   * `aborted`: the caller's signal aborted, after an attempt or during the wait.
   */
  reason: 'not_retryable' | 'max_attempts' | 'retry_after_too_long' | 'deadline' | 'budget' | 'aborted'
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
  readonly #maxDelayMs: number
  readonly #deadlineMs: number | undefined
  readonly #retryOn: (error: unknown) => boolean
  readonly #retryBrokenCircuit: boolean
  readonly #budget: RetryBudget | undefined
  readonly #retries = new Listeners<RetryEvent>()
  readonly #giveUps = new Listeners<GiveUpEvent>()
  readonly #stats: RetryStats = { calls: 0, retries: 0, givenUp: 0, budgetExhausted: 0 }

  /** @internal Made by `retry()`. Options are read as own properties; unknown keys are refused. */
  constructor(value: RetryOptions) {
    const options = ownOptions<RetryOptions>('retry', value, RETRY_OPTIONS)
    this.#maxAttempts = whole('maxAttempts', options.maxAttempts ?? 3, 1)
    const schedule = backoffSchedule(options.backoff, 'backoff.')
    this.#delay = schedule.delay
    this.#maxDelayMs = schedule.maxMs
    this.#deadlineMs = options.deadline === undefined ? undefined : toMillis('deadline', options.deadline)
    if (options.retryOn !== undefined && typeof options.retryOn !== 'function') {
      throw typeError(`retryOn must be a function, but was ${describe(options.retryOn)}`)
    }
    this.#retryOn = options.retryOn ?? retryableByDefault
    const broken = options.retryBrokenCircuit ?? false
    if (typeof broken !== 'boolean') throw typeError(`retryBrokenCircuit must be true or false, but was ${describe(broken)}`)
    this.#retryBrokenCircuit = broken
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
    const signal = checkSignal(readCallOptions<PolicyCallOptions>('execute', options, ['signal']).signal)
    const started = performance.now()
    this.#stats.calls += 1
    this.#budget?.recordCall()
    let previousDelay = 0
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn({ attempt, signal: signal ?? NEVER_ABORTS })
      } catch (error) {
        let delay: number | GiveUpEvent['reason']
        try {
          delay = this.#nextDelay(error, attempt, previousDelay, started, signal)
        } catch (bug) {
          // An option failed (a `random` that returned NaN): say so, with fn's error kept as its cause.
          if (bug instanceof Error && bug.cause === undefined) bug.cause = error
          throw bug
        }
        if (typeof delay === 'string') throw this.#giveUp(attempt, error, delay)
        previousDelay = delay
        this.#stats.retries += 1
        if (this.#retries.active) this.#retries.emit({ attempt: attempt + 1, delayMs: delay, error })
        try {
          await sleep(delay, signal)
        } catch (reason) {
          throw this.#giveUp(attempt, reason, 'aborted') // the caller aborted during the wait
        }
      }
    }
  }

  /** Counts and reports a call that fails for good; returns what it rejects with. */
  #giveUp(attempts: number, error: unknown, reason: GiveUpEvent['reason']): unknown {
    this.#stats.givenUp += 1
    if (this.#giveUps.active) this.#giveUps.emit({ attempts, error, reason })
    return error
  }

  /** The wait before the next attempt, or why there is none. */
  #nextDelay(error: unknown, attempt: number, previous: number, started: number, signal: AbortSignal | undefined): number | GiveUpEvent['reason'] {
    if (signal?.aborted) return 'aborted'
    // The dependency said when to come back (a refusal's or an HTTP Retry-After's retryAfterMs).
    const asked = retryAfterOf(error)
    if (isBrokenCircuitError(error) ? !this.#retryBrokenCircuit || asked === undefined : !this.#isRetryable(error)) {
      return 'not_retryable'
    }
    if (attempt >= this.#maxAttempts) return 'max_attempts'
    // Waiting longer than our own cap would hold the caller past what they configured; coming
    // back sooner than asked would hammer a dependency that asked for quiet: give up instead.
    if (asked !== undefined && asked > this.#maxDelayMs) return 'retry_after_too_long'
    const delay = Math.max(this.#delay(attempt, previous), asked ?? 0)
    if (this.#deadlineMs !== undefined && performance.now() + delay - started > this.#deadlineMs) return 'deadline'
    if (this.#budget && !this.#budget.tryRetry()) {
      this.#stats.budgetExhausted += 1
      return 'budget'
    }
    return delay
  }

  #isRetryable(error: unknown): boolean {
    try {
      return answerOf('retryOn', this.#retryOn(error)) === true
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

const RETRY_OPTIONS: readonly (keyof RetryOptions)[] = ['maxAttempts', 'backoff', 'deadline', 'retryOn', 'retryBrokenCircuit', 'budget']

/**
 * The default `retryOn`: not into an open breaker or a full bulkhead, nor a caller's own mistake,
 * nor an operation that may have taken effect (a COMMIT cut short: a retry could do it twice).
 */
function retryableByDefault(error: unknown): boolean {
  if (isBrokenCircuitError(error) || isBulkheadRejectedError(error)) return false
  const code = (error as { code?: unknown } | null)?.code
  return code !== INVALID_OPTION && code !== OUTCOME_UNKNOWN
}

/** The error's `retryAfterMs` when it is a usable wait (a finite number of at least 0), else undefined. */
function retryAfterOf(error: unknown): number | undefined {
  let asked: unknown
  try {
    asked = (error as { retryAfterMs?: unknown } | null)?.retryAfterMs
  } catch {
    return undefined // an error whose getters throw (a revoked Proxy) asks for nothing
  }
  return typeof asked === 'number' && Number.isFinite(asked) && asked >= 0 ? asked : undefined
}

/**
 * A retry policy. Options are checked at once: a `RangeError` or `TypeError` names the option;
 * options (and the nested `backoff` and `budget`) are read as own properties, unknown keys refused.
 *
 * @example
 * import { retry } from 'breakwater'
 * const retryQuotes = retry({ maxAttempts: 4, backoff: { strategy: 'exponential', base: '50ms', max: '1s', jitter: 0.2 } })
 * const quote = await retryQuotes.execute(() => fetchQuote())
 */
export function retry(options: RetryOptions = {}): RetryPolicy {
  return new RetryPolicy(options)
}
