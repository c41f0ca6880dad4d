/**
 * breakwater/prometheus: a registry's breakers (and bulkheads, retry policies) as Prometheus
 * series in a prom-client 15 registry, read from the native snapshot at scrape time.
 */
import type { Metric, Registry, RegistryContentType } from 'prom-client'
import { describe, ownOptions, rangeError, typeError } from '../validate.js'
import {
  type BulkheadSource,
  checkMethods,
  type HealthSource,
  readBulkheads,
  readRetries,
  type RetrySource,
  type Snapshot,
  snapshotOf,
  type Sources,
  STATE_NAMES,
} from './metrics-sources.js'

export type { BulkheadSource, HealthSource, RetrySource } from './metrics-sources.js'

/** Options of `prometheusMetrics`. */
export interface PrometheusOptions {
  /** The prom-client registry the series join: prom-client's `register`, or one of yours. */
  register: Registry<RegistryContentType>
  /**
   * Put before every metric name. `'resilience4j_'` gives the exact names of resilience4j's
   * Micrometer binding, for boards made for it. @default 'breakwater_'
   */
  prefix?: string
  /** Bulkheads to export (what `bulkhead()` returns), by their names. @default none */
  bulkheads?: readonly BulkheadSource[]
  /** Retry policies to export (what `retry()` returns), by the name given here. @default none */
  retries?: Readonly<Record<string, RetrySource>>
}

type Labels = Readonly<Record<string, string>>
/** Writes one sample: its whole label set (a cached object), its value, a suffix for a summary's `_sum` / `_count`. */
type Put = (labels: Labels, value: number, suffix?: '_sum' | '_count') => void
type Emit = (put: Put, scrape: Scrape) => void

/** One metric family: what prom-client's registry asks of a metric. */
interface FamilySpec {
  name: string
  type: 'counter' | 'gauge' | 'summary'
  help: string
  /** How prom-client's cluster registry merges workers' values. */
  aggregator: 'sum' | 'average' | 'max'
  emit: Emit
}

/**
 * The label sets of one name's series, one object per series, kept from scrape to scrape:
 * prom-client formats a sample's `sharedLabels` once per object (a WeakMap), so a series costs a
 * lookup after its first scrape instead of escaping and joining its labels again.
 */
class SeriesLabels {
  /** `{ name }` */
  readonly base: Labels
  readonly #more = new Map<string, Labels>()

  constructor(name: string) {
    this.base = { name }
  }

  /** `{ name, [k1]: v1, [k2]: v2 }`, the same object for the same `key` (which names the pairs). */
  with(key: string, k1: string, v1: string, k2?: string, v2?: string): Labels {
    let labels = this.#more.get(key)
    if (!labels) {
      const made: Record<string, string> = { name: this.base.name! }
      made[k1] = v1
      if (k2 !== undefined) made[k2] = v2!
      this.#more.set(key, (labels = made))
    }
    return labels
  }
}

/** Every name's series labels, by source; those of names gone from the snapshot are dropped. */
class LabelSets {
  #sets: Record<'breakers' | 'bulkheads' | 'retries', Map<string, SeriesLabels>> = { breakers: new Map(), bulkheads: new Map(), retries: new Map() }

  of(source: 'breakers' | 'bulkheads' | 'retries', name: string): SeriesLabels {
    const sets = this.#sets[source]
    let labels = sets.get(name)
    if (!labels) sets.set(name, (labels = new SeriesLabels(name)))
    return labels
  }

  /** Forgets the label sets of names not in `snapshot`. */
  keepOnly(snapshot: Snapshot): void {
    for (const source of ['breakers', 'bulkheads', 'retries'] as const) {
      const old = this.#sets[source]
      const kept = new Map<string, SeriesLabels>()
      for (const [name] of snapshot[source]) {
        const labels = old.get(name)
        if (labels) kept.set(name, labels)
      }
      this.#sets[source] = kept
    }
  }
}

/** What one scrape reads: the snapshot and the label sets. */
interface Scrape {
  snapshot: Snapshot
  labels: LabelSets
}

const QUANTILES = [
  ['0.5', 'p50'],
  ['0.95', 'p95'],
  ['0.99', 'p99'],
] as const

