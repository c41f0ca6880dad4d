import type { CircuitBreaker } from '../breaker.js'
import type { BreakerOptions } from '../options.js'
import { type Registry, registry as processWide } from '../registry.js'
import type { StateName } from '../state.js'
import { describe, ownOptions, typeError } from '../validate.js'
import { api, type ApiClient, type ApiOptions } from '../adapters/api.js'
import { database, type DatabaseOptions, type PgDatabase, type PgPoolLike, type SqliteDatabase, type SqliteLike } from '../adapters/database.js'
import { type ModelRunner, neural, type NeuralModel, type NeuralOptions } from '../adapters/neural.js'
import { sandbox, type SandboxClientLike, type SandboxLike, type SandboxOptions, type SandboxPool } from '../adapters/sandbox.js'
import { allOrNothing, breakerOptions, registryOption } from '../adapters/setup.js'

/** Breaker presets of the trading system; a service's own `breaker` options override them. */
export const TRADING_PRESETS = {
  /** Market data: tolerant (a stale quote beats no quote), quick to retry. */
  marketData: { consecutiveFailures: 10, failureRate: 60, openFor: '15s', trackLatency: true },
  /** Orders: strict and fail fast; one probe at a time. */
  orders: { consecutiveFailures: 3, failureRate: 25, openFor: '30s', halfOpenProbes: 1, halfOpenSuccesses: 3, trackLatency: true },
  /** The predictor: a model that errs or stalls is replaced by the fallback quickly. */
  predictor: { consecutiveFailures: 5, openFor: '30s', trackLatency: true },
  /** The database: lenient, and given time to recover (longer open duration). */
  db: { consecutiveFailures: 10, failureRate: 75, openFor: '60s', maxOpenFor: '10m', trackLatency: true },
  /** The strategy sandbox: creation and execution judged apart. */
  sandbox: { consecutiveFailures: 5, openFor: '30s', trackLatency: true },
} as const satisfies Record<string, BreakerOptions>

type Named = { name?: string }

/**
 * The services to wire; give the ones the system has. A service takes its adapter's options but
 * `registry` (every breaker lives in the system's `registry`); a key the system sets itself is
 * refused with a `TypeError` naming it, never silently replaced.
 */
export interface TradingSystemOptions {
  /** Market data API. Defaults: timeout 2 s, GETs retried twice, tolerant breaker. */
  marketData?: Omit<ApiOptions, 'registry'> & Named
  /** Order API. Defaults: timeout 1 s, strict breaker, never retried (`retry` other than `false` is refused). */
  orders?: Omit<ApiOptions, 'registry' | 'retry'> &
    Named & {
      /** Orders are never retried: a retried order may fill twice. Only `false` is taken. */
      retry?: false
    }
  /** The price predictor: a model runner and its options. Default timeout 200 ms. */
  predictor?: Omit<NeuralOptions<ModelRunner>, 'registry'> & Named & { session: ModelRunner }
  /** The database: a pg Pool or better-sqlite3 Database. Defaults: timeout 5 s, lenient breaker. */
  db?: Omit<DatabaseOptions, 'registry'> & Named & { client: PgPoolLike | SqliteLike }
  /** The strategy sandbox: an E2B-shaped sandbox class. Defaults: create 30 s, execute 10 s. */
  sandbox?: Omit<SandboxOptions, 'registry'> & { client: SandboxClientLike<SandboxLike> }
  /** Where the breakers of every service live. @default the process-wide registry */
  registry?: Registry
}

/** One breaker's health, as the trading system reports it. */
export interface TradingServiceHealth {
  state: StateName
  calls: number
  /** successes / (successes + failures), in percent; 100 before any call. */
  successRate: number
  /** Failure rate of the current window, in percent. */
  failureRate: number
  rejections: number
  /** Latency percentiles in milliseconds (every preset tracks latency). */
  latency: { p50: number; p95: number; p99: number; max: number } | undefined
}

