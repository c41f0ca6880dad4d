// Adversarial review of issue 11 (operations): defects found by probing the ops surfaces the way an
// outside suite would, each pinned here by the behaviour it broke. Real servers on loopback, real
// worker threads.
import test from 'ava'
import express from 'express'
import Fastify from 'fastify'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { circuitBreaker } from '../src/index.ts'
import { breakwaterFastify, type breakwaterHttp } from '../src/ops/http.ts'
import { handlerOf, KINDS, type Kind, rawConnection, TOKEN } from './fixtures/ops-http-rig.ts'
import { until } from './timers.ts'
import { startWorker } from './worker.ts'

/** Resolves once the client of `req` has gone (its socket closed). */
function clientGone(req: IncomingMessage): Promise<void> {
  return new Promise((resolve) => (req.socket.destroyed ? resolve() : req.socket.once('close', () => resolve())))
}

/**
 * A server of `kind` that hands each request to `handler` only after its client has gone (as a
 * slow authentication middleware or an async hook before it would).
 */
async function serveLate(kind: Kind, handler: ReturnType<typeof breakwaterHttp>, served: () => void): Promise<{ port: number; close(): Promise<void> }> {
  if (kind === 'fastify') {
    const app = Fastify()
    app.addHook('onRequest', async (request) => clientGone(request.raw))
    app.addHook('preHandler', (_request, _reply, done) => (served(), done()))
    await app.register(breakwaterFastify(handler))
    await app.listen({ host: '127.0.0.1', port: 0 })
    return { port: (app.server.address() as AddressInfo).port, close: () => app.close() }
  }
  let server: Server
  if (kind === 'express') {
    const app = express()
    app.use((req, _res, next) => void clientGone(req).then(() => next()))
    app.use((req, res, next) => (served(), handler(req, res, next)))
    server = createServer(app)
  } else {
    server = createServer((req: IncomingMessage, res: ServerResponse) => void clientGone(req).then(() => (served(), handler(req, res))))
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { port: (server.address() as AddressInfo).port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) }
}

for (const kind of KINDS) {
  test(`${kind}: a GET /events whose client left before the handler saw it opens no stream and leaves no listener`, async (t) => {
    const { handler, listeners } = handlerOf()
    let served = 0
    const server = await serveLate(kind, handler, () => served++)
    t.teardown(() => server.close())
    for (let i = 0; i < 5; i++) {
      const client = rawConnection(server.port)
      await client.connected
      client.socket.end('GET /events HTTP/1.1\r\nhost: x\r\n\r\n')
      client.socket.destroy()
      await client.whenClosed
    }
    // Every request reached the handler (after its client had gone), and none is left open.
    await until(() => served === 5)
    await new Promise((resolve) => setImmediate(resolve)) // the route runs right after the hook that counted it
    t.is(handler.streams, 0, 'no stream is counted for a client that is gone')
    t.is(listeners(), 0, 'no registry listener is left behind')
  })
}

for (const kind of KINDS) {
  test(`${kind}: an admin request whose client left before the handler saw it is logged at once as cut short, not after bodyTimeout`, async (t) => {
    // A body timeout of an hour: waiting for it would never end within the test.
    const { handler, logged, breakers } = handlerOf({ token: TOKEN, bodyTimeout: '1h' })
    breakers.getOrCreate('orders')
    let served = 0
    const server = await serveLate(kind, handler, () => served++)
    t.teardown(() => server.close())
    const body = JSON.stringify({ action: 'force_open' })
    const client = rawConnection(server.port)
    await client.connected
    client.socket.end(
      `POST /breakers/orders/state HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
    )
    client.socket.destroy()
    await until(() => served === 1)
    await until(() => logged.length === 1)
    t.like(logged[0], { route: 'POST /breakers/:name/state', status: 400, result: 'the request body was cut short' })
    t.is(breakers.get('orders')!.state, 'closed', 'nothing was done for a client that is gone')
  })
}

test.serial(
  "a thread that subscribes and never empties its inbox does not slow the other threads' transitions once its inbox is full, and is told what it lost",
  async (t) => {
    const name = `review-inbox-${process.pid}`
    const breaker = circuitBreaker(name)
    const gate = new Int32Array(new SharedArrayBuffer(4))
    // A worker that subscribes, then blocks its event loop (never drains) until the gate opens.
    const { worker, result } = startWorker<{ dropped: string[]; seen: number }>(`
    const dropped = []
    process.on('warning', (w) => w.code === 'BREAKWATER_EVENTS_DROPPED' && dropped.push(w.message))
    let seen = 0
    bw.registry.onStateChange(() => seen++)
    const gate = await new Promise((r) => parentPort.once('message', r))
    parentPort.postMessage('blocking')
    Atomics.wait(gate, 0, 0)
    setImmediate(() => setImmediate(() => parentPort.postMessage({ dropped, seen })))
  `)
    t.teardown(() => worker.terminate())
    const ready = new Promise((resolve) => worker.once('message', resolve))
    worker.postMessage(gate)
    await ready
    const INBOX = 65_536
    /** Milliseconds per transition of `pairs` force-open / reset pairs. */
    const cost = (pairs: number) => {
      const start = performance.now()
      for (let i = 0; i < pairs; i++) {
        breaker.forceOpen()
        breaker.reset()
      }
      return (performance.now() - start) / (2 * pairs)
    }
    const filling = cost(INBOX / 4) // the inbox half full
    cost(INBOX / 4) // now full
    const full = cost(INBOX / 4) // each transition drops the oldest
    Atomics.store(gate, 0, 1)
    Atomics.notify(gate, 0)
    const { dropped, seen } = (await result.then(() => new Promise((resolve) => worker.once('message', resolve)))) as { dropped: string[]; seen: number }
    t.true(full < filling * 5 + 0.002, `a transition costs ${(full * 1e3).toFixed(2)} µs with the inbox full, ${(filling * 1e3).toFixed(2)} µs while it fills`)
    t.is(seen, INBOX, 'the blocked thread gets the newest events its inbox kept')
    t.is(dropped.length, 1)
    t.regex(dropped[0]!, /^breakwater could not deliver every state change: (Error: )?32768 state changes were dropped/)
  },
)
