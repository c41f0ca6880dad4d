import type { CircuitBreaker } from '../breaker.js'
import { type Duration, toTimeoutMillis, toTimerMillis } from '../duration.js'
import { TimeoutError } from '../errors.js'
import { warn } from '../callbacks.js'
import { type Disposer, Listeners } from '../events.js'
import { type Backoff, checkedBackoff } from '../policies/backoff.js'
import { describe, ownOptions, rangeError, typeError } from '../validate.js'

/** What a recovery manager needs of a breaker. */
export type RecoverableBreaker = Pick<CircuitBreaker, 'state' | 'onOpen' | 'halfOpen'>

/** A health check's answer: healthy or not, with optional details for the event. */
export type HealthCheckResult = boolean | { healthy: boolean; details?: string }

/** Checks the dependency behind a breaker; the signal aborts when the check times out or the manager stops. */
export type HealthCheck = (signal: AbortSignal) => HealthCheckResult | PromiseLike<HealthCheckResult>

/** When a recovery manager checks. */
export interface RecoveryOptions {
  /** Wait before the first check after the breaker opens. @default '1s' */
  base?: Duration
  /** Growth of the wait after each unhealthy check. @default 2 */
  multiplier?: number
  /** The longest wait. @default '300s' */
  max?: Duration
  /** Spread of every wait, 0 to 1. @default 0.1 */
  jitter?: number
  /** Source of randomness in [0, 1) for the jitter. @default Math.random */
  random?: () => number
  /**
   * How long one check may run: a check still running then is aborted and counts as unhealthy
   * (its `error` a `TimeoutError`), so a check that never settles cannot stop recovery. @default '10s'
   */
  checkTimeout?: Duration
}

const OPTIONS = ['base', 'multiplier', 'max', 'jitter', 'random', 'checkTimeout'] as const
/** The shortest `base`: checks every millisecond would be a busy loop. */
const MIN_BASE_MS = 10

/** One health check's result. */
export interface HealthCheckEvent {
  /** 1 for the first check since the breaker opened. */
  attempt: number
  healthy: boolean
  details?: string
  /** The check's error, if it threw (counted as unhealthy). */
  error?: unknown
  /** The wait before the next check; absent when healthy or the breaker left open. */
  nextDelayMs?: number
}

/**
 * While a breaker is open, runs a health check on a backoff schedule and moves the breaker to
 * half-open as soon as the check passes, so traffic resumes before the open duration is over.
 * Each check is bounded by `checkTimeout`. Its timers never keep the process alive. Make one with
 * `recoveryManager()`.
 */
export class RecoveryManager {
  readonly #breaker: RecoverableBreaker
  readonly #check: HealthCheck
  readonly #delay: Backoff
  readonly #pollMs: number
  readonly #checkTimeoutMs: number
  readonly #checks = new Listeners<HealthCheckEvent>()
  #timer: NodeJS.Timeout | undefined
  #abort: AbortController | undefined
  #unsubscribe: Disposer | undefined
  #attempt = 0
  #checking = false

  /** @internal Made by `recoveryManager()`. */
  constructor(breaker: RecoverableBreaker, check: HealthCheck, options: RecoveryOptions) {
    this.#breaker = breaker
    this.#check = check
    const base = options.base ?? 1000
    this.#pollMs = toTimerMillis('base', base)
    if (this.#pollMs < MIN_BASE_MS)
      throw rangeError(`base must be at least ${MIN_BASE_MS} ms (checks that often would be a busy loop), but was ${this.#pollMs}`)
    this.#checkTimeoutMs = toTimeoutMillis('checkTimeout', options.checkTimeout ?? 10_000)
    this.#delay = checkedBackoff(
      {
        strategy: 'exponential',
        base,
        max: options.max ?? 300_000,
        multiplier: options.multiplier ?? 2,
        jitter: options.jitter ?? 0.1,
        ...(options.random ? { random: options.random } : {}),
      },
      '',
    )
  }

  /** Whether it is watching the breaker. */
  get running(): boolean {
    return this.#abort !== undefined
  }

  /** Starts watching: at once if the breaker is open now, else when it opens. */
  start(): this {
    if (this.running) return this
    this.#abort = new AbortController()
    // Opens made in any thread arrive as events: nothing polls.
    this.#unsubscribe = this.#breaker.onOpen((change) => change.to === 'open' && this.#guarded(() => this.#opened()))
    try {
      this.#watch()
    } catch (error) {
      this.stop() // a start that fails (a `random` option that throws) leaves no listener or timer behind
      throw error
    }
    return this
  }

  /**
   * Stops watching: clears its timer, aborts a running check (whose answer is then dropped), and
   * removes its listener. `start()` again begins afresh, even if that check never settles.
   */
  stop(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#abort?.abort(new Error('recovery manager stopped'))
    this.#abort = undefined
    this.#unsubscribe?.()
    this.#unsubscribe = undefined
    this.#attempt = 0
    this.#checking = false
  }

