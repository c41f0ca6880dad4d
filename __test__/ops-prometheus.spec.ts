import test from 'ava'
import { AggregatorRegistry, Counter, type OpenMetricsContentType, Registry as PromRegistry, type RegistryContentType } from 'prom-client'
import { bulkhead, registry, retry, type Metrics } from '../src/index.ts'
import { prometheusMetrics } from '../src/ops/prometheus.ts'
import { fail, failTimes, rig } from './helpers.ts'
import { deferred, turn, withFakeTimers } from './timers.ts'
import { inWorker } from './worker.ts'
import { type Family, parseExposition, scrape, valueOf } from './fixtures/ops-metrics-exposition.ts'

let next = 0
const fresh = (what: string) => `${what}-${process.pid}-${next++}`

/** Scrapes `register` over HTTP and parses every line; fails the test on any malformed line. */
async function scraped(register: PromRegistry<RegistryContentType>, openMetrics = false): Promise<Map<string, Family>> {
  const { status, contentType, text } = await scrape(register)
  if (status !== 200) throw new Error(`scrape answered ${status}: ${text}`)
  if (contentType !== register.contentType) throw new Error(`content type ${contentType}`)
  return parseExposition(text, { openMetrics })
}

const BREAKER_TYPES = {
  breakwater_circuitbreaker_state: 'gauge',
  breakwater_circuitbreaker_calls_total: 'counter',
  breakwater_circuitbreaker_not_permitted_calls_total: 'counter',
  breakwater_circuitbreaker_in_flight_calls: 'gauge',
  breakwater_circuitbreaker_failure_rate: 'gauge',
  breakwater_circuitbreaker_slow_call_rate: 'gauge',
  breakwater_circuitbreaker_buffered_calls: 'gauge',
  breakwater_circuitbreaker_slow_calls_total: 'counter',
  breakwater_circuitbreaker_state_seconds: 'gauge',
  breakwater_circuitbreaker_transitions_total: 'counter',
  breakwater_circuitbreaker_call_duration_seconds: 'summary',
  breakwater_circuitbreaker_call_duration_seconds_max: 'gauge',
}
const BULKHEAD_TYPES = {
  breakwater_bulkhead_available_concurrent_calls: 'gauge',
  breakwater_bulkhead_max_allowed_concurrent_calls: 'gauge',
  breakwater_bulkhead_queued_calls: 'gauge',
  breakwater_bulkhead_max_queue_size: 'gauge',
  breakwater_bulkhead_admitted_calls_total: 'counter',
  breakwater_bulkhead_rejected_calls_total: 'counter',
}
const RETRY_TYPES = {
  breakwater_retry_calls_total: 'counter',
  breakwater_retry_retries_total: 'counter',
  breakwater_retry_given_up_total: 'counter',
  breakwater_retry_budget_exhausted_total: 'counter',
}

const typesOf = (families: Map<string, Family>) => Object.fromEntries([...families.values()].map((f) => [f.name, f.type]))

