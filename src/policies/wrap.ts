import type { CallContext } from '../signal.js'
import { checkSignal, NEVER_ABORTS, readCallOptions } from '../signal.js'
import { type AnyPolicy, checkFunction, type ContextOf, type FallbackOf, type Policy, type PolicyCallOptions, type POLICY_TYPES } from './policy.js'
import { typeError } from '../validate.js'

/** `A | B` to `A & B`. */
type Intersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never

/** The context every policy of `P` adds, merged. */
export type MergedContext<P extends readonly AnyPolicy[]> = Intersection<ContextOf<P[number]>> & object

/**
 * What `fn` gets from a wrap: every layer's fields, and the innermost layer's signal, read only
 * when `fn` reads it (a timeout's signal costs microseconds to make; see `LazyAbort`).
 */
class WrapContext {
  #layer: CallContext = { signal: NEVER_ABORTS }

  get signal(): AbortSignal {
    return this.#layer.signal
  }

  /** Adds `layer`'s fields (its signal stays unread) and makes it the innermost. */
  static enter(context: WrapContext, layer: CallContext): void {
    for (const key in layer) if (key !== 'signal') (context as unknown as Record<string, unknown>)[key] = (layer as unknown as Record<string, unknown>)[key]
    context.#layer = layer
  }
}

/** Policies run one inside the other. Make one with `wrap()`. */
export class WrappedPolicy<Context extends object, Fallback> implements Policy<Context, Fallback> {
  /** Type-only: what this policy adds, for `wrap`. */
  declare readonly [POLICY_TYPES]?: { context: Context; fallback: Fallback }
  readonly #policies: readonly AnyPolicy[]

  /** @internal Made by `wrap()`. */
  constructor(policies: readonly AnyPolicy[]) {
    this.#policies = policies
  }

  /**
   * Runs `fn` through every policy, outermost first, as the nested `execute` calls would: one
   * signal reaches all of them (each may add its own abort), and `fn` gets every policy's context.
   *
   * @example
   * const quote = await resilient.execute(({ attempt, signal }) => fetchQuote(signal))
   */
  execute<R>(fn: (context: Context & CallContext) => R | PromiseLike<R>, options?: PolicyCallOptions): Promise<R | Fallback> {
    try {
      return this.#execute(fn, options)
    } catch (error) {
      return Promise.reject(error) // bad arguments, or a policy whose execute throws: a rejection, never a throw
    }
  }

  #execute<R>(fn: (context: Context & CallContext) => R | PromiseLike<R>, options?: PolicyCallOptions): Promise<R | Fallback> {
    checkFunction('execute', fn)
    const signal = checkSignal(readCallOptions<PolicyCallOptions>('execute', options, ['signal']).signal)
    const policies = this.#policies
    const last = policies.length - 1
    const context = new WrapContext()
    const step = (i: number, signal: AbortSignal | undefined): Promise<unknown> =>
      policies[i]!.execute(
        (layer: CallContext) => {
          WrapContext.enter(context, layer)
          return i === last ? fn(context as unknown as Context & CallContext) : step(i + 1, layer.signal)
        },
        { signal },
      )
    return step(0, signal) as Promise<R | Fallback>
  }
}

/**
 * Composes policies, outermost first: `wrap(retry, breaker, timeout)` retries calls that go
 * through the breaker, each bounded by the timeout. Put a timeout innermost: its signal is then
 * made only if `fn` reads it (an outer policy's signal is read by the policies inside it).
 *
 * @example
 * import { circuitBreaker, retry, timeout, wrap } from 'breakwater'
 * const resilient = wrap(retry({ maxAttempts: 3 }), circuitBreaker('quotes'), timeout('1s'))
 * const quote = await resilient.execute(({ attempt, signal }) => fetchQuote(signal))
 */
export function wrap<const P extends readonly AnyPolicy[]>(...policies: P): WrappedPolicy<MergedContext<P>, FallbackOf<P[number]>> {
  if (policies.length === 0) throw typeError('wrap needs at least one policy')
  policies.forEach((p, i) => {
    if (typeof (p as Partial<Policy> | null)?.execute !== 'function') {
      throw typeError(`wrap's argument ${i + 1} must be a policy (something with execute), but was not`)
    }
  })
  return new WrappedPolicy(policies)
}