const BREAKER_FAMILIES: FamilySpec[] = [
  {
    name: 'circuitbreaker_state',
    type: 'gauge',
    help: 'The state of the circuit breaker: 1 for the state it is in, 0 for the others.',
    aggregator: 'sum',
    emit: (put, { snapshot, labels }) => {
      for (const [name, m] of snapshot.breakers) {
        const l = labels.of('breakers', name)
        for (const state of STATE_NAMES) put(l.with(state, 'state', state), m.state === state ? 1 : 0)
      }
    },
  },
  {
    name: 'circuitbreaker_calls_total',
    type: 'counter',
    help: 'Calls ended, by kind: successful, failed (timeouts not included), ignored, timeout. The kinds add up to every ended call.',
    aggregator: 'sum',
    emit: (put, { snapshot, labels }) => {
      for (const [name, m] of snapshot.breakers) {
        const l = labels.of('breakers', name)
        put(l.with('successful', 'kind', 'successful'), m.successes)
        put(l.with('failed', 'kind', 'failed'), Math.max(0, m.failures - m.timeouts))
        put(l.with('ignored', 'kind', 'ignored'), m.ignored)
        put(l.with('timeout', 'kind', 'timeout'), m.timeouts)
      }
    },
  },
  breakerValue('circuitbreaker_not_permitted_calls_total', 'counter', 'Calls refused by the circuit breaker (open, forced open, or half-open with every probe taken).', (m) => m.rejections),
  breakerValue('circuitbreaker_in_flight_calls', 'gauge', 'Calls let through and not ended yet, in every thread.', (m) => m.inFlight),
  breakerValue('circuitbreaker_failure_rate', 'gauge', 'Failure rate of the window, in percent.', (m) => m.window.failureRate, 'average'),
  breakerValue('circuitbreaker_slow_call_rate', 'gauge', 'Slow call rate of the window, in percent.', (m) => m.window.slowCallRate, 'average'),
  {
    name: 'circuitbreaker_buffered_calls',
    type: 'gauge',
    help: 'Calls in the window, by kind: successful, failed.',
    aggregator: 'sum',
    emit: (put, { snapshot, labels }) => {
      for (const [name, m] of snapshot.breakers) {
        const l = labels.of('breakers', name)
        put(l.with('successful', 'kind', 'successful'), Math.max(0, m.window.calls - m.window.failures))
        put(l.with('failed', 'kind', 'failed'), m.window.failures)
      }
    },
  },
  breakerValue('circuitbreaker_slow_calls_total', 'counter', 'Calls that took at least slowCallDuration.', (m) => m.slowCalls),
  breakerValue('circuitbreaker_state_seconds', 'gauge', 'Seconds since the circuit breaker entered its state.', (m) => m.timeInStateMs / 1000, 'max'),
  {
    name: 'circuitbreaker_transitions_total',
    type: 'counter',
    help: 'Changes of state, by the state left and the state entered.',
    aggregator: 'sum',
    emit: (put, { snapshot, labels }) => {
      for (const [name, m] of snapshot.breakers) {
        const l = labels.of('breakers', name)
        for (const t of m.transitions) put(l.with(`${t.from}>${t.to}`, 'from', t.from, 'to', t.to), t.count)
      }
    },
  },
  {
    name: 'circuitbreaker_call_duration_seconds',
    type: 'summary',
    help: 'Duration of the calls since the circuit breaker was created (breakers that track latency only), quantiles within 1 %.',
    aggregator: 'average',
    emit: (put, { snapshot, labels }) => {
      for (const [name, m] of snapshot.breakers) {
        const l = m.latency
        if (!l) continue
        const series = labels.of('breakers', name)
        for (const [quantile, key] of QUANTILES) put(series.with(quantile, 'quantile', quantile), l[key] / 1000)
        put(series.base, (l.mean * l.count) / 1000, '_sum')
        put(series.base, l.count, '_count')
      }
    },
  },
  {
    name: 'circuitbreaker_call_duration_seconds_max',
    type: 'gauge',
    help: 'The longest call since the circuit breaker was created (breakers that track latency only).',
    aggregator: 'max',
    emit: (put, { snapshot, labels }) => {
      for (const [name, m] of snapshot.breakers) if (m.latency) put(labels.of('breakers', name).base, m.latency.max / 1000)
    },
  },
]