test('a scrape over HTTP parses line by line, and every series of a tripped breaker equals its own metrics', async (t) => {
  const { clock, breakers, name } = rig()
  const orders = breakers.getOrCreate(name, { consecutiveFailures: 3, openFor: '30s' })
  await orders.execute(async () => 'ok')
  await orders.execute(async () => 'ok')
  await failTimes(orders, 3)
  await failTimes(orders, 2) // refused: the breaker is open
  clock.advance('12s')
  const register = new PromRegistry()
  prometheusMetrics(breakers, { register })
  const families = await scraped(register)
  const m = breakers.health()[name]!
  t.is(m.state, 'open')

  const v = (metric: string, labels: Record<string, string> = {}) => valueOf(families, metric, { name, ...labels })
  t.deepEqual(
    ['closed', 'open', 'half_open', 'forced_open', 'disabled'].map((state) => v('breakwater_circuitbreaker_state', { state })),
    [0, 1, 0, 0, 0],
  )
  t.is(v('breakwater_circuitbreaker_calls_total', { kind: 'successful' }), 2)
  t.is(v('breakwater_circuitbreaker_calls_total', { kind: 'failed' }), 3)
  t.is(v('breakwater_circuitbreaker_calls_total', { kind: 'ignored' }), 0)
  t.is(v('breakwater_circuitbreaker_calls_total', { kind: 'timeout' }), 0)
  t.is(v('breakwater_circuitbreaker_not_permitted_calls_total'), 2)
  t.is(v('breakwater_circuitbreaker_not_permitted_calls_total'), m.rejections)
  t.is(v('breakwater_circuitbreaker_in_flight_calls'), 0)
  t.is(v('breakwater_circuitbreaker_failure_rate'), m.window.failureRate)
  t.is(v('breakwater_circuitbreaker_failure_rate'), 60)
  t.is(v('breakwater_circuitbreaker_slow_call_rate'), m.window.slowCallRate)
  t.is(v('breakwater_circuitbreaker_buffered_calls', { kind: 'successful' }), 2)
  t.is(v('breakwater_circuitbreaker_buffered_calls', { kind: 'failed' }), 3)
  t.is(v('breakwater_circuitbreaker_slow_calls_total'), 0)
  t.is(v('breakwater_circuitbreaker_state_seconds'), 12)
  t.is(v('breakwater_circuitbreaker_transitions_total', { from: 'closed', to: 'open' }), 1)
  // Only the pairs that happened, like the breaker's own list.
  t.deepEqual(
    families
      .get('breakwater_circuitbreaker_transitions_total')!
      .samples.filter((s) => s.labels.name === name)
      .map((s) => s.labels),
    (m.transitions ?? []).map(({ from, to }) => ({ name, from, to })),
  )
  // No latency series for a breaker that does not track latency.
  t.deepEqual(families.get('breakwater_circuitbreaker_call_duration_seconds')!.samples, [])
})

test('every family has its HELP and TYPE: totals are counters, latency a summary, the rest gauges', async (t) => {
  const { breakers, name } = rig()
  breakers.getOrCreate(name)
  const register = new PromRegistry()
  prometheusMetrics(breakers, { register, bulkheads: [bulkhead(fresh('bh'), { maxConcurrent: 2 })], retries: { quotes: retry({}) } })
  const families = await scraped(register)
  t.deepEqual(typesOf(families), { ...BREAKER_TYPES, ...BULKHEAD_TYPES, ...RETRY_TYPES })
  for (const family of families.values()) {
    t.true(family.help.length > 10, family.name)
    t.is(family.type === 'counter', family.name.endsWith('_total'), family.name)
  }
})

test('a breaker moving through its states is counted per pair in transitions_total', async (t) => {
  const { clock, breakers, name } = rig()
  const b = breakers.getOrCreate(name, { consecutiveFailures: 1, openFor: '10s', halfOpenSuccesses: 1 })
  await failTimes(b, 1) // closed -> open
  clock.advance('10s')
  await failTimes(b, 1) // open -> half_open, probe fails: half_open -> open
  clock.advance('20s') // the open duration doubled
  await b.execute(async () => 'ok') // open -> half_open -> closed
  b.forceOpen() // closed -> forced_open
  b.reset() // forced_open -> closed
  const register = new PromRegistry()
  prometheusMetrics(breakers, { register })
  const families = await scraped(register)
  const count = (from: string, to: string) => valueOf(families, 'breakwater_circuitbreaker_transitions_total', { name, from, to })
  t.is(count('closed', 'open'), 1)
  t.is(count('open', 'half_open'), 2)
  t.is(count('half_open', 'open'), 1)
  t.is(count('half_open', 'closed'), 1)
  t.is(count('closed', 'forced_open'), 1)
  t.is(count('forced_open', 'closed'), 1)
  t.is(count('open', 'closed'), undefined, 'a pair that never happened has no series')
  t.is(valueOf(families, 'breakwater_circuitbreaker_state', { name, state: 'closed' }), 1)
})

