import { answerOf } from '../callbacks.js'
import type { CallContext } from '../signal.js'
import { checkSignal, NEVER_ABORTS, readCallOptions } from '../signal.js'
import { checkFunction, type Policy, type PolicyCallOptions, type POLICY_TYPES } from './policy.js'
import { describe, ownOptions, typeError } from '../validate.js'

/** Which failures a fallback replaces. */
export interface FallbackOptions {
  /** Whether `error` is replaced by the fallback. @default every error but the caller's own abort */
  handles?: (error: unknown) => boolean
}

const HANDLES_EVERY_ERROR = () => true

/**
 * What replaces a failure with a value: the one fallback of breakwater, behind the `fallback`
 * policy and a breaker's `fallback` option (whose breaker decides what is a failure, so its
 * fallback handles every error it is given). The caller's own abort is never replaced.
 */
export class Fallback<T> {
  readonly #value: (error: unknown) => T | PromiseLike<T>
  readonly #handles: (error: unknown) => boolean

  constructor(value: (error: unknown) => T | PromiseLike<T>, handles: (error: unknown) => boolean = HANDLES_EVERY_ERROR) {
    this.#value = value
    this.#handles = handles
  }

  /** The fallback's value for `error`, as the user's function returns it (a promise or not). */
  valueFor(error: unknown): T | PromiseLike<T> {
    const value = this.#value // called as a plain function: it is the user's, not a method of ours
    return value(error)
  }

  /**
   * Resolves to the fallback's value for `error`, or rejects with `error` when it is `signal`'s
   * abort reason (the caller's own abort) or not one the filter handles.
   */
  async replace(error: unknown, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted && error === signal.reason) throw error
    if (!this.#handled(error)) throw error
    return await this.valueFor(error)
  }

  #handled(error: unknown): boolean {
    try {
      return answerOf('handles', this.#handles(error)) === true
    } catch {
      return false // a filter that throws handles nothing; the call's error stands
    }
  }
}

/** Replaces a failure with a value. Make one with `fallback()`. */
export class FallbackPolicy<T> implements Policy<object, T> {
  /** Type-only: what this policy adds, for `wrap`. */
  declare readonly [POLICY_TYPES]?: { context: object; fallback: T }
  readonly #fallback: Fallback<T>

  /** @internal Made by `fallback()`. */
  constructor(value: (error: unknown) => T | PromiseLike<T>, handles: (error: unknown) => boolean) {
    this.#fallback = new Fallback(value, handles)
  }

  /**
   * Runs `fn`; if it fails with a handled error, resolves to the fallback instead. An error the
   * filter does not handle, and the caller's own abort, pass through.
   *
   * @example
   * const price = await lastKnownPrice.execute(() => fetchPrice(symbol))
   */
  async execute<R>(fn: (context: CallContext) => R | PromiseLike<R>, options?: PolicyCallOptions): Promise<R | T> {
    checkFunction('execute', fn)
    const signal = checkSignal(readCallOptions<PolicyCallOptions>('execute', options, ['signal']).signal)
    try {
      return await fn({ signal: signal ?? NEVER_ABORTS })
    } catch (error) {
      return await this.#fallback.replace(error, signal)
    }
  }
}

/**
 * A fallback policy: `value`, or what `value(error)` returns, replaces a handled failure.
 *
 * @example
 * import { fallback } from 'breakwater'
 * const lastKnownPrice = fallback((error) => cache.get(symbol) ?? Promise.reject(error))
 * const noQuote = fallback(null)
 */
export function fallback<T>(value: T | ((error: unknown) => T | PromiseLike<T>), options?: FallbackOptions): FallbackPolicy<T> {
  const handles = ownOptions<FallbackOptions>('fallback', options, ['handles']).handles ?? (() => true)
  if (typeof handles !== 'function') throw typeError(`handles must be a function, but was ${describe(handles)}`)
  const of = typeof value === 'function' ? (value as (error: unknown) => T | PromiseLike<T>) : () => value
  return new FallbackPolicy<T>(of, handles)
}
