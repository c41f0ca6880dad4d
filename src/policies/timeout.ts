import { type Duration, toTimeoutMillis } from '../duration.js'
import { AbortRace } from '../abort-race.js'
import { type CallContext, checkSignal, readCallOptions } from '../signal.js'
import { checkFunction, type Policy, type PolicyCallOptions, type POLICY_TYPES } from './policy.js'
import { describe, ownOptions, rangeError, typeError } from '../validate.js'

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
  /**
   * Let the process exit while a call waits for its timeout. A pending call is pending work, so
   * by default its timer keeps the process alive, as any pending I/O does. @default false
   */
  unref?: boolean
}

/** Bounds how long a call may run. Make one with `timeout()`. */
export class TimeoutPolicy implements Policy {
  /** Type-only: what this policy adds, for `wrap`. */
  declare readonly [POLICY_TYPES]?: { context: object; fallback: never }
  readonly #ms: number
  readonly #aggressive: boolean
  readonly #name: string
  readonly #unref: boolean

  /** @internal Made by `timeout()`. */
  constructor(ms: number, options: TimeoutOptions) {
    this.#ms = ms
    const strategy = options.strategy ?? 'cooperative'
    if (strategy !== 'cooperative' && strategy !== 'aggressive') {
      throw rangeError(`strategy must be cooperative or aggressive, but was ${describe(strategy)}`)
    }
    this.#aggressive = strategy === 'aggressive'
    const name = options.name ?? 'timeout'
    if (typeof name !== 'string') throw typeError(`name must be a string, but was ${describe(name)}`)
    this.#name = name
    const unref = options.unref ?? false
    if (typeof unref !== 'boolean') throw typeError(`unref must be true or false, but was ${describe(unref)}`)
    this.#unref = unref
  }

  /**
   * Runs `fn` with a signal that aborts with a `TimeoutError` when the time is up (or when the
   * caller's signal aborts). Once stopped, the stop decides: `execute` rejects with the
   * `TimeoutError` or the caller's reason, whatever `fn` does then. No timer or listener outlives
   * the call.
   *
   * @example
   * const rows = await bounded.execute(({ signal }) => db.query(sql, { signal }))
   */
  async execute<R>(fn: (context: CallContext) => R | PromiseLike<R>, options?: PolicyCallOptions): Promise<R> {
    checkFunction('execute', fn)
    const caller = checkSignal(readCallOptions<PolicyCallOptions>('execute', options, ['signal']).signal)
    const race = new AbortRace()
    try {
      const result = await race.start(fn, caller, this.#ms, this.#name, !this.#unref, this.#aggressive)
      if (race.stoppedBy === undefined) return result
    } catch (error) {
      if (race.stoppedBy === undefined) throw error
    } finally {
      race.end()
    }
    throw race.reason // the stop decides, whatever `fn` did after it
  }
}

/**
 * A timeout policy: calls that run past `duration` are aborted and rejected with a `TimeoutError`.
 *
 * @example
 * import { timeout } from 'breakwater'
 * const bounded = timeout('2s', { strategy: 'aggressive' })
 */
export function timeout(duration: Duration, options?: TimeoutOptions): TimeoutPolicy {
  const own = ownOptions<TimeoutOptions>('timeout', options, ['strategy', 'name', 'unref'])
  return new TimeoutPolicy(toTimeoutMillis('timeout', duration), own)
}