test.serial('latency is a summary in seconds: its quantiles, _sum, _count and _max are the breaker latency', async (t) => {
  await withFakeTimers(async (timers) => {
    const { breakers, name } = rig()
    const b = breakers.getOrCreate(name, { trackLatency: true })
    const untracked = breakers.getOrCreate(`${name}-untracked`)
    await untracked.execute(async () => 'ok')
    for (let ms = 10; ms <= 1000; ms += 10) {
      const call = b.execute(() => new Promise((resolve) => setTimeout(resolve, ms)))
      await timers.tickAsync(ms)
      await call
    }
    const register = new PromRegistry()
    prometheusMetrics(breakers, { register })
    const families = await scraped(register)
    const latency = breakers.health()[name]!.latency!
    const v = (metric: string, labels: Record<string, string> = {}) => valueOf(families, metric, { name, ...labels })
    const family = 'breakwater_circuitbreaker_call_duration_seconds'
    t.is(v(family, { quantile: '0.5' }), latency.p50 / 1000)
    t.is(v(family, { quantile: '0.95' }), latency.p95 / 1000)
    t.is(v(family, { quantile: '0.99' }), latency.p99 / 1000)
    t.is(v(`${family}_count`), 100)
    t.is(v(`${family}_max`), latency.max / 1000)
    // The calls took 10 ms to 1 s: the quantiles are those, within the histogram's 1 %.
    t.true(Math.abs(v(family, { quantile: '0.5' })! - 0.5) <= 0.005, String(v(family, { quantile: '0.5' })))
    t.true(Math.abs(v(family, { quantile: '0.99' })! - 0.99) <= 0.0099, String(v(family, { quantile: '0.99' })))
    t.true(Math.abs(v(`${family}_sum`)! - 50.5) <= 0.01, String(v(`${family}_sum`)))
    t.true(Math.abs(v(`${family}_max`)! - 1) <= 0.001)
    const named = new Set(families.get(family)!.samples.map((s) => s.labels.name))
    t.deepEqual([...named], [name], 'a breaker without latency tracking has no latency series')
  })
})

test.serial('a timeout is counted as kind="timeout" and not as failed', async (t) => {
  await withFakeTimers(async (timers) => {
    const { breakers, name } = rig()
    const b = breakers.getOrCreate(name, { timeout: '1s' })
    const hung = b.execute(() => new Promise(() => {}))
    const settled = hung.catch((e: unknown) => e)
    await timers.tickAsync(1000)
    t.is(((await settled) as { code?: string }).code, 'ERR_BREAKWATER_TIMEOUT')
    await failTimes(b, 1)
    const register = new PromRegistry()
    prometheusMetrics(breakers, { register })
    const families = await scraped(register)
    const m = breakers.health()[name]!
    t.like(m, { failures: 2, timeouts: 1 })
    t.is(valueOf(families, 'breakwater_circuitbreaker_calls_total', { name, kind: 'timeout' }), 1)
    t.is(valueOf(families, 'breakwater_circuitbreaker_calls_total', { name, kind: 'failed' }), 1)
  })
})

test('a call in flight is counted in in_flight_calls until it ends', async (t) => {
  const { breakers, name } = rig()
  const b = breakers.getOrCreate(name)
  const register = new PromRegistry()
  prometheusMetrics(breakers, { register })
  const gate = deferred()
  const call = b.execute(() => gate.promise)
  t.is(valueOf(await scraped(register), 'breakwater_circuitbreaker_in_flight_calls', { name }), 1)
  gate.resolve()
  await call
  t.is(valueOf(await scraped(register), 'breakwater_circuitbreaker_in_flight_calls', { name }), 0)
})

test('a removed breaker is gone from the next scrape; the others stay', async (t) => {
  const { breakers, name } = rig()
  const kept = breakers.getOrCreate(`${name}-kept`)
  const removed = breakers.getOrCreate(`${name}-removed`, { consecutiveFailures: 1 })
  await failTimes(removed, 1)
  await kept.execute(async () => 'ok')
  const register = new PromRegistry()
  prometheusMetrics(breakers, { register })
  const namesIn = (families: Map<string, Family>) => new Set([...families.values()].flatMap((f) => f.samples.map((s) => s.labels.name)))
  t.deepEqual(namesIn(await scraped(register)), new Set([`${name}-kept`, `${name}-removed`]))
  t.true(breakers.remove(`${name}-removed`))
  const after = await scraped(register)
  t.deepEqual(namesIn(after), new Set([`${name}-kept`]))
  t.is(valueOf(after, 'breakwater_circuitbreaker_calls_total', { name: `${name}-kept`, kind: 'successful' }), 1)
})