  /** Calls `listener` with each check's result. @returns a disposer */
  onCheck(listener: (event: HealthCheckEvent) => void): Disposer {
    return this.#checks.add(listener)
  }

  /** Starts checking if the breaker is open now; otherwise its next open starts it. */
  #watch(): void {
    if (this.#breaker.state === 'open') this.#opened()
  }

  #opened(): void {
    if (!this.running || this.#checking || this.#attempt > 0) return
    const first = this.#delay(1, 0) // may throw (a `random` option): then nothing has changed
    this.#attempt = 1
    this.#schedule(first, () => this.#checkNow())
  }

  /** Runs a check; a breaker whose state or `halfOpen` throws is reported, never unhandled. */
  #checkNow(): void {
    this.#runCheck().catch((error: unknown) => {
      warn('a breakwater recovery manager failed', error, 'BREAKWATER_RECOVERY')
      this.#checking = false
      this.#idle()
      // Looks again after `base`: the open this failure interrupted sends no second event.
      if (this.running) this.#schedule(this.#pollMs, () => this.#watch())
    })
  }

  async #runCheck(): Promise<void> {
    const signal = this.#abort?.signal
    if (!signal || this.#breaker.state !== 'open') return this.#idle()
    this.#checking = true
    const attempt = this.#attempt
    let event: HealthCheckEvent
    try {
      const result = await this.#bounded(signal)
      const healthy = typeof result === 'boolean' ? result : result?.healthy === true
      const details = typeof result === 'object' && typeof result?.details === 'string' ? { details: result.details } : {}
      event = { attempt, healthy, ...details }
    } catch (error) {
      event = { attempt, healthy: false, error }
    }
    if (signal.aborted) return // stopped while checking: a later start() owns the state now
    this.#checking = false
    const stillOpen = this.#breaker.state === 'open'
    if (event.healthy || !stillOpen) {
      if (event.healthy) this.#breaker.halfOpen()
      this.#emit(event)
      return this.#idle()
    }
    this.#attempt += 1
    const next = this.#delay(this.#attempt, 0)
    this.#emit({ ...event, nextDelayMs: next })
    this.#schedule(next, () => this.#checkNow())
  }

  /** The check, aborted and abandoned after `checkTimeout` (a `TimeoutError`) or when stopped. */
  async #bounded(stopped: AbortSignal): Promise<HealthCheckResult> {
    const check = new AbortController()
    let timer: NodeJS.Timeout | undefined
    let onStop: (() => void) | undefined
    const abandoned = new Promise<never>((_, reject) => {
      const end = (reason: unknown) => {
        check.abort(reason)
        reject(reason)
      }
      onStop = () => end(stopped.reason)
      stopped.addEventListener('abort', onStop, { once: true })
      timer = setTimeout(() => end(new TimeoutError('recovery check', this.#checkTimeoutMs)), this.#checkTimeoutMs)
      timer.unref()
    })
    try {
      return await Promise.race([Promise.resolve().then(() => this.#check(check.signal)), abandoned])
    } finally {
      clearTimeout(timer)
      stopped.removeEventListener('abort', onStop!)
      abandoned.catch(() => {})
    }
  }

  /** Waits for the next open. */
  #idle(): void {
    this.#attempt = 0
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  #schedule(ms: number, then: () => void): void {
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => this.#guarded(then), ms)
    this.#timer.unref()
  }

  /** Runs a timer's work; what it throws (a `random` option that throws) is a warning, and watching goes on. */
  #guarded(work: () => void): void {
    try {
      work()
    } catch (error) {
      warn('a breakwater recovery manager failed', error, 'BREAKWATER_RECOVERY')
      this.#attempt = 0
      this.#checking = false
      // Looks again after `base`: the open this failure interrupted sends no second event.
      if (this.running) this.#schedule(this.#pollMs, () => this.#watch())
    }
  }

  #emit(event: HealthCheckEvent): void {
    if (this.#checks.active) this.#checks.emit(event)
  }
}

/**
 * A started recovery manager for `breaker`: while it is open, `check` runs after 1 s, then 2 s,
 * 4 s ... up to 300 s (10 % jitter; all configurable); a healthy answer half-opens the breaker.
 *
 * @example
 * import { recoveryManager } from 'breakwater'
 * const recovery = recoveryManager(execution, async (signal) => (await fetch(healthUrl, { signal })).ok)
 * recovery.onCheck((e) => console.log('health check', e.attempt, e.healthy))
 * // on shutdown: recovery.stop()
 */
export function recoveryManager(breaker: RecoverableBreaker, check: HealthCheck, options?: RecoveryOptions): RecoveryManager {
  if (typeof breaker?.halfOpen !== 'function') throw typeError(`breaker must be a circuit breaker, but was ${describe(breaker)}`)
  if (typeof check !== 'function') throw typeError(`check must be a function, but was ${describe(check)}`)
  return new RecoveryManager(breaker, check, ownOptions<RecoveryOptions>('recovery', options, OPTIONS)).start()
}
