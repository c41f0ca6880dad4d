import test from 'ava'
import { api, isBrokenCircuitError, isHttpError, isTimeoutError, Registry, type GiveUpEvent, type StateChange } from '../src/index.ts'
import { FakeClock } from '../src/testing.ts'
import { startHttpServer, type TestServer } from './servers/http.ts'
import { until, withFakeTimers } from './timers.ts'

let server: TestServer
test.before(async () => {
  server = await startHttpServer()
})
test.after.always(() => server.close())

/** The error a call rejects with, or a note of what it resolved to (not a 4 MB string in a diff). */
const failure = (call: Promise<unknown>) =>
  call.then(
    (value) => ({ resolved: typeof value === 'string' ? `${value.length} characters` : value }),
    (e: unknown) => e,
  )

let next = 0
/** An API client on a fresh breaker in a private registry on a fake clock. */
function client(options: Partial<Parameters<typeof api>[1]> = {}) {
  const clock = new FakeClock()
  const name = `api-${next++}`
  const market = api(name, { baseUrl: server.url, registry: new Registry({ clock }), ...options })
  return { clock, market }
}

test('gets and posts JSON, with query parameters and headers', async (t) => {
  const { market } = client({ headers: { authorization: 'Bearer k' } })
  const quote = await market.get<{ symbol: string; bid: number; query: object; auth: string }>('/quotes/AAPL', { query: { depth: 2, live: true } })
  t.deepEqual(quote, { symbol: 'AAPL', bid: 101.5, query: { depth: '2', live: 'true' }, auth: 'Bearer k' })
  t.like(await market.post('orders', { symbol: 'AAPL', qty: 100 }), { id: 'o-1', received: { symbol: 'AAPL', qty: 100 }, method: 'POST' })
  t.is(await market.get('/text'), 'plain words')
  t.is(await market.delete('/empty'), undefined)
  t.like(market.breaker.metrics(), { successes: 4, failures: 0 })
})

test('5xx responses are failures that open the breaker; then calls are refused without a request', async (t) => {
  const { market } = client({ breaker: { consecutiveFailures: 2 } })
  for (const status of [500, 502]) {
    const error = await t.throwsAsync(market.get(`/status/${status}`))
    t.true(isHttpError(error))
    t.like(error, { status, body: { error: `status ${status}` }, code: 'ERR_BREAKWATER_HTTP' })
  }
  t.is(market.breaker.state, 'open')
  const before = server.hits.get('/quotes/MSFT') ?? 0
  t.true(isBrokenCircuitError(await market.get('/quotes/MSFT').catch((e) => e)))
  t.is(server.hits.get('/quotes/MSFT') ?? 0, before, 'a refused call never reaches the server')
})

test('other 4xx reach the caller as HttpError but are not failures of the API', async (t) => {
  const { market } = client({ breaker: { consecutiveFailures: 2 } })
  for (const status of [400, 401, 404, 409, 422, 404, 400]) {
    t.like(await market.get(`/status/${status}`).catch((e) => e), { status })
  }
  t.is(market.breaker.state, 'closed')
  t.like(market.breaker.metrics(), { failures: 0, successes: 7 })
})

test('a 429 is a failure, and its Retry-After holds the breaker open that long', async (t) => {
  const { clock, market } = client()
  const changes: StateChange[] = []
  market.breaker.onStateChange((c) => changes.push(c))
  const error = await market.get('/status/429', { query: { after: 2 } }).catch((e) => e)
  t.like(error, { status: 429, retryAfterMs: 2000 })
  t.like(market.breaker.metrics(), { failures: 1 })
  t.like(changes, [{ name: market.breaker.name, from: 'closed', to: 'forced_open', reason: 'retry_after', retryAfterMs: 2000 }])
  t.is(changes.length, 1)
  const refused = await market.get('/quotes/AAPL').catch((e) => e)
  t.true(isBrokenCircuitError(refused))
  t.is(isBrokenCircuitError(refused) && refused.retryAfterMs, 2000, "the rejection tells the caller the server's wait")
  clock.advance('2s')
  t.like(await market.get('/quotes/AAPL'), { symbol: 'AAPL' })
  t.like(await market.get('/status/503', { query: { after: 'Wed, 21 Oct 2015 07:28:00 GMT' } }).catch((e) => e), { status: 503, retryAfterMs: 0 })
})

