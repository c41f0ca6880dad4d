// breakwater/http read routes and admin actions, through real servers on loopback: the same
// handler mounted in plain node:http, Express 5 and Fastify 5, asked with real HTTP requests.
import test from 'ava'
import { failTimes } from './helpers.ts'
import { handlerOf, KINDS, post, request, serve, TOKEN } from './fixtures/ops-http-rig.ts'

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

for (const kind of KINDS) {
  test(`${kind}: GET /breakers lists every breaker's view, sorted by name`, async (t) => {
    const { handler, breakers, clock } = handlerOf({ prefix: '/ops' })
    const quotes = breakers.getOrCreate('quotes', { trackLatency: true })
    breakers.getOrCreate('orders', { consecutiveFailures: 2 })
    await quotes.execute(async () => clock.advance(40))
    await failTimes(quotes, 1)
    const server = await serve(kind, handler, { prefix: '/ops' })
    t.teardown(() => server.close())
    const reply = await request(`${server.base}/breakers`)
    t.is(reply.status, 200)
    t.regex(String(reply.headers['content-type']), /^application\/json/)
    t.deepEqual(
      reply.json.breakers.map((b: { name: string }) => b.name),
      ['orders', 'quotes'],
    )
    const view = reply.json.breakers[1]
    t.like(view, { name: 'quotes', state: 'closed', retryAfterMs: null, calls: 2, successes: 1, failures: 1, rejections: 0, failureRate: 50, slowCallRate: 0 })
    t.regex(view.since, ISO)
    const { count, p50, p95, p99, max } = view.latency
    t.is(count, 2, 'latency is tracked: both calls timed')
    t.true(p50 <= p95 && p95 <= p99 && p99 <= max, `latency ${JSON.stringify(view.latency)}`)
    t.is(reply.json.breakers[0].latency, null, 'latency is null where it is not tracked')
  })

  test(`${kind}: GET /breakers/:name of a closed breaker answers 200 with its view`, async (t) => {
    const { handler, breakers } = handlerOf()
    breakers.getOrCreate('orders')
    const server = await serve(kind, handler)
    t.teardown(() => server.close())
    const reply = await request(`${server.base}/breakers/orders`)
    t.is(reply.status, 200)
    t.like(reply.json, { name: 'orders', state: 'closed', calls: 0, retryAfterMs: null })
    t.is(reply.headers['retry-after'], undefined)
  })

  test(`${kind}: GET /breakers/:name of an open breaker answers 503 with Retry-After rounded up`, async (t) => {
    const { handler, breakers, clock } = handlerOf()
    const orders = breakers.getOrCreate('orders', { consecutiveFailures: 1, openFor: 2500 })
    await failTimes(orders, 1)
    clock.advance(400) // 2100 ms left: 3 seconds, rounded up
    const server = await serve(kind, handler)
    t.teardown(() => server.close())
    const reply = await request(`${server.base}/breakers/orders`)
    t.is(reply.status, 503)
    t.is(reply.headers['retry-after'], '3')
    t.like(reply.json, { name: 'orders', state: 'open', retryAfterMs: 2100, failures: 1 })
  })

  test(`${kind}: GET /breakers/:name of a breaker forced open without a deadline answers 503 without Retry-After`, async (t) => {
    const { handler, breakers } = handlerOf()
    breakers.getOrCreate('orders').forceOpen()
    const server = await serve(kind, handler)
    t.teardown(() => server.close())
    const reply = await request(`${server.base}/breakers/orders`)
    t.is(reply.status, 503)
    t.is(reply.headers['retry-after'], undefined)
    t.like(reply.json, { state: 'forced_open', retryAfterMs: null })
  })

  test(`${kind}: GET /breakers/:name of an unknown breaker answers 404`, async (t) => {
    const { handler } = handlerOf()
    const server = await serve(kind, handler)
    t.teardown(() => server.close())
    const reply = await request(`${server.base}/breakers/nope`)
    t.is(reply.status, 404)
    t.like(reply.json, { error: 'NotFound', message: 'there is no breaker named "nope"' })
  })

  test(`${kind}: GET /health answers 200 while no critical breaker is open, and 503 naming the open ones`, async (t) => {
    const { handler, breakers } = handlerOf({ critical: ['orders', 'ledger', 'later'] })
    const orders = breakers.getOrCreate('orders')
    breakers.getOrCreate('ledger')
    const fx = breakers.getOrCreate('fx')
    fx.forceOpen() // not critical: the service is up
    const server = await serve(kind, handler)
    t.teardown(() => server.close())
    const up = await request(`${server.base}/health`)
    t.is(up.status, 200)
    t.deepEqual(up.json, {
      status: 'up',
      failing: [],
      critical: [
        { name: 'orders', state: 'closed', retryAfterMs: null },
        { name: 'ledger', state: 'closed', retryAfterMs: null },
        { name: 'later', state: null, retryAfterMs: null },
      ],
    })
    orders.forceOpen(61_000)
    const down = await request(`${server.base}/health`)
    t.is(down.status, 503)
    t.is(down.headers['retry-after'], '61')
    t.like(down.json, { status: 'down', failing: ['orders'] })
    t.like(down.json.critical[0], { name: 'orders', state: 'forced_open', retryAfterMs: 61_000 })
  })

  test(`${kind}: POST /breakers/:name/state steers the breaker through every action`, async (t) => {
    const { handler, breakers } = handlerOf({ token: TOKEN })
    const orders = breakers.getOrCreate('orders')
    const server = await serve(kind, handler)
    t.teardown(() => server.close())
    const url = `${server.base}/breakers/orders/state`
    const forced = await post(url, { action: 'force_open', duration: '5m', reason: 'exchange incident' })
    t.is(forced.status, 200)
    t.like(forced.json, { name: 'orders', action: 'force_open', status: 200, from: 'closed', to: 'forced_open' })
    t.like(forced.json.breaker, { state: 'forced_open', retryAfterMs: 300_000 })
    t.like(await post(url, { action: 'half_open' }), { status: 200, json: { from: 'forced_open', to: 'half_open' } })
    t.like(await post(url, { action: 'disable' }), { status: 200, json: { from: 'half_open', to: 'disabled' } })
    t.like(await post(url, { action: 'close' }), { status: 200, json: { from: 'disabled', to: 'closed' } })
    t.like(await post(url, { action: 'isolate' }), { status: 200, json: { from: 'closed', to: 'forced_open' } })
    t.is(orders.state, 'forced_open')
    t.like(await post(url, { action: 'close' }), { status: 200, json: { from: 'forced_open', to: 'closed' } })
    t.is(orders.state, 'closed')
  })

  test(`${kind}: POST /breakers/state acts on the named breakers, or all, and answers per breaker`, async (t) => {
    const { handler, breakers } = handlerOf({ token: TOKEN })
    const a = breakers.getOrCreate('a')
    const b = breakers.getOrCreate('b')
    const c = breakers.getOrCreate('c')
    const server = await serve(kind, handler)
    t.teardown(() => server.close())
    const some = await post(`${server.base}/breakers/state`, { action: 'force_open', names: ['a', 'ghost', 'b', 'a'] })
    t.is(some.status, 200)
    t.deepEqual(some.json, {
      action: 'force_open',
      results: [
        { name: 'a', status: 200, from: 'closed', to: 'forced_open' },
        { name: 'ghost', status: 404, message: 'there is no breaker named "ghost"' },
        { name: 'b', status: 200, from: 'closed', to: 'forced_open' },
      ],
    })
    t.deepEqual([a.state, b.state, c.state], ['forced_open', 'forced_open', 'closed'])
    const all = await post(`${server.base}/breakers/state`, { action: 'close', all: true })
    t.is(all.status, 200)
    t.deepEqual(
      all.json.results.map((r: { name: string; to: string }) => [r.name, r.to]),
      [
        ['a', 'closed'],
        ['b', 'closed'],
        ['c', 'closed'],
      ],
    )
    t.deepEqual([a.state, b.state, c.state], ['closed', 'closed', 'closed'])
  })

  test(`${kind}: without a token the admin routes do not exist (404)`, async (t) => {
    const { handler, breakers } = handlerOf()
    const orders = breakers.getOrCreate('orders')
    const server = await serve(kind, handler)
    t.teardown(() => server.close())
    t.is((await post(`${server.base}/breakers/orders/state`, { action: 'force_open' })).status, 404)
    t.is((await post(`${server.base}/breakers/state`, { action: 'force_open', all: true })).status, 404)
    t.is(orders.state, 'closed')
  })

  test(`${kind}: breaker names with slashes, percent signs and Unicode are one percent-encoded path segment`, async (t) => {
    const { handler, breakers } = handlerOf({ token: TOKEN })
    const names = ['payments/eu', '100%', 'café ☕', '注文', '__proto__', 'a b?c#d', 'state']
    for (const name of names) breakers.getOrCreate(name)
    const server = await serve(kind, handler)
    t.teardown(() => server.close())
    for (const name of names) {
      const path = `${server.base}/breakers/${encodeURIComponent(name)}`
      const reply = await request(path)
      t.is(reply.status, 200, name)
      t.is(reply.json.name, name)
      const steered = await post(`${path}/state`, { action: 'force_open' })
      t.is(steered.status, 200, name)
      t.is(breakers.get(name)!.state, 'forced_open', name)
    }
    t.is((await request(`${server.base}/breakers/payments/eu`)).status, 404, 'an unencoded slash is another path')
  })
}
