import test from 'ava'
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  MetricReader,
  PeriodicExportingMetricReader,
  type MetricData,
  type SumMetricData,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics'
import { bulkhead, retry, type Metrics } from '../src/index.ts'
import { openTelemetryMetrics } from '../src/ops/otel.ts'
import { fail, failTimes, rig } from './helpers.ts'
import { deferred, turn, withFakeTimers } from './timers.ts'

/** A reader that collects when asked: no timer, no export. */
class CollectingReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

const delta = () => new CollectingReader({ aggregationTemporalitySelector: () => AggregationTemporality.DELTA })

/** A meter of a real MeterProvider read by `reader`. */
function meterFor(reader: MetricReader) {
  const provider = new MeterProvider({ readers: [reader] })
  return provider.getMeter('breakwater-spec')
}

async function collect(reader: MetricReader): Promise<Map<string, MetricData>> {
  const { resourceMetrics, errors } = await reader.collect()
  if (errors.length > 0) throw errors[0]
  return byName(resourceMetrics)
}

function byName(resourceMetrics: ResourceMetrics): Map<string, MetricData> {
  return new Map(resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).map((m) => [m.descriptor.name, m]))
}

/** The value of `instrument`'s point with exactly `attributes`, or undefined. */
function valueOf(metrics: Map<string, MetricData>, instrument: string, attributes: Record<string, unknown>): number | undefined {
  const m = metrics.get(`resilience.breakwater.${instrument}`)
  const point = m?.dataPoints.find((p) => {
    const keys = Object.keys(p.attributes)
    return keys.length === Object.keys(attributes).length && keys.every((k) => p.attributes[k] === attributes[k])
  })
  return point?.value as number | undefined
}

const BREAKER_INSTRUMENTS = {
  'resilience.breakwater.breaker.state': ['gauge', '1'],
  'resilience.breakwater.breaker.calls': ['counter', '{call}'],
  'resilience.breakwater.breaker.not_permitted_calls': ['counter', '{call}'],
  'resilience.breakwater.breaker.in_flight_calls': ['gauge', '{call}'],
  'resilience.breakwater.breaker.failure_rate': ['gauge', '%'],
  'resilience.breakwater.breaker.slow_call_rate': ['gauge', '%'],
  'resilience.breakwater.breaker.slow_calls': ['counter', '{call}'],
  'resilience.breakwater.breaker.time_in_state': ['gauge', 's'],
  'resilience.breakwater.breaker.transitions': ['counter', '{transition}'],
  'resilience.breakwater.breaker.call_duration': ['gauge', 'ms'],
}
const BULKHEAD_INSTRUMENTS = {
  'resilience.breakwater.bulkhead.available': ['gauge', '{call}'],
  'resilience.breakwater.bulkhead.max_concurrent': ['gauge', '{call}'],
  'resilience.breakwater.bulkhead.queued': ['gauge', '{call}'],
  'resilience.breakwater.bulkhead.max_queue': ['gauge', '{call}'],
  'resilience.breakwater.bulkhead.admitted': ['counter', '{call}'],
  'resilience.breakwater.bulkhead.rejected': ['counter', '{call}'],
}
const RETRY_INSTRUMENTS = {
  'resilience.breakwater.retry.calls': ['counter', '{call}'],
  'resilience.breakwater.retry.retries': ['counter', '{call}'],
  'resilience.breakwater.retry.given_up': ['counter', '{call}'],
  'resilience.breakwater.retry.budget_exhausted': ['counter', '{call}'],
}

/** A monotonic sum is what an observable counter exports; a gauge a gauge. */
function kindOf(m: MetricData): string {
  if (m.dataPointType === DataPointType.SUM && (m as SumMetricData).isMonotonic) return 'counter'
  return m.dataPointType === DataPointType.GAUGE ? 'gauge' : `other (${m.dataPointType})`
}

let next = 0
const fresh = (what: string) => `${what}-${process.pid}-${next++}`