test('network errors are failures: a reset connection and a refused connection', async (t) => {
  const { market } = client({ breaker: { consecutiveFailures: 2 } })
  const reset = await market.get('/reset').catch((e) => e)
  t.true(reset instanceof TypeError, String(reset))
  const closed = await startHttpServer()
  await closed.close()
  const nowhere = api(`api-nowhere-${next++}`, { baseUrl: closed.url, registry: new Registry() })
  const refused = await nowhere.get('/quotes/AAPL').catch((e) => e)
  t.true(refused instanceof TypeError)
  t.like(nowhere.breaker.metrics(), { failures: 1 })
  t.like(market.breaker.metrics(), { failures: 1 })
  const garbled = await market.get('/garbage').catch((e) => e)
  t.true(garbled instanceof SyntaxError, 'an unreadable body is a failure too')
  t.is(market.breaker.state, 'open')
})

test.serial('a request past its timeout is aborted and counted as a failure and a timeout', async (t) => {
  await withFakeTimers(async (timers) => {
    const { market } = client({ timeout: '2s' })
    const call = market.get('/stall')
    const caught = t.throwsAsync(call)
    while ((server.hits.get('/stall') ?? 0) === 0) await new Promise((resolve) => setImmediate(resolve))
    await timers.tickAsync(2000)
    t.true(isTimeoutError(await caught))
    t.like(market.breaker.metrics(), { failures: 1, timeouts: 1 })
  })
})

test("the caller's abort ends the request without counting against the API", async (t) => {
  const { market } = client()
  const controller = new AbortController()
  const call = market.get('/stall', { signal: controller.signal })
  while ((server.hits.get('/stall') ?? 0) === 0) await new Promise((resolve) => setImmediate(resolve))
  controller.abort(new Error('user navigated away'))
  await t.throwsAsync(call, { message: 'user navigated away' })
  t.like(market.breaker.metrics(), { failures: 0, ignored: 1 })
})

test('a retry option of retryOn: undefined keeps the API judgement: a 4xx is not retried', async (t) => {
  const { market } = client({ retry: { maxAttempts: 3, retryOn: undefined, backoff: { strategy: 'constant', base: 0 } } })
  t.like(await market.get('/status/409').catch((e) => e), { status: 409 })
  t.is(server.hits.get('/status/409'), 1)
})

test('retries idempotent requests only', async (t) => {
  const { market } = client({ retry: { maxAttempts: 3, backoff: { strategy: 'constant', base: 0 } }, breaker: { consecutiveFailures: 10 } })
  t.like(await market.get('/flaky/2'), { ok: true, after: 2 })
  t.is(server.hits.get('/flaky/2'), 3)
  t.like(market.retry!.stats(), { retries: 2 })
  const post = await market.post('/status/504').catch((e) => e)
  t.like(post, { status: 504 })
  t.is(server.hits.get('/status/504'), 1, 'the POST was not retried')
})

test.serial('a retry waits at least the Retry-After the server asked for', async (t) => {
  await withFakeTimers(async (timers) => {
    const { market } = client({ honorRetryAfter: false, retry: { maxAttempts: 2, backoff: { strategy: 'constant', base: 10 } } })
    const delays: number[] = []
    market.retry!.onRetry((e) => delays.push(e.delayMs))
    const call = market.get('/status/429', { query: { after: 3 } }).catch((e) => e)
    while (delays.length === 0) await new Promise((resolve) => setImmediate(resolve))
    t.deepEqual(delays, [3000])
    await timers.tickAsync(3000)
    t.like(await call, { status: 429 })
  })
})

test('bad options say what was expected', (t) => {
  t.throws(() => api('x', undefined as never), { instanceOf: TypeError, message: /^api options must be an object/ })
  t.throws(() => api('x', { baseUrl: 'not a url' }), { instanceOf: TypeError, message: 'baseUrl must be an absolute http(s) URL, but was "not a url"' })
  t.throws(() => api('x', { baseUrl: 'ftp://files.example.com' }), { instanceOf: TypeError, message: /^baseUrl must be an absolute http\(s\) URL/ })
  t.throws(() => api('x', { baseUrl: server.url, timeout: -1, registry: new Registry() }), { instanceOf: RangeError, message: /^timeout must be/ })
})

