import type { CircuitBreaker } from '../breaker.js'
import type { CallContext } from '../signal.js'
import type { Duration } from '../duration.js'
import type { Metrics } from '../metrics.js'
import type { BreakerOptions, CallPolicy } from '../options.js'
import { type Registry, registry as processWide } from '../registry.js'
import type { StateName } from '../state.js'
import { allOrNothing, registryOption } from '../adapters/setup.js'
import {
  bulkhead,
  bulkheadLimits,
  priorityOf,
  type Bulkhead,
  type BulkheadCallOptions,
  type BulkheadOptions,
  type BulkheadStats,
} from '../policies/bulkhead.js'
import type { AnyPolicy, PolicyCallOptions } from '../policies/policy.js'
import { readCallOptions } from '../signal.js'
import { retry, type RetryContext, type RetryOptions, type RetryPolicy, type RetryStats } from '../policies/retry.js'
import { timeout, type TimeoutOptions } from '../policies/timeout.js'
import { wrap } from '../policies/wrap.js'
import { describe, ownOptions, typeError } from '../validate.js'

/** A service's policies. Only the breaker is always there. */
export interface ServiceOptions {
  /** The breaker's options and call policy. @default breaker defaults */
  breaker?: BreakerOptions & CallPolicy
  /** Retries around the breaker (refusals are not retried). @default none */
  retry?: RetryOptions
  /** A concurrency limit inside the breaker (a refused call takes no permit), process-wide. @default none */
  bulkhead?: BulkheadOptions
  /** A bound on each attempt, innermost, counted as a timeout by the breaker. @default none */
  timeout?: Duration | ({ after: Duration } & TimeoutOptions)
}

/** A registered service: its policies, composed retry -> breaker -> bulkhead -> timeout. */
export interface Service {
  readonly name: string
  readonly breaker: CircuitBreaker
  readonly retry: RetryPolicy | undefined
  readonly bulkhead: Bulkhead | undefined
}

/** One service's health. */
export interface ServiceHealth {
  state: StateName
  breaker: Metrics
  bulkhead?: BulkheadStats
  retries?: RetryStats
}

type Composed = { execute<R>(fn: (context: CallContext & Partial<RetryContext>) => R | PromiseLike<R>, options?: PolicyCallOptions): Promise<R> }
type Layers = { retry?: RetryPolicy; breaker: CircuitBreaker; bulkhead?: Bulkhead; timeout?: AnyPolicy }

/** The layers run retry -> breaker -> bulkhead -> timeout; the bulkhead queues the call with `priority`. */
function compose(layers: Layers, priority: number | undefined): Composed {
  const limit = layers.bulkhead
  const queued: AnyPolicy | undefined = limit && (priority === undefined ? limit : { execute: (fn, options) => limit.execute(fn, { ...options, priority }) })
  const list = [layers.retry, layers.breaker, queued, layers.timeout].filter((p): p is NonNullable<typeof p> => p !== undefined)
  return (list.length === 1 ? layers.breaker : wrap(...(list as AnyPolicy[]))) as unknown as Composed
}

/**
 * The services of a backend, each registered once with its policies and then called by name
 * from anywhere (the "resilience manager" of our design papers). Breakers and bulkheads are
 * process-wide; retry counts are this thread's.
 */
export class Services {
  readonly #registry: Registry
  readonly #services = new Map<string, Service & { layers: Layers; composed: Composed }>()

  /** A set of services whose breakers live in `registry`. */
  constructor(registry?: Registry) {
    this.#registry = registryOption(registry, processWide)
  }

