import test from 'ava'
import Sqlite from 'better-sqlite3'
import * as ort from 'onnxruntime-node'
import { type ApiClient, isBrokenCircuitError, Registry, tradingSystem } from '../src/index.ts'
import { FakeClock } from '../src/testing.ts'
import { LocalSandbox } from './fixtures/local-sandbox.ts'
import { tinyModel } from './fixtures/tiny-model.ts'
import { startHttpServer, type TestServer } from './servers/http.ts'

let server: TestServer
let session: ort.InferenceSession
test.before(async () => {
  server = await startHttpServer()
  session = await ort.InferenceSession.create(tinyModel(), { executionProviders: ['cpu'] })
})
test.after.always(() => server.close())

test('wires every service to its real component, with its preset, and reports their health', async (t) => {
  const clock = new FakeClock()
  const ledger = new Sqlite(':memory:')
  ledger.exec('create table fills (symbol text, qty int)')
  const system = tradingSystem({
    marketData: { baseUrl: server.url, retry: { maxAttempts: 3, backoff: { base: 0 } } }, // no real waits in a test
    orders: { baseUrl: server.url },
    predictor: { session },
    db: { client: ledger },
    sandbox: { client: LocalSandbox },
    registry: new Registry({ clock }),
  })

  t.like(await system.marketData.get('/quotes/AAPL'), { symbol: 'AAPL' })
  t.like(await system.orders.post('/orders', { symbol: 'AAPL', qty: 10 }), { id: 'o-1' })
  const outputs = await system.predictor.predict({ features: new ort.Tensor('float32', [1, 2, 3], [1, 3]) })
  t.is((outputs.prediction!.data as Float32Array)[0], 14.5)
  t.like(await system.db.query("insert into fills values ('AAPL', 10)"), { changes: 1 })
  const box = await system.sandbox.create('base')
  t.like(await system.sandbox.execute(box.sandboxId, 'return 1 + 1'), { results: [2] })
  await system.sandbox.stop(box.sandboxId)

  // Orders fail fast (3 failures); market data tolerates more (its GETs are retried: 2 calls, 6 failures).
  for (let i = 0; i < 3; i++) await system.orders.post('/status/500').catch(() => undefined)
  for (let i = 0; i < 2; i++) await system.marketData.get('/status/500').catch(() => undefined)
  t.is(system.orders.breaker.state, 'open')
  t.is(system.marketData.breaker.state, 'closed')
  const refused = await system.orders.post('/orders', {}).catch((e) => e)
  t.true(isBrokenCircuitError(refused) && refused.retryAfterMs === 30_000)

  const health = system.health()
  t.deepEqual(Object.keys(health).sort(), ['market-data', 'orders', 'price-predictor', 'strategy-sandbox:create', 'strategy-sandbox:execute', 'trading-db'])
  t.like(health.orders, { state: 'open', rejections: 1 })
  t.like(health['market-data'], { state: 'closed' })
  t.like(health['market-data'], { calls: 7 }, 'each retry of a GET is a call of the breaker')
  for (const [name, h] of Object.entries(health)) {
    t.truthy(h.latency, `${name} tracks latency`)
    t.true(h.latency!.p99 >= h.latency!.p50)
  }
  ledger.close()
})

test('presets are overridable, and the database stays open longer', async (t) => {
  const clock = new FakeClock()
  const busy = {
    prepare: () => ({
      reader: false,
      all: () => [],
      run: () => {
        throw Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' })
      },
    }),
    exec: () => undefined,
  }
  const system = tradingSystem({
    db: { client: busy, breaker: { consecutiveFailures: 2 } },
    orders: { baseUrl: server.url, name: 'orders-eu', breaker: { consecutiveFailures: 1 } },
    registry: new Registry({ clock }),
  })
  for (let i = 0; i < 2; i++) await system.db.query('insert into x values (1)').catch(() => undefined)
  const refused = await system.db.query('select 1').catch((e) => e)
  t.true(isBrokenCircuitError(refused) && refused.retryAfterMs === 60_000, 'the lenient database preset opens for 60 s')
  await system.orders.post('/status/503').catch(() => undefined)
  t.is(system.orders.breaker.state, 'open')
  t.is(system.orders.breaker.name, 'orders-eu')
})

test('a refused tradingSystem() creates no breaker: a bad service after good ones leaves the registry empty', (t) => {
  const registry = new Registry()
  const good = { marketData: { baseUrl: server.url }, orders: { baseUrl: server.url }, predictor: { session }, registry }
  t.throws(() => tradingSystem({ ...good, sandbox: { client: LocalSandbox, name: 'x'.repeat(249) } }), {
    instanceOf: RangeError,
    message: /^sandbox name must be at most 248 bytes/,
  })
  t.throws(() => tradingSystem({ ...good, db: { client: {} as never } }), { instanceOf: TypeError, message: /^database needs a pg Pool/ })
  t.throws(() => tradingSystem({ ...good, predictor: { session, breaker: { failureRate: 150 } } }), { instanceOf: RangeError, message: /failureRate/ })
  t.deepEqual(registry.names(), [])
  tradingSystem(good)
  t.deepEqual(registry.names(), ['market-data', 'orders', 'price-predictor'])
})

