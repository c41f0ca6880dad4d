// breakwater/http admin routes: the bearer token, bad and hostile bodies, and the audit log, through
// real node:http, Express 5 and Fastify 5 servers on loopback.
import test from 'ava'
import pino from 'pino'
import { Writable } from 'node:stream'
import { breakwaterHttp } from '../src/ops/http.ts'
import { handlerOf, KINDS, post, rawConnection, request, serve, TOKEN } from './fixtures/ops-http-rig.ts'
import { until, withFakeTimers } from './timers.ts'

let unhandled = 0
const onUnhandled = () => unhandled++
test.before(() => process.on('unhandledRejection', onUnhandled))
test.after.always(() => process.off('unhandledRejection', onUnhandled))
test.after('no admin request left an unhandled rejection', (t) => t.is(unhandled, 0))

for (const kind of KINDS) {
  test(`${kind}: the admin routes answer 401 with WWW-Authenticate unless the bearer token is right`, async (t) => {
    const { handler, breakers, logged } = handlerOf({ token: TOKEN })
    const orders = breakers.getOrCreate('orders')
    const server = await serve(kind, handler)
    t.teardown(() => server.close())
    const url = `${server.base}/breakers/orders/state`
    const body = { action: 'force_open' }
    const cases: Array<[string, Record<string, string>, string]> = [
      ['missing', {}, 'Bearer realm="breakwater"'],
      ['not Bearer', { authorization: `Basic ${Buffer.from(`ops:${TOKEN}`).toString('base64')}` }, 'Bearer realm="breakwater"'],
      ['a bare token', { authorization: TOKEN }, 'Bearer realm="breakwater"'],
      ['empty Bearer', { authorization: 'Bearer ' }, 'Bearer realm="breakwater"'],
      ['wrong, same length', { authorization: `Bearer ${TOKEN.replace(/.$/, 'X')}` }, 'Bearer realm="breakwater", error="invalid_token"'],
      ['wrong, shorter', { authorization: `Bearer ${TOKEN.slice(0, 3)}` }, 'Bearer realm="breakwater", error="invalid_token"'],
      ['wrong, longer', { authorization: `Bearer ${TOKEN}${TOKEN}` }, 'Bearer realm="breakwater", error="invalid_token"'],
      ['right token with a suffix', { authorization: `Bearer ${TOKEN} extra` }, 'Bearer realm="breakwater"'],
    ]
    for (const [what, headers, challenge] of cases) {
      const reply = await post(url, body, null, headers)
      t.is(reply.status, 401, what)
      t.is(reply.headers['www-authenticate'], challenge, what)
      t.is(reply.json.error, 'Unauthorized', what)
    }
    t.is(orders.state, 'closed', 'no refused request changed anything')
    const right = await post(url, body, null, { authorization: `bearer   ${TOKEN}` })
    t.is(right.status, 200, 'the scheme is case-insensitive')
    t.is(orders.state, 'forced_open')
    t.is(logged.length, cases.length + 1, 'every request to an admin route is logged')
    t.true(logged.slice(0, -1).every((e) => e.status === 401 && e.action === null))
  })

  test(`${kind}: a bad admin body answers 400 with a message naming the field`, async (t) => {
    const { handler, breakers } = handlerOf({ token: TOKEN })
    const orders = breakers.getOrCreate('orders')
    const server = await serve(kind, handler)
    t.teardown(() => server.close())
    const url = `${server.base}/breakers/orders/state`
    const cases: Array<[unknown, RegExp]> = [
      ['{"action": "close"', /^the request body must be JSON/],
      ['', /^the request body must be JSON/],
      [Buffer.from([0x7b, 0xff, 0x7d]), /not valid UTF-8/],
      [[], /^the request body must be a JSON object, but was an array/],
      ['"close"', /^the request body must be a JSON object, but was "close"/],
      ['null', /^the request body must be a JSON object, but was null/],
      [{}, /^action is required: one of close, force_open, isolate, disable, half_open/],
      [{ action: 'explode' }, /^action must be one of close, force_open, isolate, disable, half_open, but was "explode"/],
      [{ action: 7 }, /^action must be one of .*, but was 7/],
      [{ action: 'force_open', duration: 'soon' }, /^duration must be a duration like 250ms, 30s, 5m or 1h, but was "soon"/],
      [{ action: 'force_open', duration: -5 }, /^duration must be a finite number of milliseconds of at least 0, but was -5/],
      [{ action: 'force_open', duration: 0 }, /^duration must be more than 0 ms, but was 0/],
      [{ action: 'force_open', duration: '900h' }, /^duration must be at most 2147483647 ms/],
      [{ action: 'close', duration: '5m' }, /^duration applies only to force_open and isolate, but action is close/],
      [{ action: 'close', reason: 42 }, /^reason must be a string of at most 500 characters, but was 42/],
      [{ action: 'close', reason: 'x'.repeat(501) }, /^reason must be a string of at most 500 characters/],
      [{ action: 'close', reason: null }, /^reason must not be null/],
      [{ action: 'close', tmeout: 1 }, /^tmeout is not an admin request option \(known: action, duration, reason\)/],
      [{ action: 'close', names: ['orders'] }, /^names is not an admin request option/],
      ['{"action": "close", "__proto__": {"isAdmin": true}}', /^__proto__ is not an admin request option/],
      ['{"action": "close", "constructor": {"prototype": {}}}', /^constructor is not an admin request option/],
    ]
    for (const [body, message] of cases) {
      const reply = await post(url, body, TOKEN, { 'content-type': 'application/json' })
      t.is(reply.status, 400, String(body))
      t.is(reply.json.error, 'BadRequest', String(body))
      t.regex(reply.json.message, message)
    }
    t.is(orders.state, 'closed')
    t.is(({} as { isAdmin?: unknown }).isAdmin, undefined, 'no prototype was polluted')
  })

  test(`${kind}: a bad POST /breakers/state body answers 400 naming the field`, async (t) => {
    const { handler, breakers } = handlerOf({ token: TOKEN })
    breakers.getOrCreate('orders')
    const server = await serve(kind, handler)
    t.teardown(() => server.close())
    const cases: Array<[unknown, RegExp]> = [
      [{ action: 'close' }, /^give exactly one of names \(an array of breaker names\) or all: true/],
      [{ action: 'close', names: ['orders'], all: true }, /^give exactly one of names/],
      [{ action: 'close', all: false }, /^all must be true, but was false/],
      [{ action: 'close', names: [] }, /^names must be an array of 1 to 1000 breaker names, but was an array/],
      [{ action: 'close', names: 'orders' }, /^names must be an array of 1 to 1000 breaker names, but was "orders"/],
      [{ action: 'close', names: ['orders', 3] }, /^names\[1\] must be a breaker name \(a non-empty string\), but was 3/],
      [{ action: 'close', all: true, everything: true }, /^everything is not an admin request option \(known: action, duration, reason, names, all\)/],
    ]
    for (const [body, message] of cases) {
      const reply = await post(`${server.base}/breakers/state`, body)
      t.is(reply.status, 400, JSON.stringify(body))
      t.regex(reply.json.message, message)
    }
  })

  test(`${kind}: an admin request that is not application/json answers 415`, async (t) => {
    const { handler, breakers } = handlerOf({ token: TOKEN })
    breakers.getOrCreate('orders')
    const server = await serve(kind, handler)
    t.teardown(() => server.close())
    const url = `${server.base}/breakers/orders/state`
    const body = JSON.stringify({ action: 'force_open' })
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', 'multipart/form-data; boundary=x']) {
      const reply = await post(url, body, TOKEN, { 'content-type': type })
      t.is(reply.status, 415, type)
      t.is(reply.json.error, 'UnsupportedMediaType')
    }
    const none = await request(url, { method: 'POST', body, headers: { authorization: `Bearer ${TOKEN}` } })
    t.is(none.status, 415, 'no content type')
    t.is(breakers.get('orders')!.state, 'closed')
    for (const type of ['application/json; charset=UTF-8', 'application/merge-patch+json']) {
      t.is((await post(url, body, TOKEN, { 'content-type': type })).status, 200, type)
    }
  })

  test(`${kind}: an admin body declared larger than bodyLimit answers 413 before a byte of it is read`, async (t) => {
    const { handler, breakers } = handlerOf({ token: TOKEN, bodyLimit: 1024 })
    breakers.getOrCreate('orders')
    const server = await serve(kind, handler)
    t.teardown(() => server.close())
    const client = rawConnection(server.port)
    t.teardown(() => client.socket.destroy())
    await client.connected
    // Headers only: the 10 GB never come, so only an answer that reads nothing can arrive.
    client.socket.write(
      `POST /breakers/orders/state HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN}\r\ncontent-type: application/json\r\ncontent-length: 10000000000\r\n\r\n`,
    )
    await until(() => client.received.includes('\r\n\r\n{'))
    t.regex(client.received, /^HTTP\/1\.1 413 /)
    t.regex(client.received, /the request body must be at most 1024 bytes/)
    await client.whenClosed
    t.is(breakers.get('orders')!.state, 'closed')
  })

  test(`${kind}: a chunked admin body that grows past bodyLimit answers 413 at once, without waiting for its end`, async (t) => {
    const { handler, breakers } = handlerOf({ token: TOKEN, bodyLimit: 1024 })
    breakers.getOrCreate('orders')
    const server = await serve(kind, handler)
    t.teardown(() => server.close())
    const client = rawConnection(server.port)
    t.teardown(() => client.socket.destroy())
    await client.connected
    client.socket.write(
      `POST /breakers/orders/state HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n`,
    )
    const chunk = `{"action":"close","reason":"${'x'.repeat(1100)}`
    client.socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`) // and never the last chunk
    await until(() => client.received.includes('\r\n\r\n{'))
    t.regex(client.received, /^HTTP\/1\.1 413 /)
    t.regex(client.received, /connection: close/i)
    await client.whenClosed
  })

  test(`${kind}: an endless admin body is cut off: the server answers 413 and closes the connection`, async (t) => {
    const { handler, breakers } = handlerOf({ token: TOKEN })
    breakers.getOrCreate('orders')
    const server = await serve(kind, handler)
    t.teardown(() => server.close())
    const client = rawConnection(server.port)
    t.teardown(() => client.socket.destroy())
    await client.connected
    client.socket.write(
      `POST /breakers/orders/state HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n`,
    )
    const chunk = `${(65_536).toString(16)}\r\n${'a'.repeat(65_536)}\r\n`
    let sent = 0
    const pump = () => {
      while (!client.closed && !client.socket.destroyed) {
        sent += 65_536
        if (!client.socket.write(chunk)) return void client.socket.once('drain', pump)
      }
    }
    pump()
    const outcome = await Promise.race([client.whenClosed.then(() => 'closed'), new Promise((r) => setTimeout(r, 10_000, 'still open'))])
    t.is(outcome, 'closed', 'the server stopped reading and closed the connection')
    if (client.received !== '') t.regex(client.received, /^HTTP\/1\.1 413 /) // or the reset overtook the answer
    t.true(sent < 64 * 1_048_576, `the client could only push ${sent} bytes before being cut off`)
    t.is(breakers.get('orders')!.state, 'closed')
  })

  test.serial(`${kind}: an admin body that never ends answers 408 after bodyTimeout`, async (t) => {
    const { handler, breakers, logged } = handlerOf({ token: TOKEN, bodyTimeout: '3s' })
    breakers.getOrCreate('orders')
    const server = await serve(kind, handler)
    t.teardown(() => server.close())
    await withFakeTimers(async (timers) => {
      const client = rawConnection(server.port)
      t.teardown(() => client.socket.destroy())
      await client.connected
      client.socket.write(
        `POST /breakers/orders/state HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"action":`,
      )
      await until(() => timers.countTimers() > 0) // the handler is reading the body
      await timers.tickAsync(2_999)
      t.is(client.received, '', 'nothing before the timeout')
      await timers.tickAsync(1)
      await until(() => client.received.includes('\r\n\r\n{'))
      t.regex(client.received, /^HTTP\/1\.1 408 /)
      t.regex(client.received, /the request body took longer than 3000 ms to arrive/)
      await client.whenClosed
    })
    t.like(logged.at(-1), { status: 408, action: null })
    t.is(breakers.get('orders')!.state, 'closed')
  })
}

test('every admin action is logged with who, what and the result; the actor header names who', async (t) => {
  const { handler, breakers, logged } = handlerOf({ token: TOKEN, actor: 'X-Actor' })
  breakers.getOrCreate('orders')
  const server = await serve('node:http', handler)
  t.teardown(() => server.close())
  await post(`${server.base}/breakers/orders/state`, { action: 'force_open', duration: '5m', reason: 'exchange incident' }, TOKEN, { 'x-actor': 'alice@desk' })
  await post(`${server.base}/breakers/orders/state`, { action: 'close' })
  await post(`${server.base}/breakers/state`, { action: 'half_open', names: ['orders', 'ghost'] }, TOKEN, { 'x-actor': 'bob' })
  await post(`${server.base}/breakers/orders/state`, { action: 'close' }, 'wrong', { 'x-actor': 'mallory' })
  t.deepEqual(logged, [
    {
      actor: 'alice@desk',
      address: '127.0.0.1',
      route: 'POST /breakers/:name/state',
      action: 'force_open',
      breakers: ['orders'],
      duration: '5m',
      reason: 'exchange incident',
      status: 200,
      result: 'done',
    },
    {
      actor: '127.0.0.1',
      address: '127.0.0.1',
      route: 'POST /breakers/:name/state',
      action: 'close',
      breakers: ['orders'],
      duration: null,
      reason: null,
      status: 200,
      result: 'done',
    },
    {
      actor: 'bob',
      address: '127.0.0.1',
      route: 'POST /breakers/state',
      action: 'half_open',
      breakers: ['orders', 'ghost'],
      duration: null,
      reason: null,
      status: 200,
      result: 'done',
      results: [
        { name: 'orders', status: 409, from: 'closed', to: 'closed' },
        { name: 'ghost', status: 404, from: undefined, to: undefined },
      ],
    },
    {
      actor: 'mallory',
      address: '127.0.0.1',
      route: 'POST /breakers/:name/state',
      action: null,
      breakers: ['orders'],
      duration: null,
      reason: null,
      status: 401,
      result: 'the bearer token is not right',
    },
  ])
})

test('a pino logger gets admin actions done at info and refused ones at warn', async (t) => {
  const lines: any[] = []
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)))
      done()
    },
  })
  const r = handlerOf()
  const handler = breakwaterHttp(r.registry, { token: TOKEN, log: pino({ base: null, timestamp: false }, stream) })
  r.breakers.getOrCreate('orders')
  const server = await serve('node:http', handler)
  t.teardown(() => server.close())
  await post(`${server.base}/breakers/orders/state`, { action: 'disable' })
  await post(`${server.base}/breakers/orders/state`, { action: 'disable' }, null)
  await until(() => lines.length === 2)
  t.like(lines[0], { level: 30, msg: 'breakwater admin action', action: 'disable', breakers: ['orders'], status: 200, result: 'done' })
  t.like(lines[1], { level: 40, msg: 'breakwater admin action', status: 401, result: 'an Authorization: Bearer token is required' })
})

test('a log that throws or rejects becomes a process warning and the action still answers', async (t) => {
  const warnings: Error[] = []
  const onWarning = (w: Error) => warnings.push(w)
  process.on('warning', onWarning)
  t.teardown(() => process.off('warning', onWarning))
  const r = handlerOf()
  let calls = 0
  const handler = breakwaterHttp(r.registry, {
    token: TOKEN,
    log: () => {
      if (calls++ === 0) throw new Error('log disk full')
      return Promise.reject(new Error('log service down')) as unknown as void
    },
  })
  const orders = r.breakers.getOrCreate('orders')
  const server = await serve('node:http', handler)
  t.teardown(() => server.close())
  t.is((await post(`${server.base}/breakers/orders/state`, { action: 'force_open' })).status, 200)
  t.is((await post(`${server.base}/breakers/orders/state`, { action: 'close' })).status, 200)
  t.is(orders.state, 'closed')
  await until(() => warnings.length === 2)
  t.deepEqual(
    warnings.map((w) => [(w as Error & { code?: string }).code, w.message]),
    [
      ['BREAKWATER_ADMIN_LOG', 'the breakwater admin log threw: Error: log disk full'],
      ['BREAKWATER_ADMIN_LOG', 'the breakwater admin log threw: Error: log service down'],
    ],
  )
  t.is(unhandled, 0)
})

test('half_open of a breaker that is not open answers 409 and changes nothing', async (t) => {
  const { handler, breakers } = handlerOf({ token: TOKEN })
  breakers.getOrCreate('orders')
  const server = await serve('node:http', handler)
  t.teardown(() => server.close())
  const reply = await post(`${server.base}/breakers/orders/state`, { action: 'half_open' })
  t.is(reply.status, 409)
  t.like(reply.json, {
    error: 'Conflict',
    name: 'orders',
    from: 'closed',
    to: 'closed',
    message: 'half_open moves only an open or forced-open breaker that is not isolated, but orders is closed',
  })
})

test('POST /breakers/:name/state of an unknown breaker answers 404 after the token is checked', async (t) => {
  const { handler } = handlerOf({ token: TOKEN })
  const server = await serve('node:http', handler)
  t.teardown(() => server.close())
  t.is((await post(`${server.base}/breakers/ghost/state`, { action: 'close' }, 'wrong')).status, 401, 'names are not told to strangers')
  const reply = await post(`${server.base}/breakers/ghost/state`, { action: 'close' })
  t.is(reply.status, 404)
  t.is(reply.json.message, 'there is no breaker named "ghost"')
})

test.serial('an isolation with a duration ends after it: the breaker closes', async (t) => {
  const { handler, breakers } = handlerOf({ token: TOKEN })
  const orders = breakers.getOrCreate('orders')
  const server = await serve('node:http', handler)
  t.teardown(() => server.close())
  await withFakeTimers(async (timers) => {
    t.is((await post(`${server.base}/breakers/orders/state`, { action: 'isolate', duration: '10m' })).status, 200)
    t.is(orders.state, 'forced_open')
    t.false(orders.halfOpen(), 'an isolated breaker does not half-open')
    await timers.tickAsync(600_000 - 1)
    t.is(orders.state, 'forced_open')
    await timers.tickAsync(1)
    t.is(orders.state, 'closed')
  })
})

test.serial('isolating again restarts the isolation; close ends it at once and its timer changes nothing later', async (t) => {
  const { handler, breakers } = handlerOf({ token: TOKEN })
  const orders = breakers.getOrCreate('orders')
  const server = await serve('node:http', handler)
  t.teardown(() => server.close())
  const url = `${server.base}/breakers/orders/state`
  await withFakeTimers(async (timers) => {
    await post(url, { action: 'isolate', duration: '1m' })
    await timers.tickAsync(50_000)
    await post(url, { action: 'isolate', duration: '1m' })
    await timers.tickAsync(50_000)
    t.is(orders.state, 'forced_open', 'the second isolation counts from its own request')
    await post(url, { action: 'close' })
    t.is(orders.state, 'closed')
    orders.forceOpen() // an operator's later forced open is not undone by the old timer
    await timers.tickAsync(120_000)
    t.is(orders.state, 'forced_open')
    t.is(timers.countTimers(), 0, 'no isolation timer is left')
  })
})

test('another method on a known route answers 405 with Allow; an unknown route answers 404 (node:http) or falls through (next)', async (t) => {
  const { handler } = handlerOf({ token: TOKEN })
  const server = await serve('node:http', handler)
  t.teardown(() => server.close())
  for (const [method, path, allow] of [
    ['POST', '/breakers', 'GET'],
    ['DELETE', '/breakers/orders', 'GET'],
    ['PUT', '/breakers/state', 'GET, POST'],
    ['GET', '/breakers/orders/state', 'POST'],
    ['POST', '/health', 'GET'],
    ['POST', '/events', 'GET'],
  ] as const) {
    const reply = await request(`${server.base}${path}`, { method })
    t.is(reply.status, 405, `${method} ${path}`)
    t.is(reply.headers.allow, allow)
  }
  for (const path of ['/', '/breakers/', '/breakers/a/b/c', '/nothing', '/health/x']) {
    t.is((await request(`${server.base}${path}`)).status, 404, path)
  }
  const bad = await request(`${server.base}/breakers/%E0%A4%A`)
  t.is(bad.status, 400)
  t.is(bad.json.message, 'the path is not valid percent-encoded UTF-8')
  let passed = 0
  const next = () => passed++
  handler({ method: 'GET', url: '/elsewhere', headers: {} } as never, {} as never, next)
  t.is(passed, 1, 'a route that is not ours goes to next')
})

test('express: mounted under a path with app.use(path, handler), and other routes fall through to the app', async (t) => {
  const { handler, breakers } = handlerOf()
  breakers.getOrCreate('orders')
  const server = await serve('express', handler, { mount: '/ops' })
  t.teardown(() => server.close())
  t.is((await request(`${server.origin}/ops/breakers/orders`)).status, 200)
  t.deepEqual((await request(`${server.origin}/app/hello`)).json, { hello: 'from express' })
  t.deepEqual((await request(`${server.origin}/ops/nothing`)).json, { error: 'express 404' })
  t.deepEqual((await request(`${server.origin}/breakers/orders`)).json, { error: 'express 404' }, 'nothing outside the mount path')
})

test("fastify: registered under a prefix, next to the app's own routes", async (t) => {
  const { handler, breakers } = handlerOf({ token: TOKEN, prefix: '/breakwater' })
  breakers.getOrCreate('orders')
  const server = await serve('fastify', handler, { mount: '/ops', prefix: '/breakwater' })
  t.teardown(() => server.close())
  t.is((await request(`${server.origin}/ops/breakwater/breakers/orders`)).status, 200)
  t.is((await post(`${server.origin}/ops/breakwater/breakers/orders/state`, { action: 'force_open' })).status, 200)
  t.deepEqual((await request(`${server.origin}/app/hello`)).json, { hello: 'from fastify' })
  t.is((await request(`${server.origin}/breakers/orders`)).status, 404)
})

test('node:http: with a prefix, only paths under it are answered', async (t) => {
  const { handler, breakers } = handlerOf({ prefix: '/ops/v1' })
  breakers.getOrCreate('orders')
  const server = await serve('node:http', handler)
  t.teardown(() => server.close())
  t.is((await request(`${server.origin}/ops/v1/breakers/orders`)).status, 200)
  t.is((await request(`${server.origin}/ops/v1/breakers/orders?pretty=1`)).status, 200, 'a query is ignored')
  t.is((await request(`${server.origin}/breakers/orders`)).status, 404)
  t.is((await request(`${server.origin}/ops/v1x/breakers/orders`)).status, 404)
  t.is((await request(`${server.origin}/ops/breakers/orders`)).status, 404)
})

test.serial('by default every admin action is one JSON line on the console: info when done, warn when refused', async (t) => {
  const r = handlerOf()
  const handler = breakwaterHttp(r.registry, { token: TOKEN })
  r.breakers.getOrCreate('orders')
  const server = await serve('node:http', handler)
  t.teardown(() => server.close())
  const lines: Array<[string, string]> = []
  const { info, warn } = console
  console.info = (line: string) => lines.push(['info', line])
  console.warn = (line: string) => lines.push(['warn', line])
  try {
    await post(`${server.base}/breakers/orders/state`, { action: 'force_open' })
    await post(`${server.base}/breakers/orders/state`, { action: 'close' }, 'wrong')
  } finally {
    Object.assign(console, { info, warn })
  }
  t.deepEqual(
    lines.map(([level, line]) => [level, JSON.parse(line)]),
    [
      [
        'info',
        {
          msg: 'breakwater admin action',
          actor: '127.0.0.1',
          address: '127.0.0.1',
          route: 'POST /breakers/:name/state',
          action: 'force_open',
          breakers: ['orders'],
          duration: null,
          reason: null,
          status: 200,
          result: 'done',
        },
      ],
      [
        'warn',
        {
          msg: 'breakwater admin action',
          actor: '127.0.0.1',
          address: '127.0.0.1',
          route: 'POST /breakers/:name/state',
          action: null,
          breakers: ['orders'],
          duration: null,
          reason: null,
          status: 401,
          result: 'the bearer token is not right',
        },
      ],
    ],
  )
})

test('a request refused before its body is read is answered and its connection closed, the body never drained', async (t) => {
  const { handler, breakers } = handlerOf({ token: TOKEN })
  breakers.getOrCreate('orders')
  const server = await serve('node:http', handler)
  t.teardown(() => server.close())
  const client = rawConnection(server.port)
  t.teardown(() => client.socket.destroy())
  await client.connected
  client.socket.write(
    'POST /breakers/orders/state HTTP/1.1\r\nhost: x\r\nauthorization: Bearer wrong\r\ncontent-type: application/json\r\ncontent-length: 10000000000\r\n\r\n{',
  )
  await client.whenClosed
  t.regex(client.received, /^HTTP\/1\.1 401 /)
  t.regex(client.received, /connection: close/i)
})

test('an error inside the registry answers 500 and is logged; the server goes on', async (t) => {
  const r = handlerOf()
  const logged: any[] = []
  let broken = true
  const flaky = {
    ...r.registry,
    health: () => {
      if (broken) throw new Error('native registry unavailable')
      return r.registry.health()
    },
    names: () => {
      if (broken) throw new Error('native registry unavailable')
      return r.registry.names()
    },
  }
  const handler = breakwaterHttp(flaky, { token: TOKEN, log: (e) => logged.push(e) })
  r.breakers.getOrCreate('orders')
  const server = await serve('node:http', handler)
  t.teardown(() => server.close())
  const list = await request(`${server.base}/breakers`)
  t.is(list.status, 500)
  t.is(list.json.message, 'breakwater could not answer: native registry unavailable')
  const all = await post(`${server.base}/breakers/state`, { action: 'close', all: true })
  t.is(all.status, 500)
  t.like(logged.at(-1), { status: 500, action: 'close', result: 'breakwater could not answer: native registry unavailable' })
  broken = false
  t.is((await request(`${server.base}/breakers`)).status, 200)
})

for (const kind of KINDS) {
  test(`${kind}: clients that vanish at random points of an admin request leave one log entry each, no hang and no unhandled rejection`, async (t) => {
    const { handler, breakers, logged } = handlerOf({ token: TOKEN })
    const orders = breakers.getOrCreate('orders')
    const server = await serve(kind, handler)
    t.teardown(() => server.close())
    const body = JSON.stringify({ action: 'force_open', reason: 'cut anywhere' })
    const head = `POST /breakers/orders/state HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`
    const whole = head + body
    let seed = Number(process.env.OPS_HTTP_SEED ?? Date.now() % 100_000)
    t.log(`seed ${seed} (OPS_HTTP_SEED=${seed} repeats it)`)
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648
    // Every cut in the body and around the end of the headers, and random ones in the headers.
    const cuts = [
      ...Array.from({ length: 10 }, () => Math.floor(random() * head.length)),
      head.length - 1,
      ...Array.from({ length: body.length + 1 }, (_, i) => head.length + i),
    ]
    let expected = 0
    for (const cut of cuts) {
      orders.reset()
      const client = rawConnection(server.port)
      await client.connected
      client.socket.write(whole.slice(0, cut), () => client.socket.destroy())
      await client.whenClosed
      if (cut >= head.length) {
        expected++
        await until(() => logged.length === expected)
        const entry = logged.at(-1)
        if (cut === whole.length) t.like(entry, { status: 200, action: 'force_open' }, `cut at ${cut}`)
        else t.like(entry, { status: 400, action: null, result: 'the request body was cut short' }, `cut at ${cut}`)
        t.is(orders.state, cut === whole.length ? 'forced_open' : 'closed', `cut at ${cut}`)
      }
    }
    t.is(logged.length, expected, 'a request cut inside its headers never reaches the handler')
    t.is((await post(`${server.base}/breakers/orders/state`, { action: 'close' })).status, 200, 'the server still answers')
    t.is(unhandled, 0)
  })
}
