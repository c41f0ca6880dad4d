import { BreakerEvents, CircuitBreaker } from './breaker.js'
import { fromNative } from './errors.js'
import { type Metrics, toMetrics } from './metrics.js'
import { type NativeFakeClock, NativeRegistry } from './native.js'
import { type BreakerOptions, type CallPolicy, readBreakerOptions } from './options.js'
import { describe, typeError } from './validate.js'

/** Options of a private registry. */
export interface RegistryOptions {
  /** A fake clock (from `breakwater/testing`) that the registry's breakers read instead of real time. */
  clock?: { readonly native: NativeFakeClock }
}

/** Marks the construction of the process-wide registry; not exported. */
const PROCESS_WIDE = Symbol('process-wide')

/** Breakers by name. The process-wide one, `registry`, is the same in every worker thread. */
export class Registry {
  readonly #registry: NativeRegistry
  /** This thread's listeners per breaker name, shared by all handles of the breaker. */
  readonly #events = new Map<string, BreakerEvents>()

  #eventsOf(name: string): BreakerEvents {
    let events = this.#events.get(name)
    if (!events) this.#events.set(name, (events = new BreakerEvents()))
    return events
  }

  /** A private registry, isolated from the process-wide one. */
  constructor(options: RegistryOptions = {}) {
    const processWide = (options as { [PROCESS_WIDE]?: true })[PROCESS_WIDE] === true
    this.#registry = processWide ? NativeRegistry.global() : new NativeRegistry(options.clock?.native)
  }

  /**
   * This thread's handle of the breaker called `name`, which is created with `options` if the
   * process has none yet. Options of an existing breaker are kept; the call policy (filters,
   * fallback) belongs to the returned handle.
   *
   * @example
   * const orders = registry.getOrCreate('orders', { consecutiveFailures: 3, openFor: '10s' })
   */
  getOrCreate<T = unknown>(name: string, options: BreakerOptions & CallPolicy<T> = {}): CircuitBreaker<T> {
    if (typeof name !== 'string') throw typeError(`name must be a string, but was ${describe(name)}`)
    const { native, policy, timeoutMs } = readBreakerOptions<T>(options)
    try {
      const breaker = this.#registry.getOrCreate(name, native)
      return new CircuitBreaker<T>(breaker, policy, timeoutMs, this.#eventsOf(name))
    } catch (e) {
      throw fromNative(e)
    }
  }

  /** A handle of the breaker called `name`, if there is one, with no call policy. */
  get<T = unknown>(name: string): CircuitBreaker<T> | undefined {
    const native = this.#registry.get(name)
    return native ? new CircuitBreaker<T>(native, {}, undefined, this.#eventsOf(name)) : undefined
  }

  /** Removes the breaker called `name`; whether there was one. Handles keep working. */
  remove(name: string): boolean {
    this.#events.delete(name)
    return this.#registry.remove(name)
  }

  /** Every breaker's name, sorted. */
  names(): string[] {
    return this.#registry.names()
  }

  /** Every breaker's metrics by name: the health view. */
  health(): Record<string, Metrics> {
    return Object.fromEntries(this.#registry.health().map((e) => [e.name, toMetrics(e.metrics)]))
  }
}

/** The process-wide registry: the same breakers in every worker thread. */
export const registry: Registry = new Registry({ [PROCESS_WIDE]: true } as RegistryOptions)

/**
 * This thread's handle of the process-wide breaker called `name`.
 *
 * @example
 * const marketData = circuitBreaker('market-data', { consecutiveFailures: 5, openFor: '30s' })
 */
export function circuitBreaker<T = unknown>(name: string, options?: BreakerOptions & CallPolicy<T>): CircuitBreaker<T> {
  return registry.getOrCreate(name, options)
}