const BULKHEAD_FAMILIES: FamilySpec[] = [
  bulkheadValue('bulkhead_available_concurrent_calls', 'gauge', 'Permits free now.', (b) => Math.max(0, b.maxConcurrent - b.inUse)),
  bulkheadValue('bulkhead_max_allowed_concurrent_calls', 'gauge', 'Permits in all.', (b) => b.maxConcurrent),
  bulkheadValue('bulkhead_queued_calls', 'gauge', 'Callers waiting for a permit now, in every thread.', (b) => b.queued),
  bulkheadValue('bulkhead_max_queue_size', 'gauge', 'The longest the queue may be.', (b) => b.maxQueue),
  bulkheadValue('bulkhead_admitted_calls_total', 'counter', 'Permits handed out.', (b) => b.admitted),
  bulkheadValue('bulkhead_rejected_calls_total', 'counter', 'Callers refused with every permit taken and the queue full.', (b) => b.rejected),
]

const RETRY_FAMILIES: FamilySpec[] = [
  retryValue('retry_calls_total', 'Calls made through the retry policy (this thread).', (r) => r.calls),
  retryValue('retry_retries_total', 'Retries made (this thread).', (r) => r.retries),
  retryValue('retry_given_up_total', 'Calls that failed in the end, whatever the reason (this thread).', (r) => r.givenUp),
  retryValue('retry_budget_exhausted_total', 'Retries refused by the retry budget (this thread).', (r) => r.budgetExhausted),
]

type BreakerMetrics = Snapshot['breakers'][number][1]
type BulkheadStats = Snapshot['bulkheads'][number][1]
type RetryStats = Snapshot['retries'][number][1]

function breakerValue(name: string, type: 'counter' | 'gauge', help: string, value: (m: BreakerMetrics) => number, aggregator: FamilySpec['aggregator'] = 'sum'): FamilySpec {
  return {
    name,
    type,
    help,
    aggregator,
    emit: (put, { snapshot, labels }) => {
      for (const [n, m] of snapshot.breakers) put(labels.of('breakers', n).base, value(m))
    },
  }
}

function bulkheadValue(name: string, type: 'counter' | 'gauge', help: string, value: (b: BulkheadStats) => number): FamilySpec {
  return {
    name,
    type,
    help,
    aggregator: 'sum',
    emit: (put, { snapshot, labels }) => {
      for (const [n, b] of snapshot.bulkheads) put(labels.of('bulkheads', n).base, value(b))
    },
  }
}

function retryValue(name: string, help: string, value: (r: RetryStats) => number): FamilySpec {
  return {
    name,
    type: 'counter',
    help,
    aggregator: 'sum',
    emit: (put, { snapshot, labels }) => {
      for (const [n, r] of snapshot.retries) put(labels.of('retries', n).base, value(r))
    },
  }
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

const PREFIX = /^(?:[a-zA-Z_:][a-zA-Z0-9_:]*)?$/

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
  if (options === undefined) throw typeError('prometheusMetrics options must be an object like { register }, but was undefined')
  const own = ownOptions<PrometheusOptions>('prometheusMetrics', options, ['register', 'prefix', 'bulkheads', 'retries'])
  const register = own.register
  checkMethods('register', register, ['registerMetric', 'getSingleMetric', 'removeSingleMetric'])
  const prefix = own.prefix ?? 'breakwater_'
  if (typeof prefix !== 'string') throw typeError(`prefix must be a string, but was ${describe(prefix)}`)
  if (!PREFIX.test(prefix)) throw rangeError(`prefix must be empty or a metric name start ([a-zA-Z_:][a-zA-Z0-9_:]*), but was ${describe(prefix)}`)
  const sources: Sources = { registry, bulkheads: readBulkheads(own.bulkheads), retries: readRetries(own.retries) }

  const specs = [...BREAKER_FAMILIES, ...(own.bulkheads ? BULKHEAD_FAMILIES : []), ...(own.retries ? RETRY_FAMILIES : [])]
  const read = sharedSnapshot(sources)
  const families = specs.map((spec) => new Family(spec, prefix, read))
  for (const family of families) {
    if (register!.getSingleMetric(family.key) !== undefined) {
      throw rangeError(`register already has a metric called ${family.key}: dispose the earlier prometheusMetrics, or give another prefix`)
    }
  }
  for (const family of families) register!.registerMetric(family as unknown as Metric)
  return () => {
    for (const family of families) {
      if ((register!.getSingleMetric(family.key) as unknown) === family) register!.removeSingleMetric(family.key)
    }
  }
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