test('a Retry-After of a year holds the breaker open for maxRetryAfter at most, and the caller gets the HttpError', async (t) => {
  const { clock, market } = client()
  const error = await market.get('/status/429', { query: { after: 31_536_000 } }).catch((e) => e)
  t.true(isHttpError(error), String(error))
  t.like(error, { status: 429, retryAfterMs: 300_000 })
  const refused = await market.get('/quotes/AAPL').catch((e) => e)
  t.true(isBrokenCircuitError(refused))
  t.is(isBrokenCircuitError(refused) && refused.retryAfterMs, 300_000, 'held for the default maxRetryAfter of 5 minutes')
  clock.advance('5m')
  t.like(await market.get('/quotes/AAPL'), { symbol: 'AAPL' })

  const { market: short } = client({ maxRetryAfter: '30s' })
  t.like(await short.get('/status/503', { query: { after: 3600 } }).catch((e) => e), { status: 503, retryAfterMs: 30_000 })
})

test('a Retry-After too big for any timer is capped too, never turned into our own option error', async (t) => {
  for (const after of ['99999999999999999999', '9'.repeat(400)]) {
    const { market } = client()
    const error = await market.get('/status/503', { query: { after } }).catch((e) => e)
    t.true(isHttpError(error), String(error))
    t.like(error, { status: 503, retryAfterMs: 300_000 })
  }
})

test('a Retry-After we cannot read (negative, garbage, a number in disguise) is ignored: no hold-off, no retryAfterMs', async (t) => {
  for (const after of ['-5', 'soon', '1.5', '1e3', '0x10', 'Tomorrow', 'Sun garbage', '']) {
    const { market } = client()
    const error: unknown = await market.get('/status/429', { query: { after } }).catch((e) => e)
    t.true(isHttpError(error), `${after}: ${String(error)}`)
    t.is(isHttpError(error) && error.retryAfterMs, undefined, `Retry-After: ${after}`)
    t.is(market.breaker.state, 'closed', `Retry-After: ${after}`)
  }
  const { market } = client()
  const past = await market.get('/status/429', { query: { after: 'Wed, 21 Oct 2015 07:28:00 GMT' } }).catch((e) => e)
  t.like(past, { status: 429, retryAfterMs: 0 })
  t.is(market.breaker.state, 'closed', 'a date in the past asks for no wait: the breaker is not held')
})

test('Retry-After is read only from a 429 or a 503: a 500 that carries one is retried on the backoff', async (t) => {
  const { market } = client({ retry: { maxAttempts: 2, backoff: { strategy: 'constant', base: 0 } } })
  const error = await market.get('/status/500', { query: { after: 3600 } }).catch((e) => e)
  t.like(error, { status: 500, retryAfterMs: undefined })
  t.like(market.retry!.stats(), { retries: 1 })
  t.is(market.breaker.state, 'closed')
})

test('a retry never waits past its backoff max for a Retry-After: it gives up at once with reason retry_after_too_long', async (t) => {
  const { market } = client({ honorRetryAfter: false, retry: { maxAttempts: 3, backoff: { strategy: 'constant', base: 0, max: '10s' } } })
  const giveUps: GiveUpEvent[] = []
  market.retry!.onGiveUp((e) => giveUps.push(e))
  const error = await market.get('/status/429', { query: { after: 3600 } }).catch((e) => e)
  t.like(error, { status: 429, retryAfterMs: 300_000 })
  t.like(giveUps, [{ attempts: 1, reason: 'retry_after_too_long' }])
})

