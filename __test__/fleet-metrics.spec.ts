// The fleet's series in Prometheus and OpenTelemetry, read from a real fleet on a real redis-server.
import anyTest, { type TestFn } from 'ava'
import { MeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics'
import { Registry as PromRegistry } from 'prom-client'
import { Registry } from '../src/index.ts'
import { fleet, type RemoteEvent } from '../src/fleet/index.ts'
import { openTelemetryFleetMetrics } from '../src/ops/otel.ts'
import { prometheusFleetMetrics } from '../src/ops/prometheus.ts'
import { startRedis, type TestRedis, withRedis } from './servers/redis.ts'

const test = withRedis(anyTest as TestFn<{ redis: TestRedis }>)
test.before(async (t) => {
  t.context.redis = await startRedis()
})
test.after.always((t) => t.context.redis?.destroy())

class CollectingReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

async function openedFleet(url: string, namespace: string) {
  const registry = new Registry()
  const breaker = registry.getOrCreate('exchange', { consecutiveFailures: 1 })
  const f = fleet(registry, { redis: url, namespace, instanceId: 'metrics-1', heartbeat: 100 })
  await f.join('exchange')
  const applied = new Promise<RemoteEvent>((resolve) => f.onRemote(resolve))
  await breaker.execute(() => Promise.reject(new Error('down'))).catch(() => undefined)
  await applied
  return { registry, f }
}

test.serial('prometheusFleetMetrics: redis_up, votes, generation, open, probe lease held, dropped messages', async (t) => {
  const { f } = await openedFleet(t.context.redis.url, 'metrics-prom')
  try {
    t.is(t.context.redis.cli('publish', 'bw:{metrics-prom}:events', 'garbage'), '1')
    // A state message after the garbage: once it is applied, the garbage was read (one connection, in order).
    const after = new Promise<RemoteEvent>((resolve) => f.onRemote(resolve))
    t.true(await f.forceOpen('exchange'))
    await after
    const register = new PromRegistry()
    prometheusFleetMetrics(f, { register })
    const text = await register.metrics()
    const base = 'namespace="metrics-prom",instance="metrics-1"'
    t.regex(text, new RegExp(`^breakwater_fleet_redis_up\\{${base}\\} 1$`, 'm'))
    t.regex(text, new RegExp(`^breakwater_fleet_open\\{${base},name="exchange"\\} 1$`, 'm'))
    t.regex(text, new RegExp(`^breakwater_fleet_generation\\{${base},name="exchange"\\} [1-9]`, 'm'))
    t.regex(text, new RegExp(`^breakwater_fleet_probe_lease_held\\{${base},name="exchange"\\} 0$`, 'm'))
    t.regex(text, new RegExp(`^breakwater_fleet_votes\\{${base},name="exchange"\\} \\d+$`, 'm'))
    t.regex(text, new RegExp(`^breakwater_fleet_dropped_messages_total\\{${base},reason="malformed"\\} 1$`, 'm'))
    t.regex(text, /^# TYPE breakwater_fleet_errors_total counter$/m)
    t.regex(text, /^breakwater_fleet_instances_alive\{.*\} 1$/m)
    t.throws(() => prometheusFleetMetrics({} as never, { register: new PromRegistry() }), {
      code: 'ERR_BREAKWATER_INVALID_OPTION',
      message: /fleet must be an object with status\(\)/,
    })
    t.throws(() => prometheusFleetMetrics(f, { register, prefx: 'x' } as never), {
      code: 'ERR_BREAKWATER_INVALID_OPTION',
      message: /prefx is not a prometheusFleetMetrics option/,
    })
    t.throws(() => prometheusFleetMetrics(f, { register }), {
      code: 'ERR_BREAKWATER_INVALID_OPTION',
      message: /register already has a metric called breakwater_fleet_redis_up/,
    })
  } finally {
    await f.close()
  }
})

test.serial('openTelemetryFleetMetrics: resilience.breakwater.fleet.* instruments', async (t) => {
  const { f } = await openedFleet(t.context.redis.url, 'metrics-otel')
  try {
    const reader = new CollectingReader()
    const meter = new MeterProvider({ readers: [reader] }).getMeter('spec')
    const stop = openTelemetryFleetMetrics(f, { meter })
    const { resourceMetrics } = await reader.collect()
    const metrics = new Map<string, MetricData>(resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).map((m) => [m.descriptor.name, m]))
    const value = (name: string, attributes: Record<string, string> = {}) =>
      metrics.get(`resilience.breakwater.fleet.${name}`)?.dataPoints.find((p) => Object.entries(attributes).every(([k, v]) => p.attributes[k] === v))?.value
    t.is(value('redis_up'), 1)
    t.is(value('open', { 'breaker.name': 'exchange' }), 1)
    t.is(value('generation', { 'breaker.name': 'exchange' }), 1)
    t.is(value('probe_lease_held', { 'breaker.name': 'exchange' }), 0)
    t.is(value('dropped_messages', { reason: 'stale' }), 0)
    t.is(value('errors'), 0)
    stop()
  } finally {
    await f.close()
  }
})