test('nothing is read per call: the registry is read once per scrape, for every family', async (t) => {
  const { breakers, name } = rig()
  let reads = 0
  const counting = { health: (): Record<string, Metrics> => (reads++, breakers.health()) }
  const register = new PromRegistry()
  prometheusMetrics(counting, { register, bulkheads: [bulkhead(fresh('bh'), { maxConcurrent: 1 })], retries: { r: retry({}) } })
  const b = breakers.getOrCreate(name)
  for (let i = 0; i < 100; i++) await b.execute(async () => i)
  t.is(reads, 0)
  await scraped(register)
  t.is(reads, 1)
  await scraped(register)
  t.is(reads, 2)
  await register.getMetricsAsJSON()
  t.is(reads, 3)
})

test('breaker names of any characters come back intact through label escaping', async (t) => {
  const { breakers, name } = rig()
  const names = [`${name} "quoted"`, `${name} back\\slash`, `${name} new\nline`, `${name} ünïcødé ✓ 市場`, `${name} {a="b"},=`]
  for (const n of names) breakers.getOrCreate(n)
  const register = new PromRegistry()
  prometheusMetrics(breakers, { register })
  const families = await scraped(register)
  const seen = families
    .get('breakwater_circuitbreaker_state')!
    .samples.filter((s) => s.labels.state === 'closed')
    .map((s) => s.labels.name)
  t.deepEqual(seen.sort(), [...names].sort())
})

test('bulkhead series follow its stats: available, queued, admitted and rejected', async (t) => {
  const { breakers } = rig()
  const name = fresh('bulkhead')
  const b = bulkhead(name, { maxConcurrent: 1, maxQueue: 1 })
  const register = new PromRegistry()
  prometheusMetrics(breakers, { register, bulkheads: [b] })
  const gate = deferred()
  const holding = b.execute(() => gate.promise)
  const waiting = b.execute(async () => 'queued')
  await t.throwsAsync(
    b.execute(async () => 'refused'),
    { code: 'ERR_BREAKWATER_BULKHEAD_FULL' },
  )
  await turn()
  const v = (families: Map<string, Family>, metric: string) => valueOf(families, `breakwater_bulkhead_${metric}`, { name })
  const busy = await scraped(register)
  t.deepEqual(
    ['available_concurrent_calls', 'max_allowed_concurrent_calls', 'queued_calls', 'max_queue_size', 'admitted_calls_total', 'rejected_calls_total'].map((m) =>
      v(busy, m),
    ),
    [0, 1, 1, 1, 1, 1],
  )
  gate.resolve()
  await holding
  t.is(await waiting, 'queued')
  const idle = await scraped(register)
  t.deepEqual(
    ['available_concurrent_calls', 'queued_calls', 'admitted_calls_total', 'rejected_calls_total'].map((m) => v(idle, m)),
    [1, 0, 2, 1],
  )
})

test('retry series follow its stats: calls, retries, given up and budget refusals', async (t) => {
  const { breakers } = rig()
  const quotes = retry({ maxAttempts: 3, backoff: { base: 0 }, budget: false })
  const register = new PromRegistry()
  prometheusMetrics(breakers, { register, retries: { quotes } })
  await t.throwsAsync(quotes.execute(fail))
  await quotes.execute(async () => 'ok')
  const families = await scraped(register)
  const v = (metric: string) => valueOf(families, `breakwater_retry_${metric}`, { name: 'quotes' })
  t.deepEqual(quotes.stats(), { calls: 2, retries: 2, givenUp: 1, budgetExhausted: 0 })
  t.deepEqual(['calls_total', 'retries_total', 'given_up_total', 'budget_exhausted_total'].map(v), [2, 2, 1, 0])
})

test('bulkhead and retry families are there only when bulkheads or retries are given', async (t) => {
  const { breakers } = rig()
  const register = new PromRegistry()
  prometheusMetrics(breakers, { register })
  t.deepEqual(typesOf(await scraped(register)), BREAKER_TYPES)
})

