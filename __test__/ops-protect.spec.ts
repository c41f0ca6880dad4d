// Issue 11, part 3: protect(breaker) puts a server's own routes behind a breaker, on real
// node:http, Express 5 and Fastify 5 servers on loopback, with real requests.
import test from 'ava'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import express from 'express'
import Fastify from 'fastify'
import { isBrokenCircuitError, type CircuitBreaker } from '../src/index.ts'
import {
  breakerErrorHandler,
  brokenCircuitAnswer,
  fastifyBreakerErrorHandler,
  isServerFailure,
  protect,
  timeoutAnswer,
  type Protection,
  type ProtectOptions,
} from '../src/ops/http.ts'
import { fetchPath, nodeHttp, SERVERS, type Kit, type Running, type ServerKind } from './fixtures/ops-protect-servers.ts'
import { rig } from './helpers.ts'
import { deferred, turn, until, withFakeTimers } from './timers.ts'

let unhandled = 0
process.on('unhandledRejection', () => unhandled++)

/** A service on `kind` behind a fresh breaker (two failures in a row open it for 30 s) on a fake clock. */
async function service(
  kind: ServerKind,
  options?: ProtectOptions,
  breakerOptions: Parameters<ReturnType<typeof rig>['breakers']['getOrCreate']>[1] = {},
  made: (make: () => Protection) => Protection = (make) => make(),
) {
  const { clock, breakers, name } = rig()
  const breaker = breakers.getOrCreate(name, { consecutiveFailures: 2, openFor: '30s', ...breakerOptions })
  const downstream = breakers.getOrCreate(`${name}-quotes`)
  downstream.forceOpen('20s')
  const hangs: Array<AbortSignal | undefined> = []
  let hung = deferred<AbortSignal | undefined>()
  const kit: Kit = {
    downstream: downstream as CircuitBreaker<string>,
    hits: new Map(),
    onHang: (signal) => {
      hangs.push(signal)
      hung.resolve(signal)
    },
  }
  const running: Running = await kind.start(
    made(() => protect(breaker, options)),
    kit,
  )
  return {
    clock,
    breaker,
    name,
    kit,
    /** Resolves when the next request enters `/hang`. */
    nextHang: () => (hung = deferred<AbortSignal | undefined>()).promise,
    url: running.url,
    get: (path: string) => fetchPath(running.url, path).answer,
    open: (path: string) => fetchPath(running.url, path),
    close: () => running.close(),
  }
}

/** Waits until every call the breaker let through has ended (the response's close comes after the client's end). */
const settled = (breaker: CircuitBreaker) => until(() => breaker.metrics().inFlight === 0, 20_000)

test.after.always('no promise went unhandled', (t) => {
  t.is(unhandled, 0)
})