test('instruments are named resilience.breakwater.*, each with its kind, unit and description', async (t) => {
  const { breakers, name } = rig()
  const b = breakers.getOrCreate(name, { trackLatency: true, consecutiveFailures: 1 })
  await failTimes(b, 1)
  const reader = new CollectingReader()
  openTelemetryMetrics(breakers, { meter: meterFor(reader), bulkheads: [bulkhead(fresh('bh'), { maxConcurrent: 1 })], retries: { r: retry({}) } })
  const metrics = await collect(reader)
  t.deepEqual(Object.fromEntries([...metrics.values()].map((m) => [m.descriptor.name, [kindOf(m), m.descriptor.unit]])), {
    ...BREAKER_INSTRUMENTS,
    ...BULKHEAD_INSTRUMENTS,
    ...RETRY_INSTRUMENTS,
  })
  for (const m of metrics.values()) t.true(m.descriptor.description.length > 10, m.descriptor.name)
})

test("a tripped breaker is observed with Polly's attributes: breaker.name, state, event.name", async (t) => {
  const { clock, breakers, name } = rig()
  const b = breakers.getOrCreate(name, { consecutiveFailures: 3, openFor: '30s' })
  await b.execute(async () => 'ok')
  await failTimes(b, 3)
  await failTimes(b, 4) // refused
  clock.advance('7s')
  const reader = new CollectingReader()
  openTelemetryMetrics(breakers, { meter: meterFor(reader) })
  const metrics = await collect(reader)
  const m = breakers.health()[name]!
  const at = { 'breaker.name': name }
  t.deepEqual(
    ['closed', 'open', 'half_open', 'forced_open', 'disabled'].map((state) => valueOf(metrics, 'breaker.state', { ...at, state })),
    [0, 1, 0, 0, 0],
  )
  t.deepEqual(
    ['successful', 'failed', 'ignored', 'timeout'].map((outcome) => valueOf(metrics, 'breaker.calls', { ...at, outcome })),
    [m.successes, m.failures - m.timeouts, m.ignored, m.timeouts],
  )
  t.deepEqual([m.successes, m.failures], [1, 3])
  t.is(valueOf(metrics, 'breaker.not_permitted_calls', at), 4)
  t.is(valueOf(metrics, 'breaker.failure_rate', at), 75)
  t.is(valueOf(metrics, 'breaker.slow_call_rate', at), 0)
  t.is(valueOf(metrics, 'breaker.in_flight_calls', at), 0)
  t.is(valueOf(metrics, 'breaker.slow_calls', at), 0)
  t.is(valueOf(metrics, 'breaker.time_in_state', at), 7)
  t.is(valueOf(metrics, 'breaker.transitions', { ...at, 'event.name': 'OnCircuitOpened', from: 'closed', to: 'open' }), 1)
})

test('transitions carry the event.name Polly gives a move to each state', async (t) => {
  const { clock, breakers, name } = rig()
  const b = breakers.getOrCreate(name, { consecutiveFailures: 1, openFor: '10s', halfOpenSuccesses: 1 })
  await failTimes(b, 1)
  clock.advance('10s')
  await b.execute(async () => 'ok')
  b.forceOpen()
  b.disable()
  const reader = new CollectingReader()
  openTelemetryMetrics(breakers, { meter: meterFor(reader) })
  const points = (await collect(reader)).get('resilience.breakwater.breaker.transitions')!.dataPoints
  t.deepEqual(points.map((p) => [p.attributes.from, p.attributes.to, p.attributes['event.name'], p.value]).sort(), [
    ['closed', 'forced_open', 'OnCircuitOpened', 1],
    ['closed', 'open', 'OnCircuitOpened', 1],
    ['forced_open', 'disabled', 'OnCircuitDisabled', 1],
    ['half_open', 'closed', 'OnCircuitClosed', 1],
    ['open', 'half_open', 'OnCircuitHalfOpened', 1],
  ])
})

