import type { CallContext } from '../signal.js'
import { typeError } from '../validate.js'

/** Per-call options every policy's `execute` takes. */
export interface PolicyCallOptions {
  /** Aborting it abandons the call (and any wait); `execute` rejects with its reason. */
  signal?: AbortSignal
}

/** Type-only: what a policy adds to the context and to the result, for `wrap` to read. */
export declare const POLICY_TYPES: unique symbol

/**
 * Anything that runs a function under a rule: a breaker, retry, timeout, bulkhead, fallback, or a
 * `wrap` of them. `Context` is what the policy adds to the function's argument (retry adds
 * `attempt`); `Fallback` is the type of value it may return instead of the function's.
 */
export interface Policy<Context extends object = object, Fallback = never> {
  /** Type-only (never set): the types `wrap` merges. */
  readonly [POLICY_TYPES]?: { context: Context; fallback: Fallback }
  execute<R>(fn: (context: Context & CallContext) => R | PromiseLike<R>, options?: PolicyCallOptions): Promise<R | Fallback>
}

/** What `wrap` accepts: any policy, whatever its context and result types. */
export interface AnyPolicy {
  readonly [POLICY_TYPES]?: { context: object; fallback: unknown }
  execute(fn: (context: CallContext) => unknown, options?: PolicyCallOptions): Promise<unknown>
}

/** The context type a policy adds. */
export type ContextOf<P> = P extends { readonly [POLICY_TYPES]?: { context: infer C } } ? (unknown extends C ? object : C) : object

/** The fallback value type a policy may return. */
export type FallbackOf<P> = P extends { readonly [POLICY_TYPES]?: { fallback: infer F } } ? (unknown extends F ? never : F) : never

/** The function type's name in error messages. */
export function checkFunction(what: string, fn: unknown): void {
  if (typeof fn !== 'function') {
    throw typeError(`${what} needs a function to run, but was given ${fn === null ? 'null' : typeof fn}`)
  }
}