for (const kind of SERVERS) {
  test(`${kind.name}: a successful response counts as a success and hands its permit back`, async (t) => {
    const s = await service(kind)
    try {
      const answer = await s.get('/ok')
      t.is(answer.status, 200)
      t.is(answer.body, 'ok')
      await settled(s.breaker)
      t.like(s.breaker.metrics(), { calls: 1, successes: 1, failures: 0, ignored: 0, inFlight: 0 })
    } finally {
      await s.close()
    }
  })

  test(`${kind.name}: a route that throws answers 500 and counts as a failure`, async (t) => {
    const s = await service(kind)
    try {
      t.is((await s.get('/boom')).status, 500)
      await settled(s.breaker)
      t.like(s.breaker.metrics(), { calls: 1, successes: 0, failures: 1, inFlight: 0 })
    } finally {
      await s.close()
    }
  })

  test(`${kind.name}: a 5xx answer counts as a failure, a 4xx answer does not`, async (t) => {
    const s = await service(kind, undefined, { consecutiveFailures: false })
    try {
      for (const code of [503, 404, 500, 400, 429, 502]) t.is((await s.get(`/status/${code}`)).status, code)
      await settled(s.breaker)
      t.like(s.breaker.metrics(), { calls: 6, successes: 3, failures: 3, inFlight: 0 })
    } finally {
      await s.close()
    }
  })

  test(`${kind.name}: an open breaker refuses with 503, Retry-After rounded up and the JSON body naming the service, before the route`, async (t) => {
    const s = await service(kind)
    try {
      for (let i = 0; i < 2; i++) t.is((await s.get('/boom')).status, 500)
      await settled(s.breaker)
      t.is(s.breaker.state, 'open')
      s.clock.advance(12_300)
      const hits = s.kit.hits.get('/ok') ?? 0
      const refused = await s.get('/ok')
      t.is(refused.status, 503)
      t.is(refused.headers['retry-after'], '18', '17.7 s left, rounded up')
      t.is(refused.headers['content-type'], 'application/json; charset=utf-8')
      t.deepEqual(JSON.parse(refused.body), {
        error: 'CircuitBreakerOpen',
        breaker: s.name,
        retryAfterMs: 17_700,
        message: `${s.name} is unavailable: its circuit breaker is open; retry after 18 s`,
      })
      t.is(s.kit.hits.get('/ok') ?? 0, hits, 'a refused request never reaches the route')
      t.like(s.breaker.metrics(), { calls: 3, failures: 2, rejections: 1, inFlight: 0 })
    } finally {
      await s.close()
    }
  })

  test(`${kind.name}: a half-open breaker lets probes through, and routes that answer close it`, async (t) => {
    const s = await service(kind)
    try {
      for (let i = 0; i < 2; i++) await s.get('/boom')
      await settled(s.breaker)
      s.clock.advance('30s')
      for (let i = 0; i < 2; i++) t.is((await s.get('/ok')).status, 200)
      await settled(s.breaker)
      t.is(s.breaker.state, 'closed')
    } finally {
      await s.close()
    }
  })

  test(`${kind.name}: a client that disconnects mid-request is ignored: neither a failure nor a success, and its permit comes back`, async (t) => {
    const s = await service(kind)
    try {
      const hang = s.nextHang()
      const { answer, request } = s.open('/hang')
      answer.catch(() => undefined)
      const signal = await hang
      t.is(s.breaker.metrics().inFlight, 1)
      request.destroy()
      await until(() => s.breaker.metrics().ignored === 1, 20_000)
      t.like(s.breaker.metrics(), { calls: 1, ignored: 1, failures: 0, successes: 0, timeouts: 0, inFlight: 0 })
      if (kind === nodeHttp) t.true(signal?.aborted, "the route's signal aborts when its client goes")
    } finally {
      await s.close()
    }
  })

  test(`${kind.name}: the breaker error handler answers a downstream BrokenCircuitError with the same 503`, async (t) => {
    const s = await service(kind)
    try {
      const answer = await s.get('/downstream')
      t.is(answer.status, 503)
      t.is(answer.headers['retry-after'], '20')
      t.deepEqual(JSON.parse(answer.body), {
        error: 'CircuitBreakerOpen',
        breaker: `${s.name}-quotes`,
        retryAfterMs: 20_000,
        message: `${s.name}-quotes is unavailable: its circuit breaker is forced open; retry after 20 s`,
      })
      await settled(s.breaker)
      t.like(s.breaker.metrics(), { failures: 1, inFlight: 0 }, 'by default a 503 of ours is a failure of the route too')
    } finally {
      await s.close()
    }
  })

  test(`${kind.name}: isFailure sees the status and the error the route threw`, async (t) => {
    const seen: Array<[number, string]> = []
    const isFailure = (status: number, error: unknown) => {
      seen.push([status, isBrokenCircuitError(error) ? 'BrokenCircuitError' : error instanceof Error ? error.message : String(error)])
      return isServerFailure(status, error) && !isBrokenCircuitError(error)
    }
    const s = await service(kind, { isFailure })
    try {
      await s.get('/downstream')
      await s.get('/ok')
      await s.get('/boom')
      await settled(s.breaker)
      t.deepEqual(seen, [
        [503, 'BrokenCircuitError'],
        [200, 'undefined'],
        [500, 'route failed'],
      ])
      t.like(s.breaker.metrics(), { successes: 2, failures: 1 })
    } finally {
      await s.close()
    }
  })

  test.serial(`${kind.name}: a route that answers after its timeout changes nothing: one outcome, no warning, nothing unhandled`, async (t) => {
    const s = await service(kind, { timeout: '1s' })
    const warnings: string[] = []
    const onWarning = (w: Error) => warnings.push(w.message)
    process.on('warning', onWarning)
    const late = deferred()
    s.kit.late = late.promise
    try {
      await withFakeTimers(async (timers) => {
        const hang = s.nextHang()
        const { answer } = s.open('/late')
        await hang
        timers.tick(1000)
        t.is((await answer).status, 503)
      })
      late.resolve()
      await settled(s.breaker)
      for (let i = 0; i < 20; i++) await turn()
      t.like(s.breaker.metrics(), { calls: 1, timeouts: 1, failures: 1, successes: 0, inFlight: 0 })
      t.is((await s.get('/ok')).status, 200, 'the server goes on serving')
      t.deepEqual(warnings, [])
    } finally {
      process.off('warning', onWarning)
      await s.close()
    }
  })

  test.serial(`${kind.name}: a route that hangs is cut by the timeout: 503, counted as a timeout, its permit back`, async (t) => {
    const s = await service(kind, { timeout: '1500ms' })
    try {
      await withFakeTimers(async (timers) => {
        const hang = s.nextHang()
        const { answer } = s.open('/hang')
        const signal = await hang
        timers.tick(1499)
        t.is(s.breaker.metrics().inFlight, 1, 'not cut before its time')
        timers.tick(1)
        const cut = await answer
        t.is(cut.status, 503)
        t.is(cut.headers['retry-after'], undefined)
        t.deepEqual(JSON.parse(cut.body), { error: 'Timeout', breaker: s.name, timeoutMs: 1500, message: `${s.name} did not answer within 1500 ms` })
        await settled(s.breaker)
        t.like(s.breaker.metrics(), { calls: 1, failures: 1, timeouts: 1, ignored: 0, inFlight: 0 })
        if (kind === nodeHttp) t.true(signal?.aborted, "the route's signal aborts at the timeout")
      })
    } finally {
      await s.close()
    }
  })
}

