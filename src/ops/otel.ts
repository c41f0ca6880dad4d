/**
 * breakwater/otel: a registry's breakers (and bulkheads, retry policies) as OpenTelemetry
 * observable instruments, read from the native snapshot once per collection.
 */
import type { Attributes, BatchObservableResult, Meter, Observable } from '@opentelemetry/api'
import { ownOptions, typeError } from '../validate.js'
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
import { type FleetSource, fleetInstruments, readFleet } from './metrics-fleet.js'

export type { BulkheadSource, HealthSource, RetrySource } from './metrics-sources.js'

// Chaos policies: their own series (what each injected, whether it is on, why it stopped).
export { type ChaosSource, type ChaosSources, type OpenTelemetryChaosOptions, openTelemetryChaos } from './metrics-chaos.js'

/** Options of `openTelemetryMetrics`. */
export interface OpenTelemetryOptions {
  /** The meter the instruments are made with, e.g. `metrics.getMeter('breakwater')`. */
  meter: Meter
  /** Bulkheads to export (what `bulkhead()` returns), by their names. @default none */
  bulkheads?: readonly BulkheadSource[]
  /** Retry policies to export (what `retry()` returns), by the name given here. @default none */
  retries?: Readonly<Record<string, RetrySource>>
}

type Observe = (result: BatchObservableResult, instrument: Observable, snapshot: Snapshot) => void

/** One instrument: its name under `resilience.breakwater.`, kind, unit, description, and values. */
interface InstrumentSpec {
  name: string
  kind: 'gauge' | 'counter'
  unit: string
  description: string
  observe: Observe
}

/** Polly's event names for a move to each state (`OnCircuitDisabled` is ours: Polly has no such state). */
const EVENT_OF_STATE = {
  closed: 'OnCircuitClosed',
  open: 'OnCircuitOpened',
  half_open: 'OnCircuitHalfOpened',
  forced_open: 'OnCircuitOpened',
  disabled: 'OnCircuitDisabled',
} as const satisfies Record<(typeof STATE_NAMES)[number], string>

const QUANTILES = [
  [0.5, 'p50'],
  [0.95, 'p95'],
  [0.99, 'p99'],
  [1, 'max'],
] as const

type BreakerMetrics = Snapshot['breakers'][number][1]
type BulkheadStats = Snapshot['bulkheads'][number][1]
type RetryStats = Snapshot['retries'][number][1]

function breakerValue(name: string, kind: InstrumentSpec['kind'], unit: string, description: string, value: (m: BreakerMetrics) => number): InstrumentSpec {
  return {
    name,
    kind,
    unit,
    description,
    observe: (result, instrument, s) => {
      for (const [breaker, m] of s.breakers) result.observe(instrument, value(m), { 'breaker.name': breaker })
    },
  }
}

function bulkheadValue(name: string, kind: InstrumentSpec['kind'], description: string, value: (b: BulkheadStats) => number): InstrumentSpec {
  return {
    name,
    kind,
    unit: '{call}',
    description,
    observe: (result, instrument, s) => {
      for (const [bulkhead, b] of s.bulkheads) result.observe(instrument, value(b), { 'bulkhead.name': bulkhead })
    },
  }
}

function retryValue(name: string, description: string, value: (r: RetryStats) => number): InstrumentSpec {
  return {
    name,
    kind: 'counter',
    unit: '{call}',
    description,
    observe: (result, instrument, s) => {
      for (const [retry, r] of s.retries) result.observe(instrument, value(r), { 'retry.name': retry })
    },
  }
}

