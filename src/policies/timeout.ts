import type { CallContext } from '../breaker.js'
import { describe, type Duration, toMillis } from '../duration.js'
import { TimeoutError } from '../errors.js'
import { checkSignal, linkedController } from '../signal.js'
import { checkFunction, type Policy, type PolicyCallOptions, type POLICY_TYPES } from './policy.js'

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
      throw new RangeError(`strategy must be cooperative or aggressive, but was ${describe(strategy)}`)
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
    const callerSignal = checkSignal(options?.signal)
    if (callerSignal?.aborted) throw callerSignal.reason
    const link = linkedController(callerSignal)
    const { controller } = link
    let timedOut: TimeoutError | undefined
    const timer = setTimeout(() => {
      timedOut = new TimeoutError(this.#name, this.#ms)
      controller.abort(timedOut)
    }, this.#ms)
    timer.unref() // the call's own work keeps the process alive, never this timer
    try {
      const running = start(fn, { signal: controller.signal })
      if (!this.#aggressive) {
        const result = await running.catch((error: unknown) => {
          throw timedOut ?? error
        })
        if (timedOut) throw timedOut
        return result
      }
      running.catch(() => {}) // settles after we gave up: nobody is left to handle it
      const abandoned = new Promise<never>((_, reject) => {
        if (controller.signal.aborted) reject(controller.signal.reason)
        controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true })
      })
      return await Promise.race([running, abandoned])
    } finally {
      clearTimeout(timer)
      link.dispose()
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
  return new TimeoutPolicy(toMillis('timeout', duration), options)
}