for (const kind of SERVERS.filter((k) => k !== nodeHttp)) {
  test(`${kind.name}: an error thrown with a 4xx status passes the error handler on and is no failure`, async (t) => {
    const s = await service(kind)
    try {
      t.is((await s.get('/bad-input')).status, 400)
      await settled(s.breaker)
      t.like(s.breaker.metrics(), { successes: 1, failures: 0 })
    } finally {
      await s.close()
    }
  })
}

test('Express 5: the breaker error handler passes every other error on, untouched', async (t) => {
  const [, express] = SERVERS
  const s = await service(express!)
  try {
    const answer = await s.get('/boom')
    t.is(answer.status, 500)
    t.regex(answer.body, /<pre>Error: route failed/, "Express's own final handler answered")
    t.notRegex(answer.body, /CircuitBreakerOpen/)
  } finally {
    await s.close()
  }
})

test('Fastify 5: the breaker error handler throws every other error on to the parent error handler', async (t) => {
  const [, , fastify] = SERVERS
  const s = await service(fastify!)
  try {
    const answer = await s.get('/boom')
    t.is(answer.status, 500)
    t.deepEqual(JSON.parse(answer.body), { statusCode: 500, error: 'Internal Server Error', message: 'route failed' })
  } finally {
    await s.close()
  }
})

test('node:http: a handler that throws after it began answering counts as a failure, and its response is cut', async (t) => {
  const s = await service(nodeHttp)
  try {
    await t.throwsAsync(s.get('/late-throw'), { message: /aborted|socket hang up|ECONNRESET/ })
    await settled(s.breaker)
    t.like(s.breaker.metrics(), { calls: 1, failures: 1, ignored: 0, inFlight: 0 })
  } finally {
    await s.close()
  }
})

