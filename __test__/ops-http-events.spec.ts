// breakwater/http GET /events: Server-Sent Events of every transition, through real node:http,
// Express 5 and Fastify 5 servers on loopback, with real clients that come and go.
import test from 'ava'
import { connect } from 'node:net'
import { registry } from '../src/index.ts'
import { breakwaterHttp } from '../src/ops/http.ts'
import { handlerOf, KINDS, request, serve, sse } from './fixtures/ops-http-rig.ts'
import { until, withFakeTimers } from './timers.ts'
import { inWorker } from './worker.ts'

for (const kind of KINDS) {
  test(`${kind}: GET /events streams each transition as a state event with name, from, to, reason, at and retryAfterMs`, async (t) => {
    const { handler, breakers, clock } = handlerOf()
    const orders = breakers.getOrCreate('orders', { consecutiveFailures: 1, openFor: 2000, halfOpenSuccesses: 1 })
    const server = await serve(kind, handler)
    t.teardown(() => server.close())
    const client = sse(`${server.base}/events`)
    const { status, headers } = await client.opened
    t.is(status, 200)
    t.regex(String(headers['content-type']), /^text\/event-stream/)
    t.is(headers['cache-control'], 'no-store')
    await until(() => handler.streams === 1)
    const before = Date.now()
    await orders.execute(() => Promise.reject(new Error('down'))).catch(() => {})
    clock.advance(2000)
    await orders.execute(async () => 'ok') // probes, and closes
    orders.forceOpen('1m')
    await until(() => client.events.length === 4)
    t.true(client.events.every((e) => e.event === 'state'))
    t.deepEqual(
      client.events.map(({ data }) => [data.name, data.from, data.to, data.reason, data.retryAfterMs]),
      [
        ['orders', 'closed', 'open', 'consecutive_failures', 2000],
        ['orders', 'open', 'half_open', 'open_elapsed', null],
        ['orders', 'half_open', 'closed', 'probes_succeeded', null],
        ['orders', 'closed', 'forced_open', 'manual', 60_000],
      ],
    )
    t.true(
      client.events.every(({ data }) => data.at >= before - 1000 && data.at <= Date.now() + 1000),
      'at is wall-clock time',
    )
    t.deepEqual(Object.keys(client.events[0]!.data), ['name', 'from', 'to', 'reason', 'at', 'retryAfterMs'])
    client.drop()
    await until(() => handler.streams === 0)
  })

  test(`${kind}: 200 clients connecting to and dropping from /events leave no listener or stream behind`, async (t) => {
    const { handler, breakers, listeners } = handlerOf({ maxStreams: 500 })
    const orders = breakers.getOrCreate('orders')
    const server = await serve(kind, handler)
    t.teardown(() => server.close())
    const clients = Array.from({ length: 200 }, () => sse(`${server.base}/events`))
    await Promise.all(clients.map((c) => c.opened))
    await until(() => handler.streams === 200)
    t.is(listeners(), 200)
    orders.forceOpen()
    await until(() => clients.every((c) => c.events.length === 1))
    // Half go away one way, half the other: dropped sockets and a clean end of the response.
    clients.slice(0, 100).forEach((c) => c.drop())
    await until(() => handler.streams === 100)
    t.is(listeners(), 100)
    orders.reset()
    await until(() => clients.slice(100).every((c) => c.events.length === 2))
    t.true(
      clients.slice(0, 100).every((c) => c.events.length === 1),
      'a dropped client hears nothing more',
    )
    clients.slice(100).forEach((c) => c.drop())
    await until(() => handler.streams === 0)
    t.is(listeners(), 0, 'every registry listener was removed')
    // And again, connecting and dropping at once, in a burst.
    const burst = Array.from({ length: 200 }, () => sse(`${server.base}/events`))
    await Promise.all(burst.map(async (c, i) => (i % 2 === 0 ? c.opened.then(() => c.drop()) : (c.drop(), c.opened.catch(() => {})))))
    await until(() => handler.streams === 0 && listeners() === 0)
    t.is(listeners(), 0)
  })
}

test.serial('GET /events sends a heartbeat comment every 15 s while a stream is open', async (t) => {
  const { handler } = handlerOf()
  const server = await serve('node:http', handler)
  t.teardown(() => server.close())
  await withFakeTimers(async (timers) => {
    const client = sse(`${server.base}/events`)
    await client.opened
    await until(() => handler.streams === 1)
    t.deepEqual(client.comments, ['breakwater transitions'])
    await timers.tickAsync(14_999)
    await until(() => true)
    t.deepEqual(client.comments, ['breakwater transitions'])
    await timers.tickAsync(1)
    await until(() => client.comments.length === 2)
    await timers.tickAsync(15_000)
    await until(() => client.comments.length === 3)
    t.deepEqual(client.comments, ['breakwater transitions', 'heartbeat', 'heartbeat'])
    client.drop()
    await until(() => handler.streams === 0)
    t.is(timers.countTimers(), 0, 'the heartbeat stops with the last stream')
  })
})