/** The wired services, typed by what was given, and `health()`. */
export type TradingSystem<O extends TradingSystemOptions> = {
  [K in Exclude<keyof O, 'registry'>]: K extends 'marketData' | 'orders'
    ? ApiClient
    : K extends 'predictor'
      ? O[K] extends { session: infer S extends ModelRunner }
        ? NeuralModel<S>
        : never
      : K extends 'db'
        ? O[K] extends { client: infer D }
          ? D extends PgPoolLike
            ? PgDatabase<D>
            : D extends SqliteLike
              ? SqliteDatabase<D>
              : never
          : never
        : K extends 'sandbox'
          ? O[K] extends { client: SandboxClientLike<infer X> }
            ? SandboxPool<X>
            : never
          : never
} & {
  /** Each breaker's state, rates and latency percentiles, by breaker name. */
  health(): Record<string, TradingServiceHealth>
}

/**
 * A trading backend's dependencies, each behind its adapter with presets for its role (orders
 * strict, market data tolerant, the database lenient with a longer open duration); every option
 * can be overridden. Options are read as own properties only (an unknown key is a `TypeError`),
 * and every service is checked before any breaker is created: a refused call creates nothing.
 *
 * @example
 * import { tradingSystem } from 'breakwater'
 * const system = tradingSystem({
 *   marketData: { baseUrl: 'https://md.example.com/v1' },
 *   orders: { baseUrl: 'https://broker.example.com/v2' },
 * })
 * const quote = await system.marketData.get('/quotes/AAPL')
 * console.table(system.health())
 */
export function tradingSystem<const O extends TradingSystemOptions>(options: O): TradingSystem<O> {
  const o = ownOptions<TradingSystemOptions>('tradingSystem', options, ['marketData', 'orders', 'predictor', 'db', 'sandbox', 'registry'])
  const registry = registryOption(o.registry, processWide)
  const given: Given = {
    marketData: serviceOptions('marketData', o.marketData),
    orders: serviceOptions('orders', o.orders),
    predictor: serviceOptions('predictor', o.predictor),
    db: serviceOptions('db', o.db),
    sandbox: serviceOptions('sandbox', o.sandbox),
  }
  refuseSetKeys(given)
  const services = allOrNothing(registry, breakerNames(given), (r) => wire(given, r))
  const breakers: CircuitBreaker[] = []
  for (const service of Object.values(services)) {
    const s = service as { breaker?: CircuitBreaker; createBreaker?: CircuitBreaker; executeBreaker?: CircuitBreaker }
    for (const b of [s.breaker, s.createBreaker, s.executeBreaker]) if (b) breakers.push(b)
  }
  const health = (): Record<string, TradingServiceHealth> =>
    Object.fromEntries(
      breakers.map((b) => {
        const m = b.metrics()
        const latency = m.latency && { p50: m.latency.p50, p95: m.latency.p95, p99: m.latency.p99, max: m.latency.max }
        return [b.name, { state: m.state, calls: m.calls, successRate: m.successRate, failureRate: m.window.failureRate, rejections: m.rejections, latency }]
      }),
    )
  return { ...services, health } as TradingSystem<O>
}

/** Each given service's options: own properties only, `undefined` values left out. */
type Given = { [K in Exclude<keyof TradingSystemOptions, 'registry'>]: Record<string, unknown> | undefined }

/** A service's options as a copy of their own defined properties; `undefined` when not given. */
function serviceOptions(what: string, value: unknown): Record<string, unknown> | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw typeError(`${what} must be an object of the service's options, but was ${describe(value)}`)
  }
  const own: Record<string, unknown> = Object.create(null) as Record<string, unknown>
  for (const [key, v] of Object.entries(value)) if (v !== undefined) own[key] = v
  return own
}

/**
 * Refuses the keys of a service that `wire` sets itself, which would otherwise be silently
 * replaced: a service's `registry` (the system's holds every breaker), and an order API's `retry`
 * (orders are never retried; `false` says so and is taken).
 */
