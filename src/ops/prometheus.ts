/**
 * breakwater/prometheus: a registry's breakers (and bulkheads, retry policies) as Prometheus
 * series in a prom-client 15 registry, read from the native snapshot at scrape time.
 */
import type { Registry, RegistryContentType } from 'prom-client'
import {
  BREAKER_FAMILIES,
  BULKHEAD_FAMILIES,
  type Emit,
  type FamilySpec,
  type Labels,
  LabelSets,
  RETRY_FAMILIES,
  type Scrape,
} from './metrics-prometheus-families.js'
import {
  type BulkheadSource,
  checkMethods,
  readPrometheusOptions,
  registerAll,
  type HealthSource,
  readBulkheads,
  readRetries,
  type RetrySource,
  snapshotOf,
  type Sources,
} from './metrics-sources.js'
import { type FleetSource, fleetFamilies, readFleet } from './metrics-fleet.js'

export type { BulkheadSource, HealthSource, RetrySource } from './metrics-sources.js'

// Chaos policies: their own series (what each injected, whether it is on, why it stopped).
export { type ChaosSource, type ChaosSources, type PrometheusChaosOptions, prometheusChaos } from './metrics-chaos.js'

/** Options of `prometheusMetrics`. */
export interface PrometheusOptions {
  /** The prom-client registry the series join: prom-client's `register`, or one of yours. */
  register: Registry<RegistryContentType>
  /**
   * Put before every metric name. With `'resilience4j_'`, the series resilience4j's Micrometer
   * binding also has (state, buffered calls, failure and slow call rates, not permitted calls,
   * bulkhead permits) get its names, for boards made for it. @default 'breakwater_'
   */
  prefix?: string
  /** Bulkheads to export (what `bulkhead()` returns), by their names. @default none */
  bulkheads?: readonly BulkheadSource[]
  /** Retry policies to export (what `retry()` returns), by the name given here. @default none */
  retries?: Readonly<Record<string, RetrySource>>
}

/** A sample as prom-client reads it. */
interface Sample {
  labels?: Labels
  sharedLabels?: Labels
  value: number
  metricName?: string
}
/** A family's values as prom-client reads them. */
interface FamilyValues {
  name: string
  help: string
  type: string
  aggregator: string
  values: Sample[]
}

/**
 * A metric family as prom-client's registry reads it (`name`, `type`, `get()`, `reset()`), its
 * values made at scrape time from the snapshot shared by every family of one scrape.
 */
class Family {
  /** prom-client renames a counter for OpenMetrics (drops `_total`): the name it was registered under. */
  readonly key: string
  name: string
  readonly help: string
  readonly type: FamilySpec['type']
  readonly aggregator: FamilySpec['aggregator']
  readonly #emit: Emit
  readonly #read: () => Scrape

  constructor(spec: FamilySpec, prefix: string, read: () => Scrape) {
    this.key = this.name = prefix + spec.name
    this.help = spec.help
    this.type = spec.type
    this.aggregator = spec.aggregator
    this.#emit = spec.emit
    this.#read = read
  }

