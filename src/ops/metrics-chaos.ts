/**
 * Chaos policies as Prometheus series (`prometheusChaos`, from breakwater/prometheus) and as
 * OpenTelemetry instruments (`openTelemetryChaos`, from breakwater/otel): what each policy
 * injected, by kind, whether it is on, and why it last stopped. So a board tells rehearsal from
 * reality. Read from `stats()` at scrape time; nothing is counted per call. Pure: no module state,
 * and neither prom-client nor the OpenTelemetry API is loaded here (types only).
 */
import type { BatchObservableResult, Meter, Observable } from '@opentelemetry/api'
import type { Registry, RegistryContentType } from 'prom-client'
import type { ChaosKind, ChaosStats, ChaosStopReason } from '../policies/chaos-options.js'
import { describe, ownOptions, typeError } from '../validate.js'
import { checkMethods, readPrometheusOptions, registerAll } from './metrics-sources.js'

/** A chaos policy as the collectors read it: what `chaos()` returns. */
export interface ChaosSource {
  stats(): ChaosStats
}

/** Chaos policies by the name their series carry (label `policy`, attribute `chaos.policy`). */
export type ChaosSources = Readonly<Record<string, ChaosSource>>

/** Options of `prometheusChaos`. */
export interface PrometheusChaosOptions {
  /** The prom-client registry the series join. */
  register: Registry<RegistryContentType>
  /** Put before every metric name. @default 'breakwater_' */
  prefix?: string
}

/** Options of `openTelemetryChaos`. */
export interface OpenTelemetryChaosOptions {
  /** The meter the instruments are made with, e.g. `metrics.getMeter('breakwater')`. */
  meter: Meter
}

const KINDS: readonly ChaosKind[] = ['fault', 'latency', 'outcome', 'behavior']
const STOP_REASONS: readonly ChaosStopReason[] = ['expired', 'breaker_open', 'error_rate', 'stop_when', 'disabled']

/** One value of one series: its labels (or attributes) and its value. */
type Point = [labels: Record<string, string>, value: number]

/** One family: name (without prefix), type, help, and its points from every policy's stats. */
interface ChaosFamily {
  name: string
  type: 'counter' | 'gauge'
  help: string
  points(stats: [string, ChaosStats][], policyKey: string): Point[]
}

/** The families, named for Prometheus; OpenTelemetry drops `_total` and uses dots. */
const FAMILIES: ChaosFamily[] = [
  {
    name: 'chaos_calls_total',
    type: 'counter',
    help: 'Calls through the chaos policy, injected or not (this thread).',
    points: (stats, key) => stats.map(([policy, s]) => [{ [key]: policy }, s.calls]),
  },
  {
    name: 'chaos_injected_total',
    type: 'counter',
    help: 'Calls injected by the chaos policy, by kind: fault, latency, outcome, behavior (this thread).',
    points: (stats, key) => stats.flatMap(([policy, s]) => KINDS.map((kind): Point => [{ [key]: policy, kind }, s.injected[kind]])),
  },
  {
    name: 'chaos_enabled',
    type: 'gauge',
    help: 'Whether the chaos policy injects now: 1 when enabled and within its TTL, 0 otherwise.',
    points: (stats, key) => stats.map(([policy, s]) => [{ [key]: policy }, s.enabled ? 1 : 0]),
  },
  {
    name: 'chaos_stopped',
    type: 'gauge',
    help: 'Why the chaos policy last stopped: 1 for the reason (expired, breaker_open, error_rate, stop_when, disabled), 0 for the others; all 0 while on or never stopped.',
    points: (stats, key) => stats.flatMap(([policy, s]) => STOP_REASONS.map((reason): Point => [{ [key]: policy, reason }, s.stopped === reason ? 1 : 0])),
  },
]

/** The `policies` argument: chaos policies by name, each with `stats()`. */
export function readChaosSources(value: unknown): [string, ChaosSource][] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw typeError(`policies must be an object of chaos policies by name, like { orders: ordersChaos }, but was ${describe(value)}`)
  }
  return Object.keys(value).map((name) => {
    const policy = (value as Record<string, unknown>)[name]
    checkMethods(`policies[${JSON.stringify(name)}]`, policy, ['stats'])
    return [name, policy as ChaosSource]
  })
}

