// breakwater/http: options are checked before anything is made, and the breaker view.
import test from 'ava'
import express from 'express'
import { Registry } from '../src/index.ts'
import { breakerView, breakwaterFastify, breakwaterHttp, type BreakwaterHttpOptions } from '../src/ops/http.ts'
import { FakeClock } from '../src/testing.ts'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { post, rig, TOKEN } from './fixtures/ops-http-rig.ts'

const INVALID = 'ERR_BREAKWATER_INVALID_OPTION'

test('bad options are refused with a TypeError or RangeError naming the field, before anything is made', (t) => {
  const { registry, listeners } = rig()
  const cases: Array<[unknown, 'TypeError' | 'RangeError', RegExp]> = [
    [null, 'TypeError', /^breakwaterHttp options must be an object, but was null/],
    [[], 'TypeError', /^breakwaterHttp options must be an object, but was an array/],
    [
      { tokn: 'x' },
      'TypeError',
      /^tokn is not a breakwaterHttp option \(known: prefix, token, critical, actor, log, bodyLimit, bodyTimeout, heartbeat, maxStreams, dashboard, bulkheads, retries\)/,
    ],
    [{ token: '' }, 'RangeError', /^token must not be empty: leave it out to have no admin routes/],
    [{ token: 42 }, 'TypeError', /^token must be a string, but was 42/],
    [{ token: 'two words' }, 'RangeError', /^token must be printable ASCII without spaces/],
    [{ token: 'tök' }, 'RangeError', /^token must be printable ASCII without spaces/],
    [{ token: null }, 'TypeError', /^token must not be null/],
    [{ prefix: 'ops' }, 'RangeError', /^prefix must be a path such as '\/ops'.*but was "ops"/],
    [{ prefix: '/ops/' }, 'RangeError', /^prefix must be a path/],
    [{ prefix: '/a//b' }, 'RangeError', /^prefix must be a path/],
    [{ prefix: '/ops?x' }, 'RangeError', /^prefix must be a path/],
    [{ prefix: 7 }, 'TypeError', /^prefix must be a string such as '\/ops', but was 7/],
    [{ critical: 'orders' }, 'TypeError', /^critical must be an array of breaker names, but was "orders"/],
    [{ critical: ['orders', ''] }, 'TypeError', /^critical\[1\] must be a breaker name \(a non-empty string\), but was ""/],
    [{ actor: 'x actor' }, 'RangeError', /^actor must be a header name such as 'x-actor', but was "x actor"/],
    [{ actor: 5 }, 'TypeError', /^actor must be a header name/],
    [{ log: true }, 'TypeError', /^log must be a logger with info and warn methods \(pino-shaped\), a function, or false, but was true/],
    [{ log: { info() {} } }, 'TypeError', /^log must be a logger with info and warn methods/],
    [{ bodyLimit: 0 }, 'RangeError', /^bodyLimit must be a whole number from 1 to 1048576, but was 0/],
    [{ bodyLimit: 1.5 }, 'RangeError', /^bodyLimit must be a whole number from 1 to 1048576, but was 1.5/],
    [{ bodyLimit: 2_000_000 }, 'RangeError', /^bodyLimit must be a whole number from 1 to 1048576, but was 2000000/],
    [{ bodyLimit: '16kb' }, 'TypeError', /^bodyLimit must be a whole number, but was "16kb"/],
    [{ bodyTimeout: 0 }, 'RangeError', /^bodyTimeout must be more than 0 ms, but was 0/],
    [{ bodyTimeout: 'forever' }, 'RangeError', /^bodyTimeout must be a duration like 250ms, 30s, 5m or 1h, but was "forever"/],
    [{ heartbeat: '10ms' }, 'RangeError', /^heartbeat must be at least 100 ms, but was 10/],
    [{ heartbeat: false }, 'TypeError', /^heartbeat must be a number of milliseconds or a duration string, but was false/],
    [{ maxStreams: 0 }, 'RangeError', /^maxStreams must be a whole number from 1 to 1000000, but was 0/],
  ]
  for (const [options, type, message] of cases) {
    const error = t.throws(() => breakwaterHttp(registry, options as BreakwaterHttpOptions), undefined, JSON.stringify(options))
    t.is(error?.constructor.name, type, JSON.stringify(options))
    t.is((error as Error & { code?: string }).code, INVALID)
    t.regex(error!.message, message)
  }
  t.is(listeners(), 0, 'nothing subscribed')
})

test('a registry that is not one is refused', (t) => {
  for (const registry of [undefined, null, {}, { names() {}, get() {}, health() {} }, 'registry']) {
    const error = t.throws(() => breakwaterHttp(registry as never))
    t.true(error instanceof TypeError)
    t.like(error, { code: INVALID })
    t.regex(error!.message, /^registry must be a breakwater Registry \(with names, get, health and onStateChange\), but was/)
  }
})

test('breakwaterFastify refuses anything but a handler made by breakwaterHttp', (t) => {
  for (const handler of [undefined, () => {}, {}]) {
    const error = t.throws(() => breakwaterFastify(handler as never))
    t.like(error, { code: INVALID })
    t.regex(error!.message, /^breakwaterFastify needs a handler made by breakwaterHttp, but was/)
  }
})

test('options are read from own properties only: a polluted Object.prototype adds no token', async (t) => {
  const { registry, breakers } = rig()
  breakers.getOrCreate('orders')
  const proto = Object.prototype as Record<string, unknown>
  proto.token = 'polluted'
  let handler
  try {
    handler = breakwaterHttp(registry, { log: false })
  } finally {
    delete proto.token
  }
  const server = createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const { port } = server.address() as AddressInfo
  const reply = await post(`http://127.0.0.1:${port}/breakers/orders/state`, { action: 'force_open' }, 'polluted')
  t.is(reply.status, 404, 'there is no admin route')
  t.is(breakers.get('orders')!.state, 'closed')
})

test('express: with express.json() mounted first, the admin routes take the body it parsed, checked the same way', async (t) => {
  const { registry, breakers } = rig()
  const orders = breakers.getOrCreate('orders')
  const app = express()
  app.use(express.json())
  app.use(breakwaterHttp(registry, { token: TOKEN, log: false }))
  const server = createServer(app)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const { port } = server.address() as AddressInfo
  const url = `http://127.0.0.1:${port}/breakers/orders/state`
  t.is((await post(url, { action: 'force_open', duration: '1m' })).status, 200)
  t.is(orders.state, 'forced_open')
  const polluting = await post(url, '{"action":"close","__proto__":{"x":1}}', TOKEN, { 'content-type': 'application/json' })
  t.is(polluting.status, 400)
  t.regex(polluting.json.message, /^__proto__ is not an admin request option/)
  t.is(orders.state, 'forced_open')
})

test('breakerView: since is the wall-clock start of the state; every key is present', (t) => {
  const clock = new FakeClock()
  const breakers = new Registry({ clock })
  const orders = breakers.getOrCreate('orders', { consecutiveFailures: 1, openFor: '30s' })
  orders.forceOpen('30s')
  clock.advance(12_345)
  const now = Date.UTC(2026, 0, 2, 3, 4, 5, 678)
  t.deepEqual(breakerView('orders', orders.metrics(), now), {
    name: 'orders',
    state: 'forced_open',
    since: new Date(now - 12_345).toISOString(),
    retryAfterMs: 30_000 - 12_345,
    calls: 0,
    successes: 0,
    failures: 0,
    timeouts: 0,
    ignored: 0,
    rejections: 0,
    inFlight: 0,
    failureRate: 0,
    slowCallRate: 0,
    latency: null,
  })
})
