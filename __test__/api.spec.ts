import test from 'ava'
import { api, isBrokenCircuitError, isHttpError, isTimeoutError, Registry, type StateChange } from '../src/index.ts'
import { FakeClock } from '../src/testing.ts'
import { startHttpServer, type TestServer } from './servers/http.ts'
import { withFakeTimers } from './timers.ts'

let server: TestServer
test.before(async () => {
  server = await startHttpServer()
})
test.after.always(() => server.close())

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
  t.deepEqual(changes, [{ from: 'closed', to: 'forced_open', reason: 'retry_after' }])
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