function refuseSetKeys(given: Given): void {
  for (const [service, options] of Object.entries(given)) {
    if (options && Object.hasOwn(options, 'registry')) {
      throw typeError(
        `registry is not a tradingSystem ${service} option (every service's breakers live in the system's registry: give registry to tradingSystem itself)`,
      )
    }
  }
  if (given.orders && Object.hasOwn(given.orders, 'retry') && given.orders.retry !== false) {
    throw typeError(
      `retry is not a tradingSystem orders option (orders are never retried: a retried order may fill twice), but was ${describe(given.orders.retry)}`,
    )
  }
}

/** The names of the breakers `wire` creates. */
function breakerNames(given: Given): string[] {
  const names = [
    given.marketData && (given.marketData.name ?? 'market-data'),
    given.orders && (given.orders.name ?? 'orders'),
    given.predictor && (given.predictor.name ?? 'price-predictor'),
    given.db && (given.db.name ?? 'trading-db'),
  ]
  const box = given.sandbox && (given.sandbox.name ?? 'strategy-sandbox')
  if (box !== undefined) names.push(`${String(box)}:create`, `${String(box)}:execute`)
  return names.filter((n): n is string => typeof n === 'string')
}

/** Every given service behind its adapter, with its preset, its breakers on `registry`. */
function wire(given: Given, registry: Registry): Record<string, unknown> {
  const services: Record<string, unknown> = {}
  const preset = (what: string, base: BreakerOptions, own: unknown) => Object.assign(breakerOptions(what, undefined, base), breakerOptions(what, own))
  // Options handed on without a prototype: an adapter reads nothing of them through the chain.
  const bare = <T extends object>(options: T): T => Object.assign(Object.create(null) as T, options)
  if (given.marketData) {
    const { name = 'market-data', breaker, ...rest } = given.marketData
    const retry = { maxAttempts: 3, backoff: { base: 50, max: 500, jitter: 0.2 } }
    services.marketData = api(
      name as string,
      bare({
        timeout: '2s',
        retry,
        ...(rest as Omit<ApiOptions, 'breaker'>),
        registry,
        breaker: preset('marketData.breaker', TRADING_PRESETS.marketData, breaker),
      }),
    )
  }
  if (given.orders) {
    const { name = 'orders', breaker, ...rest } = given.orders
    services.orders = api(
      name as string,
      bare({
        timeout: '1s',
        ...(rest as Omit<ApiOptions, 'breaker'>),
        retry: false,
        registry,
        breaker: preset('orders.breaker', TRADING_PRESETS.orders, breaker),
      }),
    )
  }
  if (given.predictor) {
    const { name = 'price-predictor', session, breaker, ...rest } = given.predictor
    services.predictor = neural(name as string, session as ModelRunner, {
      timeout: 200,
      ...rest,
      registry,
      breaker: preset('predictor.breaker', TRADING_PRESETS.predictor, breaker),
    })
  }
  if (given.db) {
    const { name = 'trading-db', client, breaker, ...rest } = given.db
    services.db = database(
      name as string,
      client as PgPoolLike,
      bare<DatabaseOptions>({ timeout: '5s', ...rest, registry, breaker: preset('db.breaker', TRADING_PRESETS.db, breaker) }),
    )
  }
  if (given.sandbox) {
    const { client, createBreaker, executeBreaker, ...rest } = given.sandbox
    services.sandbox = sandbox(client as SandboxClientLike<SandboxLike>, {
      name: 'strategy-sandbox',
      createTimeout: '30s',
      executeTimeout: '10s',
      ...rest,
      registry,
      createBreaker: preset('sandbox.createBreaker', TRADING_PRESETS.sandbox, createBreaker),
      executeBreaker: preset('sandbox.executeBreaker', TRADING_PRESETS.sandbox, executeBreaker),
    })
  }
  return services
}
