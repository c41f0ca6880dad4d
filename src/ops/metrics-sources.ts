/**
 * What the Prometheus, OpenTelemetry and logging integrations read, described by shape only: a
 * registry of either module copy (ESM or CommonJS), bulkheads and retry policies. Pure: it imports
 * nothing with state (each subpath bundle gets its own copy of what it imports).
 */
import type { Metrics } from '../metrics.js'
import type { BulkheadStats } from '../policies/bulkhead.js'
import type { RetryStats } from '../policies/retry.js'
import type { StateChange, StateName } from '../state.js'
import { describe, ownOptions, rangeError, typeError } from '../validate.js'

/** A registry as the collectors read it: `registry` or any `new Registry()`. */
export interface HealthSource {
  /** Every breaker's metrics by name. */
  health(): Record<string, Metrics>
}

/** A registry as `logTransitions` reads it. */
export interface TransitionSource {
  /** Calls `listener` on every transition of every breaker; returns a disposer. */
  onStateChange(listener: (change: StateChange) => void): () => void
}

/** A bulkhead as the collectors read it: what `bulkhead()` returns. */
export interface BulkheadSource {
  readonly name: string
  stats(): BulkheadStats
}

/** A retry policy as the collectors read it: what `retry()` returns. */
export interface RetrySource {
  stats(): RetryStats
}

/** Every breaker state, in the order series are written. */
export const STATE_NAMES = ['closed', 'open', 'half_open', 'forced_open', 'disabled'] as const satisfies readonly StateName[]

// A compile-time check that STATE_NAMES lists every state: a new state fails the build here.
type Unlisted = Exclude<StateName, (typeof STATE_NAMES)[number]>
const everyStateListed: [Unlisted] extends [never] ? true : never = true
void everyStateListed

/** One snapshot of everything a collector exports, read once per collection. */
export interface Snapshot {
  breakers: [string, Metrics][]
  bulkheads: [string, BulkheadStats][]
  retries: [string, RetryStats][]
}

/** The sources a collector reads, checked. */
export interface Sources {
  registry: HealthSource
  bulkheads: readonly BulkheadSource[]
  retries: readonly [string, RetrySource][]
}

/** Reads every source once. */
export function snapshotOf({ registry, bulkheads, retries }: Sources): Snapshot {
  return {
    breakers: Object.entries(registry.health()),
    bulkheads: bulkheads.map((b) => [b.name, b.stats()]),
    retries: retries.map(([name, r]) => [name, r.stats()]),
  }
}

const PREFIX = /^(?:[a-zA-Z_:][a-zA-Z0-9_:]*)?$/

/**
 * The options of a Prometheus exporter called `what` (e.g. `prometheusMetrics`), read as own
 * properties (`keys`: every option it takes), with its `register` and `prefix` checked; the
 * prefix defaults to `breakwater_`.
 */
export function readPrometheusOptions<O extends { register: unknown; prefix?: string }>(
  what: string,
  options: O | undefined,
  keys: readonly (keyof O & string)[],
): { own: Partial<O>; prefix: string } {
  if (options === undefined) throw typeError(`${what} options must be an object like { register }, but was undefined`)
  const own = ownOptions<O>(what, options, keys)
  checkMethods('register', own.register, ['registerMetric', 'getSingleMetric', 'removeSingleMetric'])
  const prefix = own.prefix ?? 'breakwater_'
  if (typeof prefix !== 'string') throw typeError(`prefix must be a string, but was ${describe(prefix)}`)
  if (!PREFIX.test(prefix)) throw rangeError(`prefix must be empty or a metric name start ([a-zA-Z_:][a-zA-Z0-9_:]*), but was ${describe(prefix)}`)
  return { own, prefix }
}

/** What a Prometheus exporter asks of a prom-client registry (`readPrometheusOptions` checked it has these). */
export interface MetricRegister {
  getSingleMetric(name: string): unknown
  removeSingleMetric(name: string): void
  registerMetric(metric: never): void
}

/**
 * Registers every metric (each named by `keyOf`) with `register`, or none: a `RangeError` naming
 * `what` if one of the names is taken, and a register that refuses one keeps none of them.
 * @returns the disposer that removes them (the ones still registered as they are).
 */
export function registerAll<M>(register: MetricRegister, what: string, metrics: readonly M[], keyOf: (metric: M) => string): () => void {
  for (const metric of metrics) {
    if (register.getSingleMetric(keyOf(metric)) !== undefined) {
      throw rangeError(`register already has a metric called ${keyOf(metric)}: dispose the earlier ${what}, or give another prefix`)
    }
  }
  const dispose = () => {
    for (const metric of metrics) if (register.getSingleMetric(keyOf(metric)) === metric) register.removeSingleMetric(keyOf(metric))
  }
  try {
    for (const metric of metrics) register.registerMetric(metric as never)
  } catch (error) {
    dispose()
    throw error
  }
  return dispose
}

/** `value` has a method called `method`, or a `TypeError` naming `what`. */
export function checkMethods(what: string, value: unknown, methods: readonly string[]): void {
  const ok = typeof value === 'object' && value !== null && methods.every((m) => typeof (value as Record<string, unknown>)[m] === 'function')
  if (!ok) {
    const shape = methods.map((m) => `${m}()`).join(', ')
    throw typeError(`${what} must be an object with ${shape}, but was ${describe(value)}`)
  }
}

/** The `bulkheads` option: an array of bulkheads with distinct names. */
export function readBulkheads(value: unknown): BulkheadSource[] {
  if (value === undefined) return []
  if (!Array.isArray(value)) throw typeError(`bulkheads must be an array of bulkheads, but was ${describe(value)}`)
  const seen = new Set<string>()
  return value.map((b: unknown, i) => {
    checkMethods(`bulkheads[${i}]`, b, ['stats'])
    const name = (b as { name?: unknown }).name
    if (typeof name !== 'string') throw typeError(`bulkheads[${i}].name must be a string, but was ${describe(name)}`)
    if (seen.has(name)) throw rangeError(`bulkheads must have distinct names, but ${describe(name)} is given twice`)
    seen.add(name)
    return b as BulkheadSource
  })
}

/** The `retries` option: retry policies by the name their series carry. */
export function readRetries(value: unknown): [string, RetrySource][] {
  if (value === undefined) return []
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw typeError(`retries must be an object of retry policies by name, like { quotes: quoteRetry }, but was ${describe(value)}`)
  }
  return Object.keys(value).map((name) => {
    const policy = (value as Record<string, unknown>)[name]
    checkMethods(`retries[${JSON.stringify(name)}]`, policy, ['stats'])
    return [name, policy as RetrySource]
  })
}
