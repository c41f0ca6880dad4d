import type { CallContext } from '../breaker.js'
import { type Duration, toTimerMillis } from '../duration.js'
import { TimeoutError } from '../errors.js'
import { checkSignal, LazyAbort } from '../signal.js'
import { checkFunction, type Policy, type PolicyCallOptions, type POLICY_TYPES } from './policy.js'
import { describe, rangeError } from '../validate.js'

/** How a timeout policy ends a call that runs too long. */
export interface TimeoutOptions {
  /**
   * `cooperative`: aborts the call's signal and waits for `fn` to settle, then rejects with a
   * `TimeoutError` (no work is left running when `execute` returns). `aggressive`: aborts the
   * signal and rejects at once; `fn` may still be running. @default 'cooperative'
   */
  strategy?: 'cooperative' | 'aggressive'
  /** Named in the `TimeoutError` (`source`). @default 'timeout' */
  name?: string
}

/** Bounds how long a call may run. Make one with `timeout()`. */
export class TimeoutPolicy implements Policy {
  /** Type-only: what this policy adds, for `wrap`. */
  declare readonly [POLICY_TYPES]?: { context: object; fallback: never }
  readonly #ms: number
  readonly #aggressive: boolean
  readonly #name: string

  /** @internal Made by `timeout()`. */
  constructor(ms: number, options: TimeoutOptions) {
    this.#ms = ms
    const strategy = options.strategy ?? 'cooperative'
    if (strategy !== 'cooperative' && strategy !== 'aggressive') {
      throw rangeError(`strategy must be cooperative or aggressive, but was ${describe(strategy)}`)
    }
    this.#aggressive = strategy === 'aggressive'
    this.#name = options.name ?? 'timeout'
  }

  /**
   * Runs `fn` with a signal that aborts with a `TimeoutError` when the time is up (or when the
   * caller's signal aborts). No timer or listener outlives the call.
   *
   * @example
   * const rows = await bounded.execute(({ signal }) => db.query(sql, { signal }))
   */
  async execute<R>(fn: (context: CallContext) => R | PromiseLike<R>, options?: PolicyCallOptions): Promise<R> {
    checkFunction('execute', fn)
    const caller = checkSignal(options?.signal)
    if (caller?.aborted) throw caller.reason
    const call = new LazyAbort()
    let timedOut: TimeoutError | undefined
    let giveUp: ((reason: unknown) => void) | undefined
    const abandoned = this.#aggressive ? new Promise<never>((_, reject) => (giveUp = reject)) : undefined
    const stop = (reason: unknown) => {
      call.abort(reason)
      giveUp?.(reason)
    }
    const onCallerAbort = () => stop(caller!.reason)
    caller?.addEventListener('abort', onCallerAbort, { once: true })
    const timer = setTimeout(() => stop((timedOut = new TimeoutError(this.#name, this.#ms))), this.#ms)
    timer.unref() // the call's own work keeps the process alive, never this timer
    try {
      const running = start(fn, call)
      if (abandoned) {
        running.catch(() => {}) // may settle after we gave up: nobody is left to handle it
        return await Promise.race([running, abandoned])
      }
      const result = await running.catch((error: unknown) => {
        throw timedOut ?? error
      })
      if (timedOut) throw timedOut
      return result
    } finally {
      clearTimeout(timer)
      caller?.removeEventListener('abort', onCallerAbort)
      abandoned?.catch(() => {})
    }
  }
}

/** `fn`'s promise; a synchronous throw becomes a rejection. */
function start<R>(fn: (context: CallContext) => R | PromiseLike<R>, context: CallContext): Promise<R> {
  try {
    return Promise.resolve(fn(context))
  } catch (error) {
    return Promise.reject(error)
  }
}

/**
 * A timeout policy: calls that run past `duration` are aborted and rejected with a `TimeoutError`.
 *
 * @example
 * import { timeout } from 'breakwater'
 * const bounded = timeout('2s', { strategy: 'aggressive' })
 */
export function timeout(duration: Duration, options: TimeoutOptions = {}): TimeoutPolicy {
  return new TimeoutPolicy(toTimerMillis('timeout', duration), options)
}