const BREAKER_INSTRUMENTS: InstrumentSpec[] = [
  {
    name: 'breaker.state',
    kind: 'gauge',
    unit: '1',
    description: 'The state of the circuit breaker: 1 for the state it is in, 0 for the others.',
    observe: (result, instrument, s) => {
      for (const [breaker, m] of s.breakers) {
        for (const state of STATE_NAMES) result.observe(instrument, m.state === state ? 1 : 0, { 'breaker.name': breaker, state })
      }
    },
  },
  {
    name: 'breaker.calls',
    kind: 'counter',
    unit: '{call}',
    description: 'Calls ended, by outcome: successful, failed (timeouts not included), ignored, timeout.',
    observe: (result, instrument, s) => {
      for (const [breaker, m] of s.breakers) {
        const at = (outcome: string): Attributes => ({ 'breaker.name': breaker, outcome })
        result.observe(instrument, m.successes, at('successful'))
        result.observe(instrument, Math.max(0, m.failures - m.timeouts), at('failed'))
        result.observe(instrument, m.ignored, at('ignored'))
        result.observe(instrument, m.timeouts, at('timeout'))
      }
    },
  },
  breakerValue('breaker.not_permitted_calls', 'counter', '{call}', 'Calls refused by the circuit breaker.', (m) => m.rejections),
  breakerValue('breaker.in_flight_calls', 'gauge', '{call}', 'Calls let through and not ended yet, in every thread.', (m) => m.inFlight),
  breakerValue('breaker.failure_rate', 'gauge', '%', 'Failure rate of the window.', (m) => m.window.failureRate),
  breakerValue('breaker.slow_call_rate', 'gauge', '%', 'Slow call rate of the window.', (m) => m.window.slowCallRate),
  breakerValue('breaker.slow_calls', 'counter', '{call}', 'Calls that took at least slowCallDuration.', (m) => m.slowCalls),
  breakerValue('breaker.time_in_state', 'gauge', 's', 'Seconds since the circuit breaker entered its state.', (m) => m.timeInStateMs / 1000),
  {
    name: 'breaker.transitions',
    kind: 'counter',
    unit: '{transition}',
    description: "Changes of state, by the state left and the state entered; event.name in Polly's words.",
    observe: (result, instrument, s) => {
      for (const [breaker, m] of s.breakers) {
        for (const { from, to, count } of m.transitions) {
          result.observe(instrument, count, { 'breaker.name': breaker, 'event.name': EVENT_OF_STATE[to], from, to })
        }
      }
    },
  },
  {
    name: 'breaker.call_duration',
    kind: 'gauge',
    unit: 'ms',
    description: 'Duration of the calls since the circuit breaker was created, by quantile (1 is the longest), within 1 %; breakers that track latency only.',
    observe: (result, instrument, s) => {
      for (const [breaker, m] of s.breakers) {
        const l = m.latency
        if (!l) continue
        for (const [quantile, key] of QUANTILES) result.observe(instrument, l[key], { 'breaker.name': breaker, quantile })
      }
    },
  },
]

const BULKHEAD_INSTRUMENTS: InstrumentSpec[] = [
  bulkheadValue('bulkhead.available', 'gauge', 'Permits free now.', (b) => Math.max(0, b.maxConcurrent - b.inUse)),
  bulkheadValue('bulkhead.max_concurrent', 'gauge', 'Permits in all.', (b) => b.maxConcurrent),
  bulkheadValue('bulkhead.queued', 'gauge', 'Callers waiting for a permit now, in every thread.', (b) => b.queued),
  bulkheadValue('bulkhead.max_queue', 'gauge', 'The longest the queue may be.', (b) => b.maxQueue),
  bulkheadValue('bulkhead.admitted', 'counter', 'Permits handed out.', (b) => b.admitted),
  bulkheadValue('bulkhead.rejected', 'counter', 'Callers refused with every permit taken and the queue full.', (b) => b.rejected),
]

const RETRY_INSTRUMENTS: InstrumentSpec[] = [
  retryValue('retry.calls', 'Calls made through the retry policy (this thread).', (r) => r.calls),
  retryValue('retry.retries', 'Retries made (this thread).', (r) => r.retries),
  retryValue('retry.given_up', 'Calls that failed in the end, whatever the reason (this thread).', (r) => r.givenUp),
  retryValue('retry.budget_exhausted', 'Retries refused by the retry budget (this thread).', (r) => r.budgetExhausted),
]

/** The prefix of every instrument name. */
export const INSTRUMENT_PREFIX = 'resilience.breakwater.'