test.serial('latency is observed in ms by quantile, 1 being the longest call', async (t) => {
  await withFakeTimers(async (timers) => {
    const { breakers, name } = rig()
    const b = breakers.getOrCreate(name, { trackLatency: true })
    breakers.getOrCreate(`${name}-untracked`)
    for (let ms = 10; ms <= 1000; ms += 10) {
      const call = b.execute(() => new Promise((resolve) => setTimeout(resolve, ms)))
      await timers.tickAsync(ms)
      await call
    }
    const reader = new CollectingReader()
    openTelemetryMetrics(breakers, { meter: meterFor(reader) })
    const metrics = await collect(reader)
    const latency = breakers.health()[name]!.latency!
    const q = (quantile: number) => valueOf(metrics, 'breaker.call_duration', { 'breaker.name': name, quantile })
    t.deepEqual([q(0.5), q(0.95), q(0.99), q(1)], [latency.p50, latency.p95, latency.p99, latency.max])
    t.true(Math.abs(q(0.5)! - 500) <= 5, String(q(0.5)))
    t.true(Math.abs(q(1)! - 1000) <= 1, String(q(1)))
    const named = new Set(metrics.get('resilience.breakwater.breaker.call_duration')!.dataPoints.map((p) => p.attributes['breaker.name']))
    t.deepEqual([...named], [name], 'a breaker without latency tracking has no duration points')
  })
})

test('one collection reads the registry once for every instrument, and nothing is read per call', async (t) => {
  const { breakers, name } = rig()
  let reads = 0
  const counting = { health: (): Record<string, Metrics> => (reads++, breakers.health()) }
  const reader = new CollectingReader()
  openTelemetryMetrics(counting, { meter: meterFor(reader) })
  const b = breakers.getOrCreate(name)
  for (let i = 0; i < 100; i++) await b.execute(async () => i)
  t.is(reads, 0)
  const metrics = await collect(reader)
  t.is(reads, 1)
  t.is(valueOf(metrics, 'breaker.calls', { 'breaker.name': name, outcome: 'successful' }), 100)
  await collect(reader)
  t.is(reads, 2)
})

test('bulkhead and retry instruments follow their stats, by bulkhead.name and retry.name', async (t) => {
  const { breakers } = rig()
  const bh = fresh('bulkhead')
  const b = bulkhead(bh, { maxConcurrent: 1, maxQueue: 1 })
  const quotes = retry({ maxAttempts: 2, backoff: { base: 0 }, budget: false })
  const reader = new CollectingReader()
  openTelemetryMetrics(breakers, { meter: meterFor(reader), bulkheads: [b], retries: { quotes } })
  const gate = deferred()
  const holding = b.execute(() => gate.promise)
  const waiting = b.execute(async () => 'queued')
  await t.throwsAsync(
    b.execute(async () => 'refused'),
    { code: 'ERR_BREAKWATER_BULKHEAD_FULL' },
  )
  await t.throwsAsync(quotes.execute(fail))
  await turn()
  const metrics = await collect(reader)
  const v = (instrument: string) => valueOf(metrics, `bulkhead.${instrument}`, { 'bulkhead.name': bh })
  t.deepEqual(['available', 'max_concurrent', 'queued', 'max_queue', 'admitted', 'rejected'].map(v), [0, 1, 1, 1, 1, 1])
  const r = (instrument: string) => valueOf(metrics, `retry.${instrument}`, { 'retry.name': 'quotes' })
  t.deepEqual(['calls', 'retries', 'given_up', 'budget_exhausted'].map(r), [1, 1, 1, 0])
  gate.resolve()
  await Promise.all([holding, waiting])
})