test.serial('the heartbeat interval is an option', async (t) => {
  const { handler } = handlerOf({ heartbeat: '2s' })
  const server = await serve('node:http', handler)
  t.teardown(() => server.close())
  await withFakeTimers(async (timers) => {
    const client = sse(`${server.base}/events`)
    await client.opened
    await until(() => handler.streams === 1)
    await timers.tickAsync(2_000)
    await until(() => client.comments.length === 2)
    t.is(client.comments[1], 'heartbeat')
    client.drop()
    await until(() => handler.streams === 0)
  })
})

test('a transition made in a worker thread arrives on the SSE stream (events from every thread)', async (t) => {
  const handler = breakwaterHttp(registry, { log: false })
  const server = await serve('node:http', handler)
  t.teardown(() => server.close())
  const name = `ops-http-worker-${process.pid}`
  registry.getOrCreate(name)
  const client = sse(`${server.base}/events`)
  await client.opened
  await until(() => handler.streams === 1)
  const state = await inWorker<string>(`const b = bw.registry.get(${JSON.stringify(name)}); b.forceOpen('30s'); parentPort.postMessage(b.state)`)
  t.is(state, 'forced_open')
  await until(() => client.events.some((e) => e.data.name === name))
  const mine = client.events.filter((e) => e.data.name === name).map((e) => e.data)
  t.like(mine[0], { name, from: 'closed', to: 'forced_open', reason: 'manual', retryAfterMs: 30_000 })
  client.drop()
  await until(() => handler.streams === 0)
})

test('handler.close() ends every open stream, so the server can close', async (t) => {
  const { handler, listeners } = handlerOf()
  const server = await serve('node:http', handler)
  const clients = Array.from({ length: 5 }, () => sse(`${server.base}/events`))
  await Promise.all(clients.map((c) => c.opened))
  await until(() => handler.streams === 5)
  handler.close()
  await Promise.all(clients.map((c) => c.ended))
  t.is(handler.streams, 0)
  t.is(listeners(), 0)
  await server.close()
})

test('fastify: closing the app ends the open streams', async (t) => {
  const { handler } = handlerOf()
  const server = await serve('fastify', handler)
  const client = sse(`${server.base}/events`)
  await client.opened
  await until(() => handler.streams === 1)
  await server.close()
  await client.ended
  t.is(handler.streams, 0)
})

test('past maxStreams, GET /events answers 503 with Retry-After', async (t) => {
  const { handler } = handlerOf({ maxStreams: 2 })
  const server = await serve('node:http', handler)
  t.teardown(() => server.close())
  const clients = [sse(`${server.base}/events`), sse(`${server.base}/events`)]
  await Promise.all(clients.map((c) => c.opened))
  await until(() => handler.streams === 2)
  const third = await request(`${server.base}/events`)
  t.is(third.status, 503)
  t.is(third.headers['retry-after'], '5')
  t.regex(third.json.message, /too many event streams are open \(at most 2\)/)
  clients.forEach((c) => c.drop())
  await until(() => handler.streams === 0)
})

test('a client that stops reading its stream is dropped (stalled past a megabyte, or past 16 at once), not buffered for', async (t) => {
  const { handler, breakers, listeners } = handlerOf()
  const orders = breakers.getOrCreate('orders')
  const server = await serve('node:http', handler)
  t.teardown(() => server.close())
  const socket = connect(server.port, '127.0.0.1')
  socket.on('error', () => {})
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
  socket.write('GET /events HTTP/1.1\r\nhost: x\r\n\r\n')
  await until(() => handler.streams === 1)
  socket.pause() // reads nothing more: the kernel buffers fill, then the response's own buffer
  for (let i = 0; i < 200_000 && handler.streams === 1; i++) {
    orders.forceOpen()
    orders.reset()
    if (i % 1000 === 0) await new Promise((r) => setImmediate(r))
  }
  t.is(handler.streams, 0)
  t.is(listeners(), 0)
  socket.destroy()
  await closed
})

test('a burst of 20,000 transitions in one tick (a bulk admin action) reaches a client that reads, which is kept', async (t) => {
  const { handler, breakers } = handlerOf()
  const orders = breakers.getOrCreate('orders')
  const server = await serve('node:http', handler)
  t.teardown(() => server.close())
  const client = sse(`${server.base}/events`)
  await client.opened
  await until(() => handler.streams === 1)
  for (let i = 0; i < 10_000; i++) {
    orders.forceOpen()
    orders.reset()
  }
  // About 2.6 MB queued in one tick: over the megabyte, but the client drains it.
  await until(() => client.events.length === 20_000)
  t.is(handler.streams, 1)
  t.deepEqual(
    client.events.slice(0, 2).map(({ data }) => [data.from, data.to]),
    [
      ['closed', 'forced_open'],
      ['forced_open', 'closed'],
    ],
  )
  client.drop()
  await until(() => handler.streams === 0)
})