test("prefix renames every family: 'resilience4j_' for boards made for resilience4j, '' for bare names", async (t) => {
  const { breakers, name } = rig()
  breakers.getOrCreate(name)
  const register = new PromRegistry()
  prometheusMetrics(breakers, { register, prefix: 'resilience4j_' })
  const families = await scraped(register)
  t.deepEqual(
    [...families.keys()],
    Object.keys(BREAKER_TYPES).map((n) => n.replace(/^breakwater_/, 'resilience4j_')),
  )
  t.is(valueOf(families, 'resilience4j_circuitbreaker_state', { name, state: 'closed' }), 1)
  const bare = new PromRegistry()
  prometheusMetrics(breakers, { register: bare, prefix: '' })
  t.true((await scraped(bare)).has('circuitbreaker_calls_total'))
})

test('OpenMetrics exposition: counters are typed without _total and sampled with it', async (t) => {
  const { breakers, name } = rig()
  const b = breakers.getOrCreate(name)
  await b.execute(async () => 'ok')
  const register = new PromRegistry<OpenMetricsContentType>()
  register.setContentType(PromRegistry.OPENMETRICS_CONTENT_TYPE)
  const dispose = prometheusMetrics(breakers, { register })
  const families = await scraped(register, true)
  t.is(families.get('breakwater_circuitbreaker_calls')?.type, 'counter')
  t.is(valueOf(families, 'breakwater_circuitbreaker_calls_total', { name, kind: 'successful' }), 1)
  t.is(families.get('breakwater_circuitbreaker_state')?.type, 'gauge')
  dispose()
  t.deepEqual(register.getMetricsAsArray(), [], 'the disposer finds counters renamed by prom-client')
})

test('the disposer takes out every family it added and nothing else', async (t) => {
  const { breakers, name } = rig()
  breakers.getOrCreate(name)
  const register = new PromRegistry()
  const mine = new Counter({ name: 'app_orders_total', help: 'Orders taken.', registers: [register] })
  mine.inc(3)
  const dispose = prometheusMetrics(breakers, { register, bulkheads: [bulkhead(fresh('bh'), { maxConcurrent: 1 })], retries: { r: retry({}) } })
  t.is(register.getMetricsAsArray().length, 1 + 22)
  dispose()
  dispose()
  const families = await scraped(register)
  t.deepEqual([...families.keys()], ['app_orders_total'])
  t.is(valueOf(families, 'app_orders_total', {}), 3)
  prometheusMetrics(breakers, { register })
  t.is(valueOf(await scraped(register), 'breakwater_circuitbreaker_state', { name, state: 'closed' }), 1)
})

test('a second collector with the same names on one register is refused, and registers nothing', (t) => {
  const { breakers } = rig()
  const register = new PromRegistry()
  prometheusMetrics(breakers, { register })
  const before = register.getMetricsAsArray()
  const error = t.throws(() => prometheusMetrics(breakers, { register, bulkheads: [bulkhead(fresh('bh'), { maxConcurrent: 1 })] }), {
    instanceOf: RangeError,
    code: 'ERR_BREAKWATER_INVALID_OPTION',
  })
  t.regex(error!.message, /register already has a metric called breakwater_circuitbreaker_state/)
  t.deepEqual(register.getMetricsAsArray(), before)
  prometheusMetrics(breakers, { register, prefix: 'other_' })
  t.is(register.getMetricsAsArray().length, before.length * 2)
})

test("register.resetMetrics() leaves the breakers' totals as they are", async (t) => {
  const { breakers, name } = rig()
  await breakers.getOrCreate(name).execute(async () => 'ok')
  const register = new PromRegistry()
  prometheusMetrics(breakers, { register })
  register.resetMetrics()
  t.is(valueOf(await scraped(register), 'breakwater_circuitbreaker_calls_total', { name, kind: 'successful' }), 1)
})

