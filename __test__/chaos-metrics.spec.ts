import test from 'ava'
import { MeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics'
import { Registry as PromRegistry, type RegistryContentType } from 'prom-client'
import { chaos, wrap } from '../src/index.ts'
import { openTelemetryChaos } from '../src/ops/otel.ts'
import { prometheusChaos, prometheusMetrics } from '../src/ops/prometheus.ts'
import { type Family, parseExposition, scrape, valueOf } from './fixtures/ops-metrics-exposition.ts'
import { rig } from './helpers.ts'

/** A fake epoch clock: `now()` reads it, `advance` moves it. */
function fakeNow(start = 1_700_000_000_000) {
  let at = start
  return { now: () => at, advance: (ms: number) => (at += ms) }
}

/** Draws that alternate below and above 0.5. */
function alternating() {
  let i = 0
  return () => (i++ % 2 === 0 ? 0.1 : 0.9)
}

async function scraped(register: PromRegistry<RegistryContentType>): Promise<Map<string, Family>> {
  const { status, text } = await scrape(register)
  if (status !== 200) throw new Error(`scrape answered ${status}: ${text}`)
  return parseExposition(text)
}

const ok = () => 'real'

test('prometheusChaos exports calls, injections by kind, the enabled switch and the stop reason of each policy', async (t) => {
  const clock = fakeNow()
  const orders = chaos({ fault: () => new Error('gateway down'), rate: 0.5, random: alternating(), for: '1m', enabled: true, now: clock.now })
  const quotes = chaos({ latency: 0, for: '1m', now: clock.now })
  const register = new PromRegistry()
  prometheusChaos({ orders, quotes }, { register })
  for (let i = 0; i < 4; i++) await orders.execute(ok).catch(() => undefined)
  let families = await scraped(register)
  const v = (metric: string, labels: Record<string, string>) => valueOf(families, `breakwater_chaos_${metric}`, labels)
  t.is(families.get('breakwater_chaos_injected_total')?.type, 'counter')
  t.is(families.get('breakwater_chaos_enabled')?.type, 'gauge')
  t.is(v('calls_total', { policy: 'orders' }), 4)
  t.is(v('injected_total', { policy: 'orders', kind: 'fault' }), 2)
  t.is(v('injected_total', { policy: 'orders', kind: 'latency' }), 0)
  t.is(v('enabled', { policy: 'orders' }), 1)
  t.is(v('enabled', { policy: 'quotes' }), 0, 'off by default')
  t.is(v('stopped', { policy: 'orders', reason: 'expired' }), 0)
  clock.advance(60_000)
  families = await scraped(register)
  t.is(v('enabled', { policy: 'orders' }), 0, 'the TTL ended: read without any call')
  t.is(v('stopped', { policy: 'orders', reason: 'expired' }), 1, 'and the scrape says why')
  t.is(v('stopped', { policy: 'orders', reason: 'breaker_open' }), 0)
})

test('a safety stop shows in the series: breaker_open after the breaker opened, within one call', async (t) => {
  const { clock, breakers, name } = rig()
  const breaker = breakers.getOrCreate(name, { consecutiveFailures: 2, openFor: '10s' })
  const policy = chaos({ fault: () => new Error('injected'), for: '1h', enabled: true, stopWhen: { breakerOpen: breaker }, now: () => clock.now })
  const register = new PromRegistry()
  prometheusChaos({ drill: policy }, { register })
  prometheusMetrics(breakers, { register })
  const guarded = wrap(breaker, policy)
  await guarded.execute(ok).catch(() => undefined)
  await guarded.execute(ok).catch(() => undefined)
  const families = await scraped(register)
  t.is(valueOf(families, 'breakwater_chaos_injected_total', { policy: 'drill', kind: 'fault' }), 2)
  t.is(valueOf(families, 'breakwater_chaos_stopped', { policy: 'drill', reason: 'breaker_open' }), 1)
  t.is(valueOf(families, 'breakwater_chaos_enabled', { policy: 'drill' }), 0)
  t.is(valueOf(families, 'breakwater_circuitbreaker_state', { name, state: 'open' }), 1)
})

test('prometheusChaos takes a prefix, refuses a name already registered and a bad argument, and its disposer removes the series', async (t) => {
  const policy = chaos({ outcome: 1, for: '1m' })
  const register = new PromRegistry()
  const dispose = prometheusChaos({ p: policy }, { register, prefix: 'app_' })
  t.truthy(register.getSingleMetric('app_chaos_injected_total'))
  t.throws(() => prometheusChaos({ p: policy }, { register, prefix: 'app_' }), {
    instanceOf: RangeError,
    code: 'ERR_BREAKWATER_INVALID_OPTION',
    message: /already has a metric called app_chaos_calls_total/,
  })
  dispose()
  t.is(register.getMetricsAsArray().length, 0)
  const code = 'ERR_BREAKWATER_INVALID_OPTION'
  t.throws(() => prometheusChaos([policy] as never, { register }), {
    instanceOf: TypeError,
    code,
    message: /policies must be an object of chaos policies by name/,
  })
  t.throws(() => prometheusChaos({ p: {} } as never, { register }), {
    instanceOf: TypeError,
    code,
    message: /policies\["p"\] must be an object with stats\(\)/,
  })
  t.throws(() => prometheusChaos({ p: policy }, undefined as never), { instanceOf: TypeError, code, message: /options must be an object like \{ register \}/ })
  t.throws(() => prometheusChaos({ p: policy }, { register, prefx: 'x' } as never), {
    instanceOf: TypeError,
    code,
    message: /prefx is not a prometheusChaos option/,
  })
  t.throws(() => prometheusChaos({ p: policy }, { register, prefix: '1x' }), {
    instanceOf: RangeError,
    code,
    message: /prefix must be empty or a metric name start/,
  })
  t.is(register.getMetricsAsArray().length, 0, 'nothing registered by a refused call')
})

/** A reader that collects when asked: no timer, no export. */
class CollectingReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

test('openTelemetryChaos observes the same numbers with chaos.policy, kind and reason attributes', async (t) => {
  const reader = new CollectingReader()
  const meter = new MeterProvider({ readers: [reader] }).getMeter('chaos-spec')
  const policy = chaos({ outcome: 'fake', for: '1m', enabled: true, stopWhen: (s) => s.injected.outcome >= 3 })
  const stop = openTelemetryChaos({ quotes: policy }, { meter })
  for (let i = 0; i < 5; i++) await policy.execute(ok)
  const { resourceMetrics } = await reader.collect()
  const metrics = new Map<string, MetricData>(resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).map((m) => [m.descriptor.name, m]))
  const point = (name: string, attributes: Record<string, string>) =>
    metrics.get(`resilience.breakwater.chaos.${name}`)?.dataPoints.find((p) => Object.entries(attributes).every(([k, v]) => p.attributes[k] === v))?.value
  t.is(point('calls', { 'chaos.policy': 'quotes' }), 5)
  t.is(point('injected', { 'chaos.policy': 'quotes', kind: 'outcome' }), 3)
  t.is(point('enabled', { 'chaos.policy': 'quotes' }), 0)
  t.is(point('stopped', { 'chaos.policy': 'quotes', reason: 'stop_when' }), 1)
  stop()
  t.throws(() => openTelemetryChaos({ q: policy }, { meter, metre: 1 } as never), {
    instanceOf: TypeError,
    code: 'ERR_BREAKWATER_INVALID_OPTION',
    message: /metre is not an openTelemetryChaos option/,
  })
})