test('a body past maxResponseBytes rejects with ERR_BREAKWATER_RESPONSE_TOO_LARGE, counts as a failure and cuts the connection', async (t) => {
  const { market } = client({ maxResponseBytes: 1_048_576 })
  const declared = await failure(market.get('/big/4194304'))
  t.like(declared, { name: 'ResponseTooLargeError', code: 'ERR_BREAKWATER_RESPONSE_TOO_LARGE', status: 200, limit: 1_048_576 })
  const chunked = await failure(market.get('/big/4194305', { query: { declare: 'no' } }))
  t.like(chunked, { code: 'ERR_BREAKWATER_RESPONSE_TOO_LARGE', status: 200, limit: 1_048_576 })
  const errorBody = await failure(market.get('/big/4194306', { query: { status: 404 } }))
  t.like(errorBody, { code: 'ERR_BREAKWATER_RESPONSE_TOO_LARGE', status: 404 }, 'whatever the status')
  t.like(market.breaker.metrics(), { failures: 3, successes: 0 })
  await until(() => ['/big/4194304', '/big/4194305', '/big/4194306'].every((path) => server.cut.get(path) === 1))
  t.pass('the server saw each of the three downloads abandoned')
  t.is(await market.get('/big/1048576'), 'a'.repeat(1_048_576), 'a body of exactly the limit is read')
})

test.serial('memory stays bounded when a server sends 64 MB or an endless body: reading stops at the default 8 MiB', async (t) => {
  const { market } = client({ timeout: '60s' })
  const before = process.memoryUsage().rss
  for (const [path, query] of [
    ['/big/67108864', {}],
    ['/big/67108864', { declare: 'no' }],
    ['/big/endless', {}],
  ] as const) {
    const outcome = await market.get(path, { query }).then(
      (body) => `resolved with ${String(body).length} characters`,
      (e: { code?: string; limit?: number }) => `${e.code} ${e.limit}`,
    )
    t.is(outcome, `ERR_BREAKWATER_RESPONSE_TOO_LARGE ${8 * 1_048_576}`, `${path} ${JSON.stringify(query)}`)
  }
  const grownMb = (process.memoryUsage().rss - before) / 1_048_576
  t.log(`RSS grew ${grownMb.toFixed(1)} MB`)
  t.true(grownMb < 96, `RSS grew ${grownMb.toFixed(1)} MB reading three 64 MB+ bodies`)
})

test('caller bugs reject before the request leaves and never count against the API', async (t) => {
  const { market } = client({ breaker: { consecutiveFailures: 2 } })
  const cyclic: Record<string, unknown> = {}
  cyclic.self = cyclic
  const bugs: Array<[string, () => Promise<unknown>, RegExp]> = [
    ['a BigInt body', () => market.post('/never', { qty: 10n }), /^body must be serializable as JSON/],
    ['a cyclic body', () => market.post('/never', cyclic), /^body must be serializable as JSON/],
    ['a function body', () => market.post('/never', () => 1), /^body must be serializable as JSON, but was a function/],
    [
      'a body that throws',
      () =>
        market.post('/never', {
          toJSON: () => {
            throw Object.create(null)
          },
        }),
      /^body must be serializable as JSON/,
    ],
    ['an invalid header name', () => market.get('/never', { headers: { 'bad name': 'x' } }), /^headers\["bad name"\] is not a valid header name/],
    ['a header value with a newline', () => market.get('/never', { headers: { 'x-a': 'one\r\nx-b: two' } }), /^headers\["x-a"\] is not a valid header value/],
    ['a header value outside Latin-1', () => market.get('/never', { headers: { 'x-a': '日本' } }), /^headers\["x-a"\] is not a valid header value/],
    [
      'a header value that is not a string',
      () => market.get('/never', { headers: { 'x-a': 5 as unknown as string } }),
      /^headers\["x-a"\] must be a string, but was 5/,
    ],
    [
      'a header fetch sets itself',
      () => market.post('/never', {}, { headers: { 'Transfer-Encoding': 'chunked' } }),
      /^headers\["Transfer-Encoding"\] cannot be given: fetch sets /,
    ],
    ['an Expect header', () => market.get('/never', { headers: { expect: '100-continue' } }), /^headers\["expect"\] cannot be given/],
    ['headers that are not an object', () => market.get('/never', { headers: 'x-a: 1' as never }), /^headers must be an object/],
    [
      'a query value that is an object',
      () => market.get('/never', { query: { a: {} as never } }),
      /^query\["a"\] must be a string, a finite number or a boolean, but was an object/,
    ],
    ['a query value that is undefined', () => market.get('/never', { query: { a: undefined as never } }), /^query\["a"\] must be/],
    ['a query value that is NaN', () => market.get('/never', { query: { a: Number.NaN } }), /^query\["a"\] must be/],
    ['a method with a space', () => market.request({ method: 'GET /x', path: '/never' }), /^method must be an HTTP method/],
    ['a method fetch forbids', () => market.request({ method: 'CONNECT', path: '/never' }), /^method must be an HTTP method/],
    ['a method that is not a string', () => market.request({ method: 7 as never, path: '/never' }), /^method must be/],
    ['a GET with a body', () => market.request({ method: 'GET', path: '/never', body: { a: 1 } }), /^a GET request cannot have a body/],
    ['a path that is not a string', () => market.get(42 as never), /^path must be a string, but was 42/],
    ['a signal that is not one', () => market.get('/never', { signal: 'stop' as never }), /^signal must be an AbortSignal/],
  ]
  for (const [what, call, message] of bugs) {
    let promise: Promise<unknown> | undefined
    t.notThrows(() => void (promise = call()), `${what}: rejects, never throws`)
    const error = await promise!.then(
      () => undefined,
      (e: unknown) => e,
    )
    t.true(error instanceof TypeError || error instanceof RangeError, `${what}: ${String(error)}`)
    t.like(error, { code: 'ERR_BREAKWATER_INVALID_OPTION' }, what)
    t.regex((error as Error).message, message, what)
  }
  t.is(server.hits.get('/never'), undefined, 'no request left')
  t.like(market.breaker.metrics(), { calls: 0, failures: 0, state: 'closed' })
})