test('bad options are TypeErrors or RangeErrors with our code, naming the field and the value', (t) => {
  const { breakers } = rig()
  const register = new PromRegistry()
  const code = 'ERR_BREAKWATER_INVALID_OPTION'
  const cases: [unknown, unknown, ErrorConstructor, RegExp][] = [
    [breakers, undefined, TypeError, /prometheusMetrics options must be an object like \{ register \}, but was undefined/],
    [breakers, null, TypeError, /prometheusMetrics options must be an object, but was null/],
    [breakers, {}, TypeError, /register must be an object with registerMetric\(\), getSingleMetric\(\), removeSingleMetric\(\), but was undefined/],
    [breakers, { register: {} }, TypeError, /register must be an object with registerMetric\(\).*but was an object/],
    [breakers, { register, prefx: 'x_' }, TypeError, /prefx is not a prometheusMetrics option \(known: register, prefix, bulkheads, retries\)/],
    [breakers, { register, prefix: 7 }, TypeError, /prefix must be a string, but was 7/],
    [breakers, { register, prefix: 'my-app_' }, RangeError, /prefix must be empty or a metric name start .*, but was "my-app_"/],
    [breakers, { register, prefix: '9_' }, RangeError, /prefix must be .*, but was "9_"/],
    [breakers, { register, bulkheads: {} }, TypeError, /bulkheads must be an array of bulkheads, but was an object/],
    [breakers, { register, bulkheads: [{ name: 'x' }] }, TypeError, /bulkheads\[0\] must be an object with stats\(\), but was an object/],
    [breakers, { register, bulkheads: [{ name: 3, stats() {} }] }, TypeError, /bulkheads\[0\]\.name must be a string, but was 3/],
    [
      breakers,
      {
        register,
        bulkheads: [
          { name: 'a', stats() {} },
          { name: 'a', stats() {} },
        ],
      },
      RangeError,
      /bulkheads must have distinct names, but "a" is given twice/,
    ],
    [breakers, { register, retries: [] }, TypeError, /retries must be an object of retry policies by name.*but was an array/],
    [breakers, { register, retries: { quotes: 1 } }, TypeError, /retries\["quotes"\] must be an object with stats\(\), but was 1/],
    [{}, { register }, TypeError, /registry must be an object with health\(\), but was an object/],
    [undefined, { register }, TypeError, /registry must be an object with health\(\), but was undefined/],
  ]
  for (const [registry, options, type, message] of cases) {
    t.throws(() => prometheusMetrics(registry as never, options as never), { instanceOf: type, code, message }, String(message))
  }
  t.deepEqual(register.getMetricsAsArray(), [], 'nothing was registered by a refused call')
})

test.serial('a polluted Object.prototype changes nothing', async (t) => {
  const { breakers, name } = rig()
  breakers.getOrCreate(name)
  const proto = Object.prototype as Record<string, unknown>
  proto.prefix = 'polluted_'
  proto.bulkheads = 'not an array'
  try {
    const register = new PromRegistry()
    prometheusMetrics(breakers, { register })
    delete proto.prefix
    delete proto.bulkheads
    t.deepEqual(typesOf(await scraped(register)), BREAKER_TYPES)
  } finally {
    delete proto.prefix
    delete proto.bulkheads
  }
})

test("getMetricsAsJSON gives each sample its whole label set, and the cluster aggregator sums two workers' totals", async (t) => {
  const first = rig()
  const second = rig()
  const name = 'orders'
  await first.breakers.getOrCreate(name).execute(async () => 'ok')
  for (let i = 0; i < 2; i++) await second.breakers.getOrCreate(name).execute(async () => 'ok')
  const registers = [new PromRegistry(), new PromRegistry()]
  prometheusMetrics(first.breakers, { register: registers[0]! })
  prometheusMetrics(second.breakers, { register: registers[1]! })
  const [a, b] = await Promise.all(registers.map((r) => r.getMetricsAsJSON()))
  const calls = a!.find((m) => m.name === 'breakwater_circuitbreaker_calls_total')!
  t.like(calls, { type: 'counter', aggregator: 'sum' })
  t.deepEqual(
    calls.values.map((v) => v.labels),
    ['successful', 'failed', 'ignored', 'timeout'].map((kind) => ({ name, kind })),
  )
  const merged = AggregatorRegistry.aggregate([a!, b!])
  const families = parseExposition(await merged.metrics())
  t.is(valueOf(families, 'breakwater_circuitbreaker_calls_total', { name, kind: 'successful' }), 3)
  t.is(valueOf(families, 'breakwater_circuitbreaker_state', { name, state: 'closed' }), 2)
  // A caller changing what it got changes nothing in the next scrape.
  ;(calls.values[0]!.labels as Record<string, string>).name = 'changed'
  t.is(valueOf(await scraped(registers[0]!), 'breakwater_circuitbreaker_calls_total', { name, kind: 'successful' }), 1)
})