/**
 * Observable instruments for a registry's breakers on an OpenTelemetry meter, named
 * `resilience.breakwater.*` with attributes in Polly's words (`breaker.name`, `state`,
 * `event.name`). Nothing is counted per call: one batch callback reads the native snapshot
 * (`registry.health()`) once per collection and observes every instrument from it. Counters
 * are the breakers' own lifetime totals (cumulative).
 *
 * Breakers (attribute `breaker.name`): `breaker.state` (with `state`: 1 for the breaker's state,
 * 0 for the others), `breaker.calls` (with `outcome`: `successful`, `failed` without timeouts,
 * `ignored`, `timeout`), `breaker.not_permitted_calls`, `breaker.in_flight_calls`,
 * `breaker.failure_rate` and `breaker.slow_call_rate` (%, of the window), `breaker.slow_calls`,
 * `breaker.time_in_state` (s), `breaker.transitions` (with `from`, `to` and `event.name`:
 * `OnCircuitOpened`, `OnCircuitClosed`, `OnCircuitHalfOpened`, `OnCircuitDisabled`), and for
 * breakers that track latency `breaker.call_duration` (ms, with `quantile` 0.5, 0.95, 0.99 and 1
 * for the longest). Bulkheads (attribute `bulkhead.name`): `bulkhead.available`,
 * `bulkhead.max_concurrent`, `bulkhead.queued`, `bulkhead.max_queue`, `bulkhead.admitted`,
 * `bulkhead.rejected`. Retry policies (attribute `retry.name`, this thread's counts):
 * `retry.calls`, `retry.retries`, `retry.given_up`, `retry.budget_exhausted`.
 *
 * @returns a disposer that removes the callback: later collections read nothing.
 * @throws TypeError or RangeError (code `ERR_BREAKWATER_INVALID_OPTION`) for a bad option;
 * nothing is created then.
 * @example
 * import { metrics } from '@opentelemetry/api'
 * import { registry } from 'breakwater'
 * import { openTelemetryMetrics } from 'breakwater/otel'
 * const stop = openTelemetryMetrics(registry, { meter: metrics.getMeter('breakwater') })
 */
export function openTelemetryMetrics(registry: HealthSource, options: OpenTelemetryOptions): () => void {
  checkMethods('registry', registry, ['health'])
  if (options === undefined) throw typeError('openTelemetryMetrics options must be an object like { meter }, but was undefined')
  const own = ownOptions<OpenTelemetryOptions>('openTelemetryMetrics', options, ['meter', 'bulkheads', 'retries'])
  const meter = own.meter
  checkMethods('meter', meter, ['createObservableGauge', 'createObservableCounter', 'addBatchObservableCallback', 'removeBatchObservableCallback'])
  const sources: Sources = { registry, bulkheads: readBulkheads(own.bulkheads), retries: readRetries(own.retries) }

  const specs = [...BREAKER_INSTRUMENTS, ...(own.bulkheads ? BULKHEAD_INSTRUMENTS : []), ...(own.retries ? RETRY_INSTRUMENTS : [])]
  const instruments = specs.map((spec) => {
    const make = spec.kind === 'gauge' ? meter!.createObservableGauge : meter!.createObservableCounter
    return make.call(meter, INSTRUMENT_PREFIX + spec.name, { unit: spec.unit, description: spec.description }) as Observable
  })
  const callback = (result: BatchObservableResult): void => {
    const snapshot = snapshotOf(sources)
    for (const [i, spec] of specs.entries()) spec.observe(result, instruments[i]!, snapshot)
  }
  meter!.addBatchObservableCallback(callback, instruments)
  return () => meter!.removeBatchObservableCallback(callback, instruments)
}

// ---- fleet (issue 12) ----

export type { FleetSource, FleetStatusView } from './metrics-fleet.js'

/**
 * Observable instruments of a fleet (what `fleet()` of breakwater/fleet returns) on an
 * OpenTelemetry meter, read from its `status()` once per collection, under
 * `resilience.breakwater.fleet.` with attributes `fleet.namespace`, `fleet.instance` (and
 * `breaker.name`, `reason`): gauges `redis_up`, `instances_alive`, `votes`, `generation`, `open`,
 * `probe_lease_held`; counters `dropped_messages`, `applied_messages`, `errors`.
 *
 * @returns a disposer that removes the callback.
 * @throws TypeError (code `ERR_BREAKWATER_INVALID_OPTION`) for a bad option; nothing is created then.
 * @example
 * import { metrics } from '@opentelemetry/api'
 * import { openTelemetryFleetMetrics } from 'breakwater/otel'
 * const stop = openTelemetryFleetMetrics(shared, { meter: metrics.getMeter('breakwater') })
 */
export function openTelemetryFleetMetrics(fleet: FleetSource, options: { meter: Meter }): () => void {
  const source = readFleet(fleet)
  if (options === undefined) throw typeError('openTelemetryFleetMetrics options must be an object like { meter }, but was undefined')
  const own = ownOptions<{ meter: Meter }>('openTelemetryFleetMetrics', options, ['meter'])
  checkMethods('meter', own.meter, ['createObservableGauge', 'createObservableCounter', 'addBatchObservableCallback', 'removeBatchObservableCallback'])
  return fleetInstruments(own.meter!, source, INSTRUMENT_PREFIX)
}