test('a header fetch refuses or drops (connection: upgrade, host, a control character) rejects with our TypeError before the request leaves, never counted; whatever else is accepted reaches the server', async (t) => {
  const { market } = client({ breaker: { consecutiveFailures: 1 } })
  const refused: Array<[Record<string, string>, RegExp]> = [
    [{ connection: 'upgrade' }, /^headers\["connection"\] must be close or keep-alive \(fetch manages the connection itself\), but was "upgrade"$/],
    [{ Connection: 'keep-alive, Upgrade' }, /^headers\["Connection"\] must be close or keep-alive/],
    [{ connection: 'x-custom' }, /must be close or keep-alive/],
    [{ connection: '' }, /must be close or keep-alive/],
    [{ host: 'example.com' }, /^headers\["host"\] cannot be given: fetch sets .*host itself$/],
    [{ 'Content-Length': '0' }, /^headers\["Content-Length"\] cannot be given/],
    [{ upgrade: 'websocket' }, /cannot be given/],
  ]
  // Every byte in a header value: what Headers accepts but undici refuses (control characters).
  for (let code = 0; code < 256; code++) {
    if (code === 9 || (code >= 0x20 && code !== 0x7f)) continue
    refused.push([
      { 'x-a': `a${String.fromCharCode(code)}b` },
      /^headers\["x-a"\] is not a valid header value \(Latin-1 text without control characters but tab\)/,
    ])
  }
  const before = server.hits.get('/echo') ?? 0
  for (const [headers, message] of refused) {
    const error = await failure(market.get('/echo', { headers }))
    t.like(error, { name: 'TypeError', code: 'ERR_BREAKWATER_INVALID_OPTION' }, JSON.stringify(headers))
    t.regex((error as Error).message, message, JSON.stringify(headers))
    // The same header as a default of the client is refused when it is made.
    t.throws(() => api(`hdr-${next++}`, { baseUrl: server.url, registry: new Registry(), headers }), { code: 'ERR_BREAKWATER_INVALID_OPTION', message })
  }
  t.is(server.hits.get('/echo') ?? 0, before, 'no refused request left')
  t.is(market.breaker.state, 'closed')
  t.like(market.breaker.metrics(), { calls: 0, failures: 0 })

  // What is accepted, fetch sends: every other byte, tab, and the connection values undici takes.
  const accepted: Array<Record<string, string>> = [{ connection: 'close' }, { Connection: ' Keep-Alive ' }, { 'x-a': 'tab\there' }, { 'x-a': 'Latin-1 é ÿ' }]
  for (let code = 0x20; code < 256; code++) if (code !== 0x7f) accepted.push({ 'x-a': `a${String.fromCharCode(code)}b` })
  for (const headers of accepted) {
    const echo = await market.get<{ headers: Record<string, string> }>('/echo', { headers })
    const [name, value] = Object.entries(headers)[0]!
    if (name === 'x-a') t.is(echo.headers['x-a'], value, JSON.stringify(headers))
  }
  t.like(market.breaker.metrics(), { successes: accepted.length, failures: 0 })
})