test('a breaker removed and made again under the same name is scraped with its new values', async (t) => {
  const { breakers, name } = rig()
  await failTimes(breakers.getOrCreate(name, { consecutiveFailures: 1 }), 1)
  const register = new PromRegistry()
  prometheusMetrics(breakers, { register })
  t.is(valueOf(await scraped(register), 'breakwater_circuitbreaker_state', { name, state: 'open' }), 1)
  breakers.remove(name)
  t.is(valueOf(await scraped(register), 'breakwater_circuitbreaker_state', { name, state: 'open' }), undefined)
  await breakers.getOrCreate(name).execute(async () => 'ok')
  const families = await scraped(register)
  t.is(valueOf(families, 'breakwater_circuitbreaker_state', { name, state: 'closed' }), 1)
  t.is(valueOf(families, 'breakwater_circuitbreaker_calls_total', { name, kind: 'failed' }), 0)
  t.is(valueOf(families, 'breakwater_circuitbreaker_transitions_total', { name, from: 'closed', to: 'open' }), undefined)
})

test("the register's default labels are added to every series", async (t) => {
  const { breakers, name } = rig()
  breakers.getOrCreate(name)
  const register = new PromRegistry()
  register.setDefaultLabels({ service: 'checkout' })
  prometheusMetrics(breakers, { register })
  const families = await scraped(register)
  t.is(valueOf(families, 'breakwater_circuitbreaker_state', { name, state: 'closed', service: 'checkout' }), 1)
  t.true([...families.values()].every((f) => f.samples.every((s) => s.labels.service === 'checkout')))
})

test('a breaker a worker thread opened and called is scraped from the main thread with its counts', async (t) => {
  const name = fresh('scraped-from-worker')
  const register = new PromRegistry()
  const dispose = prometheusMetrics(registry, { register })
  try {
    const state = await inWorker<string>(`
      const b = bw.circuitBreaker(${JSON.stringify(name)}, { consecutiveFailures: 2 })
      await b.execute(async () => 'ok')
      for (let i = 0; i < 3; i++) await b.execute(async () => { throw new Error('down') }).catch(() => {})
      parentPort.postMessage(b.state)`)
    t.is(state, 'open')
    const families = await scraped(register)
    t.is(valueOf(families, 'breakwater_circuitbreaker_state', { name, state: 'open' }), 1)
    t.is(valueOf(families, 'breakwater_circuitbreaker_calls_total', { name, kind: 'successful' }), 1)
    t.is(valueOf(families, 'breakwater_circuitbreaker_calls_total', { name, kind: 'failed' }), 2)
    t.is(valueOf(families, 'breakwater_circuitbreaker_not_permitted_calls_total', { name }), 1)
    t.is(valueOf(families, 'breakwater_circuitbreaker_transitions_total', { name, from: 'closed', to: 'open' }), 1)
  } finally {
    dispose()
    registry.remove(name)
  }
})

test('a register that refuses a family midway is left with none of them', (t) => {
  const { breakers } = rig()
  const register = new PromRegistry()
  const refusing = {
    registerMetric(metric: { name: string }) {
      if (metric.name === 'breakwater_circuitbreaker_failure_rate') throw new Error('register full')
      register.registerMetric(metric as never)
    },
    getSingleMetric: (name: string) => register.getSingleMetric(name),
    removeSingleMetric: (name: string) => register.removeSingleMetric(name),
  }
  t.throws(() => prometheusMetrics(breakers, { register: refusing as never }), { message: 'register full' })
  t.deepEqual(register.getMetricsAsArray(), [])
})