  /**
   * Registers `name` with its policies; a `TypeError` or `RangeError` names a bad option.
   *
   * @example
   * services.register('broker', { breaker: { consecutiveFailures: 2, openFor: '10s' }, retry: { maxAttempts: 2 }, timeout: '2s' })
   */
  register(name: string, given?: ServiceOptions): Service {
    if (typeof name !== 'string' || name === '') throw typeError(`a service name must be a non-empty string, but was ${describe(name)}`)
    if (this.#services.has(name)) {
      throw Object.assign(new Error(`service ${JSON.stringify(name)} is registered already`), { code: 'ERR_BREAKWATER_SERVICE_EXISTS' })
    }
    const options = ownOptions<ServiceOptions>('service', given, ['breaker', 'retry', 'bulkhead', 'timeout'])
    // Everything is checked before anything shared is created: the policies that hold no shared
    // state and the bulkhead's limits first; the breaker is created all or nothing (its ranges are
    // checked by the core on a private registry first), and removed again if the bulkhead (limits
    // unlike an existing bulkhead's) is refused.
    const retrying = options.retry ? retry(options.retry) : undefined
    const bound = options.timeout === undefined ? undefined : timeoutOf(name, options.timeout)
    const limits = options.bulkhead === undefined ? undefined : bulkheadLimits(options.bulkhead)
    const [breaker, limit] = allOrNothing(this.#registry, [name], (registry) => {
      const made = registry.getOrCreate(name, options.breaker)
      return [made, limits && registry === this.#registry ? bulkhead(name, limits) : undefined] as const
    })
    // No prototype: `compose` reads layers that may be absent, and must not find Object.prototype's.
    const layers: Layers = Object.assign(Object.create(null) as Layers, { breaker, retry: retrying, bulkhead: limit, timeout: bound })
    const service = { name, breaker, retry: retrying, bulkhead: limit, layers, composed: compose(layers, undefined) }
    this.#services.set(name, service)
    return { name, breaker, retry: retrying, bulkhead: limit }
  }

  /**
   * Calls `fn` through the policies of service `name`.
   *
   * @example
   * const fill = await services.call('broker', ({ signal }) => broker.submit(order, { signal }))
   */
  call<R>(name: string, fn: (context: CallContext & Partial<RetryContext>) => R | PromiseLike<R>, options?: BulkheadCallOptions): Promise<R> {
    const service = this.#services.get(name)
    if (!service) return Promise.reject(typeError(`no service is registered as ${describe(name)} (registered: ${this.names().join(', ') || 'none'})`))
    let own: Partial<BulkheadCallOptions>
    try {
      own = readCallOptions<BulkheadCallOptions>('service call', options, ['signal', 'priority'])
      // Checked here, before the breaker lets the call in: a bad priority is the caller's mistake.
      if (own.priority !== undefined) priorityOf(own.priority)
    } catch (error) {
      return Promise.reject(error)
    }
    const composed = own.priority === undefined ? service.composed : compose(service.layers, own.priority)
    return composed.execute(fn, own.signal === undefined ? undefined : { signal: own.signal })
  }

  /** The service called `name`, if registered. */
  get(name: string): Service | undefined {
    const s = this.#services.get(name)
    return s && { name: s.name, breaker: s.breaker, retry: s.retry, bulkhead: s.bulkhead }
  }

  /** Every registered name, sorted. */
  names(): string[] {
    return [...this.#services.keys()].sort()
  }

  /** Each service's breaker state and metrics, bulkhead use and retry counts. */
  health(): Record<string, ServiceHealth> {
    const health: Record<string, ServiceHealth> = {}
    for (const name of this.names()) {
      const s = this.#services.get(name)!
      const metrics = s.breaker.metrics()
      health[name] = {
        state: metrics.state,
        breaker: metrics,
        ...(s.bulkhead ? { bulkhead: s.bulkhead.stats() } : {}),
        ...(s.retry ? { retries: s.retry.stats() } : {}),
      }
    }
    return health
  }
}

function timeoutOf(name: string, option: NonNullable<ServiceOptions['timeout']>) {
  if (typeof option === 'object' && option !== null) {
    const { after, ...rest } = ownOptions<{ after: Duration } & TimeoutOptions>('service timeout', option, ['after', 'strategy', 'name', 'unref'])
    return timeout(after!, { name, ...rest })
  }
  return timeout(option, { name })
}

/** The process-wide services of this thread (breakers and bulkheads shared by every thread). */
export const services: Services = new Services()