  /** The values with plain labels (copies: the caller may change them): for `getMetricsAsJSON()` and the cluster aggregator. */
  get(): Promise<FamilyValues> {
    return Promise.resolve(this.#values((labels, value, metricName) => ({ labels: { ...labels }, value, metricName })))
  }

  /** The values for the text exposition, each label set given as `sharedLabels` (formatted once per object). */
  getForPromString(): Promise<FamilyValues> {
    return Promise.resolve(this.#values((sharedLabels, value, metricName) => ({ sharedLabels, value, metricName })))
  }

  #values(sample: (labels: Labels, value: number, metricName: string | undefined) => Sample): FamilyValues {
    const values: Sample[] = []
    const name = this.name
    this.#emit((labels, value, suffix) => values.push(sample(labels, value, suffix && name + suffix)), this.#read())
    return { name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }

  /** The values are the breakers' own totals: prom-client's `resetMetrics()` leaves them. */
  reset(): void {}
}

/**
 * Adds a registry's breakers to a prom-client 15 registry, as resilience4j's Micrometer binding
 * names them, under `breakwater_` (`prefix`). Nothing is counted per call: every scrape reads
 * the native snapshot (`registry.health()`) once, for every family, so a removed breaker is gone
 * from the next scrape. Counters are the breakers' own lifetime totals, exposed with
 * `# TYPE ... counter`.
 *
 * Breakers: `circuitbreaker_state{name,state}` (1 for the breaker's state, 0 for the four
 * others), `circuitbreaker_calls_total{name,kind}` (`successful`, `failed` without timeouts,
 * `ignored`, `timeout`), `circuitbreaker_not_permitted_calls_total`, `circuitbreaker_in_flight_calls`,
 * `circuitbreaker_failure_rate` and `circuitbreaker_slow_call_rate` (of the window, in percent),
 * `circuitbreaker_buffered_calls{name,kind}` (the window), `circuitbreaker_slow_calls_total`,
 * `circuitbreaker_state_seconds`, `circuitbreaker_transitions_total{name,from,to}`, and for
 * breakers that track latency the summary `circuitbreaker_call_duration_seconds{name,quantile}`
 * (0.5, 0.95, 0.99, with `_sum` and `_count`) and `circuitbreaker_call_duration_seconds_max`.
 * Bulkheads: `bulkhead_available_concurrent_calls`, `bulkhead_max_allowed_concurrent_calls`,
 * `bulkhead_queued_calls`, `bulkhead_max_queue_size`, `bulkhead_admitted_calls_total`,
 * `bulkhead_rejected_calls_total`. Retry policies (this thread's counts): `retry_calls_total`,
 * `retry_retries_total`, `retry_given_up_total`, `retry_budget_exhausted_total`. Bulkhead and
 * retry families are added only when `bulkheads` / `retries` are given.
 *
 * prom-client is not loaded by this module: the series join the `register` you pass, whichever
 * copy of prom-client made it.
 *
 * @returns a disposer that takes the series out of `register`.
 * @throws TypeError or RangeError (code `ERR_BREAKWATER_INVALID_OPTION`) for a bad option, or
 * a `register` that already has a metric of one of the names (dispose the earlier one, or give
 * another `prefix`); nothing is registered then.
 * @example
 * import { register } from 'prom-client'
 * import { registry } from 'breakwater'
 * import { prometheusMetrics } from 'breakwater/prometheus'
 * const stop = prometheusMetrics(registry, { register })
 */
export function prometheusMetrics(registry: HealthSource, options: PrometheusOptions): () => void {
  checkMethods('registry', registry, ['health'])
  const { own, prefix } = readPrometheusOptions<PrometheusOptions>('prometheusMetrics', options, ['register', 'prefix', 'bulkheads', 'retries'])
  const register = own.register
  const sources: Sources = { registry, bulkheads: readBulkheads(own.bulkheads), retries: readRetries(own.retries) }

  const specs = [...BREAKER_FAMILIES, ...(own.bulkheads ? BULKHEAD_FAMILIES : []), ...(own.retries ? RETRY_FAMILIES : [])]
  const read = sharedSnapshot(sources)
  const families = specs.map((spec) => new Family(spec, prefix, read))
  return registerAll(register!, 'prometheusMetrics', families, (family) => family.key)
}

/**
 * One snapshot per scrape: prom-client asks every family for its values in one synchronous run,
 * so the first asks the registry and the others reuse its answer until the microtask queue runs.
 */
function sharedSnapshot(sources: Sources): () => Scrape {
  const labels = new LabelSets()
  let cached: Scrape | undefined
  return () => {
    if (cached) return cached
    const snapshot = snapshotOf(sources)
    labels.keepOnly(snapshot)
    cached = { snapshot, labels }
    queueMicrotask(() => {
      cached = undefined
    })
    return cached
  }
}

// ---- fleet (issue 12) ----

/** Options of `prometheusFleetMetrics`. */
export interface PrometheusFleetOptions {
  /** The prom-client registry the series join. */
  register: Registry<RegistryContentType>
  /** Put before every metric name. @default 'breakwater_' */
  prefix?: string
}

export type { FleetSource, FleetStatusView } from './metrics-fleet.js'

/**
 * Adds a fleet's series (what `fleet()` of breakwater/fleet returns) to a prom-client 15
 * registry, read from its `status()` once per scrape: `fleet_redis_up`, `fleet_instances_alive`,
 * `fleet_votes{name}`, `fleet_generation{name}`, `fleet_open{name}`,
 * `fleet_probe_lease_held{name}`, `fleet_dropped_messages_total{reason}`,
 * `fleet_applied_messages_total`, `fleet_errors_total`, each labelled with the fleet's
 * `namespace` and `instance`. Neither prom-client nor ioredis is loaded by this module.
 *
 * @returns a disposer that takes the series out of `register`.
 * @throws TypeError or RangeError (code `ERR_BREAKWATER_INVALID_OPTION`) for a bad option or a
 * name already in `register`; nothing is registered then.
 * @example
 * import { register } from 'prom-client'
 * import { prometheusFleetMetrics } from 'breakwater/prometheus'
 * const stop = prometheusFleetMetrics(shared, { register }) // shared = fleet(registry, {...})
 */
export function prometheusFleetMetrics(fleet: FleetSource, options: PrometheusFleetOptions): () => void {
  const source = readFleet(fleet)
  const { own, prefix } = readPrometheusOptions<PrometheusFleetOptions>('prometheusFleetMetrics', options, ['register', 'prefix'])
  const register = own.register
  // The fleet families read the fleet, not the breakers' snapshot: theirs is an empty one.
  const none: Scrape = { snapshot: { breakers: [], bulkheads: [], retries: [] }, labels: new LabelSets() }
  const families = fleetFamilies(source).map((spec) => new Family(spec, prefix, () => none))
  return registerAll(register!, 'prometheusFleetMetrics', families, (family) => family.key)
}