test('with delta temporality a removed breaker is gone from the next collection', async (t) => {
  const { breakers, name } = rig()
  breakers.getOrCreate(`${name}-kept`)
  breakers.getOrCreate(`${name}-removed`)
  const reader = delta()
  openTelemetryMetrics(breakers, { meter: meterFor(reader) })
  const names = (metrics: Map<string, MetricData>) =>
    new Set(metrics.get('resilience.breakwater.breaker.state')!.dataPoints.map((p) => p.attributes['breaker.name']))
  t.deepEqual(names(await collect(reader)), new Set([`${name}-kept`, `${name}-removed`]))
  breakers.remove(`${name}-removed`)
  t.deepEqual(names(await collect(reader)), new Set([`${name}-kept`]))
})

test('with cumulative temporality sdk-metrics keeps a removed breaker at its last values (an SDK limitation the docs name)', async (t) => {
  const { breakers, name } = rig()
  breakers.getOrCreate(`${name}-removed`)
  const reader = new CollectingReader()
  openTelemetryMetrics(breakers, { meter: meterFor(reader) })
  await collect(reader)
  breakers.remove(`${name}-removed`)
  const metrics = await collect(reader)
  t.is(valueOf(metrics, 'breaker.state', { 'breaker.name': `${name}-removed`, state: 'closed' }), 1)
})

test('the disposer removes the callback: the registry is no longer read and nothing more is observed', async (t) => {
  const { breakers, name } = rig()
  breakers.getOrCreate(name)
  let reads = 0
  const counting = { health: (): Record<string, Metrics> => (reads++, breakers.health()) }
  const reader = delta()
  const dispose = openTelemetryMetrics(counting, { meter: meterFor(reader) })
  t.is((await collect(reader)).get('resilience.breakwater.breaker.state')!.dataPoints.length, 5)
  dispose()
  const after = await collect(reader)
  t.is(reads, 1)
  t.deepEqual(
    [...after.values()].flatMap((m) => m.dataPoints as unknown[]),
    [],
  )
})

test('exported through a PeriodicExportingMetricReader into an InMemoryMetricExporter', async (t) => {
  const { breakers, name } = rig()
  const b = breakers.getOrCreate(name)
  await b.execute(async () => 'ok')
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })
  const provider = new MeterProvider({ readers: [reader] })
  openTelemetryMetrics(breakers, { meter: provider.getMeter('breakwater') })
  await reader.forceFlush()
  const exported = exporter.getMetrics()
  t.is(exported.length, 1)
  const metrics = byName(exported[0]!)
  t.is(valueOf(metrics, 'breaker.calls', { 'breaker.name': name, outcome: 'successful' }), 1)
  t.is(metrics.get('resilience.breakwater.breaker.calls')!.aggregationTemporality, AggregationTemporality.CUMULATIVE)
  await provider.shutdown()
})

test('bad options are TypeErrors with our code, naming the field and the value', (t) => {
  const { breakers } = rig()
  const meter = meterFor(new CollectingReader())
  const code = 'ERR_BREAKWATER_INVALID_OPTION'
  const cases: [unknown, unknown, ErrorConstructor, RegExp][] = [
    [breakers, undefined, TypeError, /openTelemetryMetrics options must be an object like \{ meter \}, but was undefined/],
    [breakers, 'meter', TypeError, /openTelemetryMetrics options must be an object, but was "meter"/],
    [
      breakers,
      {},
      TypeError,
      /meter must be an object with createObservableGauge\(\), createObservableCounter\(\), addBatchObservableCallback\(\), removeBatchObservableCallback\(\), but was undefined/,
    ],
    [breakers, { meter, metre: 1 }, TypeError, /metre is not an openTelemetryMetrics option \(known: meter, bulkheads, retries\)/],
    [breakers, { meter, bulkheads: 'all' }, TypeError, /bulkheads must be an array of bulkheads, but was "all"/],
    [breakers, { meter, retries: { q: {} } }, TypeError, /retries\["q"\] must be an object with stats\(\), but was an object/],
    [{ health: 1 }, { meter }, TypeError, /registry must be an object with health\(\), but was an object/],
  ]
  for (const [registry, options, type, message] of cases) {
    t.throws(() => openTelemetryMetrics(registry as never, options as never), { instanceOf: type, code, message }, String(message))
  }
})
