// PATCH <prefix>/breakers/:name/config: the admin route of breaker.configure, through real
// node:http, Express 5 and Fastify 5 servers on loopback.
import test from 'ava'
import { handlerOf, KINDS, request, serve, TOKEN } from './fixtures/ops-http-rig.ts'

const patch = (url: string, body: unknown, token: string | null = TOKEN) =>
  request(url, { method: 'PATCH', body, headers: token === null ? {} : { authorization: `Bearer ${token}` } })

for (const kind of KINDS) {
  test(`${kind}: PATCH /breakers/:name/config changes the rules with the admin token, and answers the options in force`, async (t) => {
    const { handler, breakers, logged } = handlerOf({ token: TOKEN, prefix: '/ops' })
    const orders = breakers.getOrCreate('orders', { consecutiveFailures: 5 })
    const server = await serve(kind, handler, { prefix: '/ops' })
    t.teardown(() => server.close())
    const url = `${server.base}/breakers/orders/config`
    const refused = await patch(url, { consecutiveFailures: 2 }, null)
    t.is(refused.status, 401)
    t.is(orders.options().consecutiveFailures, 5, 'nothing changes without the token')
    const done = await patch(url, { consecutiveFailures: 2, openFor: '10s' })
    t.is(done.status, 200)
    t.like(done.json, { name: 'orders', from: 'closed', to: 'closed', options: { consecutiveFailures: 2, openFor: 10_000 } })
    t.like(orders.options(), { consecutiveFailures: 2, openFor: 10_000 })
    const bad = await patch(url, { consecutiveFailures: 2, halfOpenProbes: 0 })
    t.is(bad.status, 400)
    t.regex((bad.json as { message: string }).message, /halfOpenProbes must be a whole number from 1 to 100, but was 0/)
    t.is(orders.options().halfOpenProbes, 3, 'a refused body changes nothing')
    const unknown = await patch(`${server.base}/breakers/nope/config`, { openFor: '1s' })
    t.is(unknown.status, 404)
    const wrongMethod = await request(url, { method: 'POST', body: {}, headers: { authorization: `Bearer ${TOKEN}` } })
    t.is(wrongMethod.status, kind === 'fastify' ? 404 : 405)
    t.like(logged.at(-4), { route: 'PATCH /breakers/:name/config', action: null, status: 401 })
    t.like(logged.at(-3), { route: 'PATCH /breakers/:name/config', action: 'configure', breakers: ['orders'], status: 200, result: 'done' })
    t.like(logged.at(-2), { action: 'configure', status: 400 })
    t.like(logged.at(-1), { action: 'configure', status: 404 })
  })
}

test('without a token there is no config route', async (t) => {
  const { handler, breakers } = handlerOf()
  breakers.getOrCreate('orders')
  const server = await serve('node:http', handler)
  t.teardown(() => server.close())
  const reply = await patch(`${server.base}/breakers/orders/config`, { openFor: '1s' })
  t.is(reply.status, 404)
})

for (const kind of KINDS) {
  test(`${kind}: GET /breakers/:name/explain answers the adaptive threshold's explanation`, async (t) => {
    const { handler, breakers } = handlerOf({ prefix: '/ops' })
    breakers.getOrCreate('quotes', { latency: { threshold: 200, adaptive: { min: 50, max: 1000, shadow: true } } })
    breakers.getOrCreate('plain')
    const server = await serve(kind, handler, { prefix: '/ops' })
    t.teardown(() => server.close())
    const explained = await request(`${server.base}/breakers/quotes/explain`)
    t.is(explained.status, 200)
    t.like(explained.json, { name: 'quotes', adaptive: true, shadow: true, thresholdMs: 200, changes: [], wouldOpen: [] })
    t.like((await request(`${server.base}/breakers/plain/explain`)).json, { name: 'plain', adaptive: false })
    t.is((await request(`${server.base}/breakers/nope/explain`)).status, 404)
  })
}