test('orders.retry is refused with a TypeError naming it and why (a retried order may fill twice), never silently dropped; retry: false is taken', async (t) => {
  const registry = new Registry()
  for (const retry of [{ maxAttempts: 3 }, {}, true, null]) {
    t.throws(() => tradingSystem({ registry, marketData: { baseUrl: server.url }, orders: { baseUrl: server.url, retry } as never }), {
      instanceOf: TypeError,
      code: 'ERR_BREAKWATER_INVALID_OPTION',
      message: /^retry is not a tradingSystem orders option \(orders are never retried: a retried order may fill twice\), but was /,
    })
  }
  t.deepEqual(registry.names(), [], 'nothing created')
  const system = tradingSystem({ registry, orders: { baseUrl: server.url, name: 'orders-no-retry', retry: false } })
  t.is(system.orders.retry, undefined)
  const before = server.hits.get('/status/503') ?? 0
  t.like(await system.orders.post('/status/503').catch((e: unknown) => e), { status: 503 })
  t.is(server.hits.get('/status/503'), before + 1, 'one request: an order is sent once')
})

test("a service's own registry is refused with a TypeError naming it, never silently replaced by the system's", (t) => {
  const registry = new Registry()
  const other = new Registry()
  const services = {
    marketData: { baseUrl: server.url },
    orders: { baseUrl: server.url },
    predictor: { session },
    db: { client: new Sqlite(':memory:') },
    sandbox: { client: LocalSandbox },
  }
  for (const [service, options] of Object.entries(services)) {
    t.throws(() => tradingSystem({ registry, [service]: { ...options, registry: other } }), {
      instanceOf: TypeError,
      code: 'ERR_BREAKWATER_INVALID_OPTION',
      message: `registry is not a tradingSystem ${service} option (every service's breakers live in the system's registry: give registry to tradingSystem itself)`,
    })
  }
  t.deepEqual(registry.names(), [])
  t.deepEqual(other.names(), [])
  services.db.client.close()
})

test('tradingSystem options are own properties only: typos, null services and inherited services are refused or not read', (t) => {
  const registry = new Registry()
  const invalid = { code: 'ERR_BREAKWATER_INVALID_OPTION', instanceOf: TypeError }
  t.throws(() => tradingSystem({ registry, marketdata: { baseUrl: server.url } } as never), {
    ...invalid,
    message: /^marketdata is not a tradingSystem option/,
  })
  t.throws(() => tradingSystem(null as never), { ...invalid, message: 'tradingSystem options must be an object, but was null' })
  t.throws(() => tradingSystem({ registry, orders: null as never }), { ...invalid, message: 'orders must not be null: leave it out for its default' })
  t.throws(() => tradingSystem({ registry, predictor: { session, tmeout: 5 } as never }), { ...invalid, message: /^tmeout is not a neural option/ })
  t.throws(() => tradingSystem({ registry, sandbox: { client: LocalSandbox, executeBreaker: { fallback: () => 1 } } as never }), {
    ...invalid,
    message: 'fallback is not a sandbox.executeBreaker option (the adapter sets its own fallback)',
  })
  t.throws(() => tradingSystem({ registry: 7 as never }), { ...invalid, message: 'registry must be a Registry, but was 7' })
  const inherited = Object.assign(Object.create({ orders: { baseUrl: server.url } }) as object, { registry })
  t.deepEqual(Object.keys(tradingSystem(inherited)), ['health'], 'an inherited service is not wired')
  t.deepEqual(registry.names(), [])
})

test.serial('a polluted Object.prototype changes no service the trading system wires', async (t) => {
  const proto = Object.prototype as Record<string, unknown>
  const pollution = { fetch: async () => new Response('"polluted"'), fallback: () => 'polluted', orders: { baseUrl: 'http://127.0.0.1:9' } }
  Object.assign(proto, pollution)
  let system: { marketData: ApiClient }
  try {
    system = tradingSystem({ marketData: { baseUrl: server.url }, registry: new Registry() })
    t.like(await system.marketData.get('/quotes/AAPL'), { symbol: 'AAPL' }, 'the real fetch, not an inherited one')
  } finally {
    for (const key of Object.keys(pollution)) delete proto[key]
  }
  t.deepEqual(Object.keys(system).sort(), ['health', 'marketData'], 'no inherited service')
})