test('every request method rejects, never throws, whatever it is given', async (t) => {
  const { market } = client()
  const calls: Array<[string, () => Promise<unknown>]> = [
    ['request({})', () => market.request({} as never)],
    ['request(null)', () => market.request(null as never)],
    ['request()', () => (market.request as () => Promise<unknown>)()],
    ['request({ method, path, typo })', () => market.request({ method: 'GET', path: '/never', qeury: {} } as never)],
    ['get(path, "options")', () => market.get('/never', 'options' as never)],
    ['get(path, null)', () => market.get('/never', null as never)],
    ['get(path, { signl })', () => market.get('/never', { signl: new AbortController().signal } as never)],
    ['get(path, signal)', () => market.get('/never', new AbortController().signal as never)],
    ['post(path, body, { typo })', () => market.post('/never', {}, { header: {} } as never)],
    ['delete()', () => (market.delete as () => Promise<unknown>)()],
  ]
  for (const [what, call] of calls) {
    let promise: Promise<unknown> | undefined
    t.notThrows(() => void (promise = call()), what)
    const error = await promise!.catch((e: unknown) => e)
    t.true(error instanceof TypeError, `${what}: ${String(error)}`)
    t.like(error, { code: 'ERR_BREAKWATER_INVALID_OPTION' }, what)
  }
  t.regex(
    (await market.get('/never', { signl: 1 } as never).catch((e: Error) => e.message)) as string,
    /^signl is not a request option \(known: signal, headers, query\)$/,
  )
  t.is(server.hits.get('/never'), undefined)
  t.like(market.breaker.metrics(), { calls: 0 })
})

