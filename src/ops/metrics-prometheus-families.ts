/**
 * The Prometheus families of breakwater/prometheus: names, types, help texts, and how each one's
 * samples are made from a snapshot. Pure: imports nothing with state.
 */
import { type Snapshot, STATE_NAMES } from './metrics-sources.js'

export type Labels = Readonly<Record<string, string>>
/** Writes one sample: its whole label set (a cached object), its value, a suffix for a summary's `_sum` / `_count`. */
type Put = (labels: Labels, value: number, suffix?: '_sum' | '_count') => void
export type Emit = (put: Put, scrape: Scrape) => void

/** One metric family: what prom-client's registry asks of a metric. */
export interface FamilySpec {
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
export class LabelSets {
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
export interface Scrape {
  snapshot: Snapshot
  labels: LabelSets
}

const QUANTILES = [
  ['0.5', 'p50'],
  ['0.95', 'p95'],
  ['0.99', 'p99'],
] as const

export const BREAKER_FAMILIES: FamilySpec[] = [
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
  breakerValue(
    'circuitbreaker_not_permitted_calls_total',
    'counter',
    'Calls refused by the circuit breaker (open, forced open, or half-open with every probe taken).',
    (m) => m.rejections,
  ),
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

export const BULKHEAD_FAMILIES: FamilySpec[] = [
  bulkheadValue('bulkhead_available_concurrent_calls', 'gauge', 'Permits free now.', (b) => Math.max(0, b.maxConcurrent - b.inUse)),
  bulkheadValue('bulkhead_max_allowed_concurrent_calls', 'gauge', 'Permits in all.', (b) => b.maxConcurrent),
  bulkheadValue('bulkhead_queued_calls', 'gauge', 'Callers waiting for a permit now, in every thread.', (b) => b.queued),
  bulkheadValue('bulkhead_max_queue_size', 'gauge', 'The longest the queue may be.', (b) => b.maxQueue),
  bulkheadValue('bulkhead_admitted_calls_total', 'counter', 'Permits handed out.', (b) => b.admitted),
  bulkheadValue('bulkhead_rejected_calls_total', 'counter', 'Callers refused with every permit taken and the queue full.', (b) => b.rejected),
]

export const RETRY_FAMILIES: FamilySpec[] = [
  retryValue('retry_calls_total', 'Calls made through the retry policy (this thread).', (r) => r.calls),
  retryValue('retry_retries_total', 'Retries made (this thread).', (r) => r.retries),
  retryValue('retry_given_up_total', 'Calls that failed in the end, whatever the reason (this thread).', (r) => r.givenUp),
  retryValue('retry_budget_exhausted_total', 'Retries refused by the retry budget (this thread).', (r) => r.budgetExhausted),
]

type BreakerMetrics = Snapshot['breakers'][number][1]
type BulkheadStats = Snapshot['bulkheads'][number][1]
type RetryStats = Snapshot['retries'][number][1]

function breakerValue(
  name: string,
  type: 'counter' | 'gauge',
  help: string,
  value: (m: BreakerMetrics) => number,
  aggregator: FamilySpec['aggregator'] = 'sum',
): FamilySpec {
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