/** Every policy's stats, read once per collection: every family of one scrape sees the same numbers. */
function sharedStats(sources: [string, ChaosSource][]): () => [string, ChaosStats][] {
  let cached: [string, ChaosStats][] | undefined
  return () => {
    if (cached) return cached
    cached = sources.map(([name, policy]) => [name, policy.stats()])
    queueMicrotask(() => {
      cached = undefined
    })
    return cached
  }
}

/**
 * Adds chaos policies to a prom-client 15 registry, under `breakwater_` (`prefix`):
 * `chaos_calls_total{policy}`, `chaos_injected_total{policy,kind}`, `chaos_enabled{policy}` and
 * `chaos_stopped{policy,reason}`. Counts are this thread's (a policy lives in one thread).
 *
 * @returns a disposer that takes the series out of `register`.
 * @throws TypeError or RangeError (code `ERR_BREAKWATER_INVALID_OPTION`) for a bad argument, or a
 * `register` that already has one of the names; nothing is registered then.
 * @example
 * import { register } from 'prom-client'
 * import { chaos } from 'breakwater'
 * import { prometheusChaos } from 'breakwater/prometheus'
 * const ordersChaos = chaos({ fault: () => new Error('gateway down'), rate: 0.2, for: '10m' })
 * const stop = prometheusChaos({ orders: ordersChaos }, { register })
 */
export function prometheusChaos(policies: ChaosSources, options: PrometheusChaosOptions): () => void {
  const sources = readChaosSources(policies)
  const { own, prefix } = readPrometheusOptions<PrometheusChaosOptions>('prometheusChaos', options, ['register', 'prefix'])
  const register = own.register
  const read = sharedStats(sources)
  const metrics = FAMILIES.map((family) => {
    const name = prefix + family.name
    const values = () => family.points(read(), 'policy').map(([labels, value]) => ({ labels, value }))
    // What prom-client's registry asks of a metric; counters are the policies' own totals, so reset keeps them.
    return {
      name,
      help: family.help,
      type: family.type,
      aggregator: 'sum',
      get: async () => ({ name, help: family.help, type: family.type, aggregator: 'sum', values: values() }),
      reset() {},
    }
  })
  return registerAll(register!, 'prometheusChaos', metrics, (metric) => metric.name)
}

/**
 * Observable instruments for chaos policies on an OpenTelemetry meter:
 * `resilience.breakwater.chaos.calls`, `resilience.breakwater.chaos.injected` (attribute `kind`),
 * `resilience.breakwater.chaos.enabled` and `resilience.breakwater.chaos.stopped` (attribute
 * `reason`), each with the attribute `chaos.policy`. One batch callback reads every policy's
 * `stats()` once per collection.
 *
 * @returns a disposer that removes the callback.
 * @throws TypeError (code `ERR_BREAKWATER_INVALID_OPTION`) for a bad argument; nothing is created then.
 * @example
 * import { metrics } from '@opentelemetry/api'
 * import { chaos } from 'breakwater'
 * import { openTelemetryChaos } from 'breakwater/otel'
 * const ordersChaos = chaos({ fault: () => new Error('gateway down'), rate: 0.2, for: '10m' })
 * const stop = openTelemetryChaos({ orders: ordersChaos }, { meter: metrics.getMeter('breakwater') })
 */
export function openTelemetryChaos(policies: ChaosSources, options: OpenTelemetryChaosOptions): () => void {
  const sources = readChaosSources(policies)
  if (options === undefined) throw typeError('openTelemetryChaos options must be an object like { meter }, but was undefined')
  const meter = ownOptions<OpenTelemetryChaosOptions>('openTelemetryChaos', options, ['meter']).meter
  checkMethods('meter', meter, ['createObservableGauge', 'createObservableCounter', 'addBatchObservableCallback', 'removeBatchObservableCallback'])
  const instruments = FAMILIES.map((family) => {
    const make = family.type === 'gauge' ? meter!.createObservableGauge : meter!.createObservableCounter
    const name = `resilience.breakwater.${family.name.replace(/_total$/, '').replace('_', '.')}`
    return make.call(meter, name, { unit: family.type === 'gauge' ? '1' : '{call}', description: family.help }) as Observable
  })
  const callback = (result: BatchObservableResult): void => {
    const stats = sources.map(([name, policy]): [string, ChaosStats] => [name, policy.stats()])
    for (const [i, family] of FAMILIES.entries()) {
      for (const [attributes, value] of family.points(stats, 'chaos.policy')) result.observe(instruments[i]!, value, attributes)
    }
  }
  meter!.addBatchObservableCallback(callback, instruments)
  return () => meter!.removeBatchObservableCallback(callback, instruments)
}