test('api options are read as own properties: typos, null and inherited options are refused, and nothing is created', (t) => {
  const registry = new Registry()
  const base = { baseUrl: server.url, registry }
  const refused: Array<[string, unknown, RegExp]> = [
    ['null options', null, /^api options must be an object/],
    ['a typo', { ...base, tmeout: '1s' }, /^tmeout is not an api option \(known: baseUrl, /],
    ['inherited baseUrl', Object.assign(Object.create({ baseUrl: server.url }), { registry }), /^baseUrl must be an absolute http\(s\) URL, but was undefined/],
    ['a retry typo', { ...base, retry: { maxAtempts: 3 } }, /^maxAtempts is not a retry option/],
    ['a backoff typo', { ...base, retry: { backoff: { bse: 10 } } }, /^bse is not a backoff option/],
    ['a budget typo', { ...base, retry: { budget: { ratoi: 0.1 } } }, /^ratoi is not a budget option/],
    ['null retry', { ...base, retry: null }, /^retry must not be null: leave it out for its default$/],
    ['a breaker typo', { ...base, breaker: { consecutiveFailure: 3 } }, /^consecutiveFailure is not a breaker option/],
    ['a breaker timeout', { ...base, breaker: { timeout: '1s' } }, /^timeout is not a breaker option \(the adapter sets its own timeout\)/],
    ['a breaker isFailure', { ...base, breaker: { isFailure: () => true } }, /^isFailure is not a breaker option \(the adapter sets its own isFailure\)/],
    ['null breaker', { ...base, breaker: null }, /^breaker must not be null: leave it out for its default$/],
    ['bad headers', { ...base, headers: { 'a b': 'c' } }, /^headers\["a b"\] is not a valid header name/],
    ['a managed header', { ...base, headers: { 'keep-alive': 'timeout=5' } }, /^headers\["keep-alive"\] cannot be given/],
    [
      'credentials in baseUrl',
      { ...base, baseUrl: 'http://user:secret@127.0.0.1:1' },
      /^baseUrl must not carry credentials \(fetch refuses them\): send them in an authorization header$/,
    ],
    ['a query in baseUrl', { ...base, baseUrl: 'http://127.0.0.1:1/v1?key=1' }, /^baseUrl must have no query or fragment/],
    ['a non-boolean honorRetryAfter', { ...base, honorRetryAfter: 'no' }, /^honorRetryAfter must be true or false/],
    ['a non-function isFailure', { ...base, isFailure: 'yes' }, /^isFailure must be a function/],
    ['a negative maxRetryAfter', { ...base, maxRetryAfter: -1 }, /^maxRetryAfter must be/],
    ['a maxRetryAfter of a year', { ...base, maxRetryAfter: '8760h' }, /^maxRetryAfter must be at most/],
    ['a fractional maxResponseBytes', { ...base, maxResponseBytes: 1.5 }, /^maxResponseBytes must be a whole number/],
    ['an infinite maxResponseBytes', { ...base, maxResponseBytes: Infinity }, /^maxResponseBytes must be a whole number/],
    ['a registry that is not one', { ...base, registry: {} }, /^registry must be a Registry/],
  ]
  for (const [what, options, message] of refused) {
    const error = t.throws(() => api(`refused-${what}`, options as never), undefined, what)
    t.true(error instanceof TypeError || error instanceof RangeError, `${what}: ${String(error)}`)
    t.like(error, { code: 'ERR_BREAKWATER_INVALID_OPTION' }, what)
    t.regex(error!.message, message, what)
  }
  t.deepEqual(registry.names(), [], 'no breaker was left behind by refused options')
})

test.serial('a polluted Object.prototype changes no api option', async (t) => {
  const proto = Object.prototype as Record<string, unknown>
  proto.timeout = -1
  proto.maxResponseBytes = 1
  proto.honorRetryAfter = false
  let market: ReturnType<typeof client>['market']
  try {
    market = client().market
  } finally {
    delete proto.timeout
    delete proto.maxResponseBytes
    delete proto.honorRetryAfter
  }
  t.like(await market.get('/quotes/AAPL'), { symbol: 'AAPL' })
  await market.get('/status/429', { query: { after: 2 } }).catch(() => {})
  t.is(market.breaker.state, 'forced_open', 'Retry-After still honoured')

  // Per-call options too: a request without options reads nothing inherited. (A polluted body is
  // refused: see the RequestInit spec.)
  const sent: string[] = []
  const { market: other } = client({
    fetch: async (url, init) => {
      sent.push(String(url), [...new Headers(init?.headers).keys()].join(','))
      await null
      return fetch(url, init)
    },
  })
  proto.query = { polluted: 'yes' }
  proto.headers = { authorization: 'polluted' }
  let call: Promise<unknown>
  try {
    call = other.get('/quotes/MSFT') // checked and built synchronously, before the prototype is cleaned
  } finally {
    delete proto.query
    delete proto.headers
  }
  t.deepEqual(await call, { symbol: 'MSFT', bid: 101.5, query: {}, auth: null })
  t.deepEqual(sent, [`${server.url}/quotes/MSFT`, 'accept'])
})

/** A hostile value for every field of RequestInit (the fetch standard's, and undici's dispatcher). */
const POLLUTED_INIT: Record<string, unknown> = {
  method: 'DELETE',
  headers: { 'x-polluted': 'yes' },
  body: '{}',
  referrer: 'http://evil.example/',
  referrerPolicy: 'bogus',
  mode: 'navigate',
  credentials: 'bogus',
  cache: 'only-if-cached',
  redirect: 'bogus',
  integrity: 'sha256-x',
  keepalive: 'yes',
  signal: AbortSignal.abort(new Error('polluted signal')),
  window: 'polluted',
  duplex: 'bogus',
  priority: 'bogus',
  dispatcher: {
    dispatch: () => {
      throw new Error('polluted dispatcher')
    },
  },
}

test.serial(
  'a polluted Object.prototype never reaches fetch: with any RequestInit field polluted a GET and a POST go out as asked, and body, signal and dispatcher (which fetch itself reads through the prototype) reject with our TypeError before sending; nothing counts as a failure',
  async (t) => {
    const { market } = client({ breaker: { consecutiveFailures: 1 } })
    const proto = Object.prototype as Record<string, unknown>
    const refused = new Set(['body', 'signal', 'dispatcher'])
    const sends = [
      ['GET', () => market.get<Record<string, unknown>>('/echo')],
      ['POST', () => market.post<Record<string, unknown>>('/echo', { a: 1 })],
    ] as const
    const fields = [...Object.keys(POLLUTED_INIT).map((key) => [key]), Object.keys(POLLUTED_INIT).filter((key) => !refused.has(key))]
    let sent = 0
    for (const keys of fields) {
      for (const [method, send] of sends) {
        const what = `${method} with Object.prototype.${keys.join(', .')} polluted`
        for (const key of keys) proto[key] = POLLUTED_INIT[key]
        let call: Promise<unknown>
        try {
          call = send()
          if (keys.length === 1 && refused.has(keys[0]!)) {
            // Refused synchronously: the pollution goes before anything is awaited (Node.js streams read `signal` too).
            for (const key of keys) delete proto[key]
            const error = await failure(call)
            t.like(error, { name: 'TypeError', code: 'ERR_BREAKWATER_INVALID_OPTION' }, what)
            t.regex((error as Error).message, new RegExp(`^Object\\.prototype\\.${keys[0]} is set \\(prototype pollution\\)`), what)
            continue
          }
          const echo = (await call) as { method: string; body: string; headers: Record<string, string> }
          sent++
          t.is(echo.method, method, what)
          t.is(echo.body, method === 'POST' ? '{"a":1}' : '', what)
          t.is(echo.headers['x-polluted'], undefined, what)
          t.is(echo.headers.referer, undefined, what)
        } catch (error) {
          t.fail(`${what}: ${String(error)}`)
        } finally {
          for (const key of keys) delete proto[key]
        }
      }
    }
    t.like(market.breaker.metrics(), { successes: sent, failures: 0 })
    t.is(market.breaker.state, 'closed')
  },
)

test.serial("a polluted Object.prototype.retryOn does not replace the API's judgement: a 404 is still not retried", async (t) => {
  const proto = Object.prototype as Record<string, unknown>
  proto.retryOn = () => true
  let market: ReturnType<typeof client>['market']
  try {
    market = client({ retry: { maxAttempts: 3, backoff: { strategy: 'constant', base: 0 } } }).market
  } finally {
    delete proto.retryOn
  }
  t.like(await failure(market.get('/status/404')), { status: 404 })
  t.is(server.hits.get('/status/404'), 1, 'not retried')
})

test('per-call headers replace the default ones whatever their case', async (t) => {
  const { market } = client({ headers: { 'X-Team': 'a' } })
  const echo = await market.post<{ headers: Record<string, string> }>(
    '/echo',
    { a: 1 },
    { headers: { Accept: 'text/plain', 'x-team': 'b', 'Content-Type': 'application/vnd.x+json' } },
  )
  t.like(echo.headers, { accept: 'text/plain', 'x-team': 'b', 'content-type': 'application/vnd.x+json' })
})

test('an error status with an unreadable JSON body is still an HttpError, judged by its status', async (t) => {
  const { market } = client()
  const error = await market.get('/garbage', { query: { status: 404 } }).catch((e) => e)
  t.true(isHttpError(error), String(error))
  t.like(error, { status: 404, body: '{"truncated":' })
  t.like(market.breaker.metrics(), { failures: 0, successes: 1 })
})

test('a body past maxResponseBytes is not retried: asking again would download it again', async (t) => {
  const { market } = client({ maxResponseBytes: 65_536, retry: { maxAttempts: 3, backoff: { strategy: 'constant', base: 0 } } })
  t.like(await failure(market.get('/big/262144')), { code: 'ERR_BREAKWATER_RESPONSE_TOO_LARGE' })
  t.is(server.hits.get('/big/262144'), 1)
  t.like(market.retry!.stats(), { retries: 0, givenUp: 1 })
})

test('a compressed body is limited by its decoded size: a small gzip of many megabytes is cut off', async (t) => {
  const { market } = client({ maxResponseBytes: 1_048_576 })
  t.like(await failure(market.get('/gzip/16777216')), { code: 'ERR_BREAKWATER_RESPONSE_TOO_LARGE', limit: 1_048_576 })
  t.is(await market.get('/gzip/1000'), 'a'.repeat(1000))
})