test('node:http: a handler that throws synchronously answers 500 and counts as a failure', async (t) => {
  const { breakers, name } = rig()
  const breaker = breakers.getOrCreate(name)
  const server = createServer(
    protect(breaker).wrap(() => {
      throw new Error('sync failure')
    }),
  )
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  try {
    const answer = await fetchPath(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, '/').answer
    t.is(answer.status, 500)
    t.deepEqual(JSON.parse(answer.body), { error: 'InternalServerError' }, 'nothing of the error reaches the client')
    await settled(breaker)
    t.like(breaker.metrics(), { calls: 1, failures: 1, inFlight: 0 })
  } finally {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
})

test('Express 5: a request whose client left before it reached protect takes no permit', async (t) => {
  const { breakers, name } = rig()
  const breaker = breakers.getOrCreate(name)
  const arrived = deferred()
  const reachedProtect = deferred()
  const clientGone = deferred()
  const app = express()
  // A slow middleware before protect (a body parser, an auth check): the client leaves meanwhile.
  app.use((_req, res, next) => {
    arrived.resolve()
    res.once('close', () => clientGone.resolve())
    clientGone.promise.then(() => {
      next()
      reachedProtect.resolve()
    })
  })
  app.use(protect(breaker).express)
  app.get('/', (_req, res) => void res.send('ok'))
  const server = createServer(app)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  try {
    const { answer, request } = fetchPath(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, '/')
    answer.catch(() => undefined)
    await arrived.promise
    request.destroy()
    await reachedProtect.promise
    await settled(breaker)
    t.like(breaker.metrics(), { calls: 0, ignored: 0, inFlight: 0 })
  } finally {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
})

test('Fastify 5: the plugin guards the routes of the scope that registers it, and no others', async (t) => {
  const { breakers, name } = rig()
  const breaker = breakers.getOrCreate(name)
  const app = Fastify()
  app.get('/public', async () => 'public')
  await app.register(async (scope) => {
    await scope.register(protect(breaker).fastify)
    scope.get('/guarded', async () => 'guarded')
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  try {
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
    breaker.forceOpen('10s')
    t.is((await fetchPath(url, '/public').answer).status, 200)
    t.is((await fetchPath(url, '/guarded').answer).status, 503)
    breaker.reset()
    t.is((await fetchPath(url, '/guarded').answer).body, 'guarded')
    await settled(breaker)
    t.like(breaker.metrics(), { calls: 2, successes: 1, rejections: 1, inFlight: 0 })
  } finally {
    await app.close()
  }
})

test("Express 5: protect as one route's middleware guards that route only", async (t) => {
  const { breakers, name } = rig()
  const breaker = breakers.getOrCreate(name)
  const app = express()
  app.get('/public', (_req, res) => void res.send('public'))
  app.get('/guarded', protect(breaker).express, (_req, res) => void res.send('guarded'))
  const server = createServer(app)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    breaker.forceOpen('10s')
    t.is((await fetchPath(url, '/public').answer).status, 200)
    t.is((await fetchPath(url, '/guarded').answer).status, 503)
    t.like(breaker.metrics(), { calls: 1, rejections: 1, inFlight: 0 })
  } finally {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
})

test('an isFailure that throws, or answers with a promise, counts the request as a failure; its promise is handled', async (t) => {
  const filters = [
    () => {
      throw new Error('filter bug')
    },
    () => Promise.reject(new Error('an async filter')) as never,
  ]
  for (const isFailure of filters) {
    const s = await service(nodeHttp, { isFailure })
    try {
      t.is((await s.get('/ok')).status, 200)
      await settled(s.breaker)
      t.like(s.breaker.metrics(), { successes: 0, failures: 1, inFlight: 0 })
    } finally {
      await s.close()
    }
  }
})

test('a breaker forced open without a deadline answers 503 with no Retry-After and retryAfterMs null', async (t) => {
  const s = await service(nodeHttp)
  try {
    s.breaker.forceOpen()
    const answer = await s.get('/ok')
    t.is(answer.status, 503)
    t.false('retry-after' in answer.headers)
    t.deepEqual(JSON.parse(answer.body), {
      error: 'CircuitBreakerOpen',
      breaker: s.name,
      retryAfterMs: null,
      message: `${s.name} is unavailable: its circuit breaker is forced open`,
    })
  } finally {
    await s.close()
  }
})

test('a breaker with a fallback still answers a refused request 503, and its fallback value is not sent', async (t) => {
  const s = await service(nodeHttp, undefined, { fallback: () => 'fallback value' })
  try {
    s.breaker.forceOpen('5s')
    const answer = await s.get('/ok')
    t.is(answer.status, 503)
    t.is(answer.headers['retry-after'], '5')
    t.like(
      JSON.parse(answer.body),
      { error: 'CircuitBreakerOpen', breaker: s.name, retryAfterMs: 5000 },
      "the breaker's metrics say when, as the refusal would",
    )
    t.like(s.breaker.metrics(), { rejections: 1, inFlight: 0 })
  } finally {
    await s.close()
  }
})

test('one function builds the refusal answer for every server', (t) => {
  t.deepEqual(brokenCircuitAnswer({ breaker: 'orders', state: 'open', retryAfterMs: 1 }), {
    status: 503,
    headers: { 'retry-after': '1' },
    body: { error: 'CircuitBreakerOpen', breaker: 'orders', retryAfterMs: 1, message: 'orders is unavailable: its circuit breaker is open; retry after 1 s' },
  })
  t.is(
    brokenCircuitAnswer({ breaker: 'orders', state: 'half_open', retryAfterMs: 1000 }).body.message,
    'orders is unavailable: its circuit breaker is half-open with every probe slot taken; retry after 1 s',
  )
  t.deepEqual(timeoutAnswer('orders', 250).body, { error: 'Timeout', breaker: 'orders', timeoutMs: 250, message: 'orders did not answer within 250 ms' })
  t.is(breakerErrorHandler.length, 4, 'Express tells an error handler by its four parameters')
  t.is(fastifyBreakerErrorHandler.length, 3)
})

test('bad options are refused with ERR_BREAKWATER_INVALID_OPTION, naming the field, before anything is made', (t) => {
  const code = 'ERR_BREAKWATER_INVALID_OPTION'
  const { breakers, name } = rig()
  const breaker = breakers.getOrCreate(name)
  t.throws(() => protect(null as never), {
    instanceOf: TypeError,
    code,
    message: 'breaker must be a circuit breaker (from circuitBreaker or registry.getOrCreate), but was null',
  })
  t.throws(() => protect({ name: 'x' } as never), { instanceOf: TypeError, code, message: /^breaker must be a circuit breaker/ })
  t.throws(() => protect(breaker, null as never), { instanceOf: TypeError, code, message: 'protect options must be an object, but was null' })
  t.throws(() => protect(breaker, { tmeout: '1s' } as never), {
    instanceOf: TypeError,
    code,
    message: 'tmeout is not a protect option (known: timeout, isFailure)',
  })
  t.throws(() => protect(breaker, { timeout: 0 }), { instanceOf: RangeError, code, message: 'timeout must be more than 0 ms, but was 0' })
  t.throws(() => protect(breaker, { timeout: -5 }), {
    instanceOf: RangeError,
    code,
    message: /^timeout must be a finite number of milliseconds of at least 0, but was -5/,
  })
  t.throws(() => protect(breaker, { timeout: 'soon' as never }), {
    instanceOf: RangeError,
    code,
    message: 'timeout must be a duration like 250ms, 30s, 5m or 1h, but was "soon"',
  })
  t.throws(() => protect(breaker, { isFailure: 500 as never }), {
    instanceOf: TypeError,
    code,
    message: 'isFailure must be a function of (statusCode, error), but was 500',
  })
  t.throws(() => protect(breaker).wrap('handler' as never), {
    instanceOf: TypeError,
    code,
    message: 'protect(...).wrap needs a request handler function, but was given string',
  })
})

test.serial('a polluted Object.prototype gives protect no timeout and no isFailure', async (t) => {
  const proto = Object.prototype as Record<string, unknown>
  const polluted = (make: () => Protection) => {
    proto.timeout = 1
    proto.isFailure = () => true
    try {
      return make()
    } finally {
      delete proto.timeout
      delete proto.isFailure
    }
  }
  const s = await service(nodeHttp, {}, {}, polluted)
  try {
    await withFakeTimers(async (timers) => {
      const hang = s.nextHang()
      const { answer, request } = s.open('/hang')
      answer.catch(() => undefined)
      await hang
      timers.tick(60_000)
      t.is(s.breaker.metrics().inFlight, 1, 'no timeout of 1 ms was picked up')
      request.destroy()
      await settled(s.breaker)
    })
    t.is((await s.get('/ok')).status, 200)
    await settled(s.breaker)
    t.like(s.breaker.metrics(), { successes: 1, failures: 0, timeouts: 0, ignored: 1 }, 'no isFailure that says true was picked up')
  } finally {
    await s.close()
  }
})
