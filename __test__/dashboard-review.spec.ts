// An adversarial review of the dashboard (GET <prefix>/dashboard of breakwater/http), in a real
// Chromium and over raw HTTP: names a browser resolves out of a path, a router that ignores
// trailing slashes, a /breakers that answers garbage, a name that reverses text, another origin,
// path tricks, and breakers removed and added again. Every wait is bounded and waits for a real event.
import test from 'ava'
import Fastify from 'fastify'
import { createServer, type IncomingMessage, request as httpRequest, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { Browser, Page } from 'playwright-core'
import { bulkhead, Registry, retry, type StateChange } from '../src/index.ts'
import { ACT_TIMEOUT_MS } from '../src/ops/dashboard/client/api.ts'
import { count } from '../src/ops/dashboard/client/format.ts'
import { Model, REMOVED_KEPT_MS } from '../src/ops/dashboard/client/model.ts'
import { type BreakerView, breakwaterFastify, breakwaterHttp } from '../src/ops/http.ts'
import { launchChromium, watch, withChromium } from './servers/chromium.ts'

const browserTest = withChromium(test)
let browser: Browser

browserTest.before(async () => {
  browser = await launchChromium()
})
browserTest.after.always(async () => {
  await browser?.close()
})

const TOKEN = 'review-t0ken'
const CSP = "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'"
const card = (name: string) => `.card[data-name=${JSON.stringify(name)}]`

type Listener = (req: IncomingMessage, res: ServerResponse) => void

/** A node:http server of `listener` on loopback; `close` cuts open connections (event streams). */
async function listen(listener: Listener) {
  const server: Server = createServer(listener)
  const sockets = new Set<Socket>()
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}

/** Opens `url` in a new page and waits for the first read to be drawn. */
async function openPage(t: { teardown(fn: () => unknown): void }, url: string, origin: string) {
  const page = await browser.newPage()
  t.teardown(() => page.close())
  const trouble = watch(page, origin)
  await page.goto(url)
  await page.waitForSelector('#summary[data-shown]', { timeout: 10_000 })
  return { page, trouble }
}

function cardIn(page: Page, name: string, state: string, timeout = 5000) {
  return page.waitForSelector(`${card(name)}[data-state="${state}"]`, { timeout })
}

/** Clicks `action` on the card of `name` and waits for the admin answer; its status. */
async function click(page: Page, name: string, action: string): Promise<number> {
  const answered = page.waitForResponse((r) => r.request().method() === 'POST', { timeout: 5000 })
  await page.click(`${card(name)} button[data-action="${action}"]`)
  return (await answered).status()
}

/** A raw GET or other method: the path goes out exactly as written (no normalizing of `..`). */
function raw(origin: string, method: string, path: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${origin}/`, { method, path, timeout: 5000 }, (res) => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers }))
    })
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} did not answer`)))
    req.on('error', reject)
    req.end()
  })
}

browserTest.serial(
  'breakers named . and .. are forced open, closed and isolated by their buttons, and the token reaches no route but the admin one',
  async (t) => {
    const breakers = new Registry()
    for (const name of ['.', '..', '%2e', 'orders']) breakers.getOrCreate(name)
    const handler = breakwaterHttp(breakers, { prefix: '/ops', token: TOKEN, log: false })
    t.teardown(() => handler.close())
    // What the handler leaves to the app (`next`): it must never see the bearer token.
    const elsewhere: string[] = []
    const server = await listen((req, res) =>
      handler(req, res, () => {
        if (req.headers.authorization) elsewhere.push(`${req.method} ${req.url}`)
        res.writeHead(404).end()
      }),
    )
    t.teardown(() => server.close())
    const { page } = await openPage(t, `${server.origin}/ops/dashboard`, server.origin)
    await page.fill('#token', TOKEN)
    await page.click('#token-use')
    for (const name of ['.', '..', '%2e']) {
      await page.waitForSelector(`${card(name)} button[data-action="force_open"]`, { timeout: 5000 })
      t.is(await click(page, name, 'force_open'), 200, `${name}: force_open answered`)
      t.is(breakers.get(name)!.state, 'forced_open', `${name} forced open on the server`)
      await cardIn(page, name, 'forced_open')
      t.is(await page.textContent('#toast'), `${name}: closed → forced_open (force open)`)
      t.is(await click(page, name, 'close'), 200)
      t.is(breakers.get(name)!.state, 'closed', `${name} closed on the server`)
      t.is(await click(page, name, 'isolate'), 200)
      t.is(breakers.get(name)!.state, 'forced_open', `${name} isolated`)
    }
    t.is(breakers.get('orders')!.state, 'closed', 'no other breaker was touched')
    t.deepEqual(elsewhere, [], 'no request with the token went anywhere but the admin route')
  },
)

browserTest.serial('a breaker name with a right-to-left override does not reverse the rest of the toast: the name is isolated in a <bdi>', async (t) => {
  const name = 'x\u202edesolc'
  const breakers = new Registry()
  breakers.getOrCreate(name)
  const handler = breakwaterHttp(breakers, { prefix: '/ops', token: TOKEN, log: false })
  t.teardown(() => handler.close())
  const server = await listen(handler)
  t.teardown(() => server.close())
  const { page, trouble } = await openPage(t, `${server.origin}/ops/dashboard`, server.origin)
  await page.fill('#token', TOKEN)
  await page.click('#token-use')
  t.is(await click(page, name, 'force_open'), 200)
  await page.waitForSelector('#toast:not([hidden])', { timeout: 5000 })
  t.is(await page.textContent('#toast bdi'), name, 'the name alone is isolated')
  t.is(await page.textContent('#toast'), `${name}: closed → forced_open (force open)`)
  t.deepEqual(trouble.pageErrors, [])
})

browserTest.serial(
  "under Fastify with ignoreTrailingSlash, /ops/dashboard/ redirects to /ops/dashboard (the page's relative links need it) and the page draws",
  async (t) => {
    const breakers = new Registry()
    const orders = breakers.getOrCreate('orders')
    const handler = breakwaterHttp(breakers, { log: false })
    const app = Fastify({ routerOptions: { ignoreTrailingSlash: true } })
    await app.register(breakwaterFastify(handler), { prefix: '/ops' })
    await app.listen({ host: '127.0.0.1', port: 0 })
    t.teardown(() => app.close())
    const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
    const answer = await raw(origin, 'GET', '/ops/dashboard/')
    t.is(answer.status, 308)
    t.is(answer.headers.location, '../dashboard')
    const { page, trouble } = await openPage(t, `${origin}/ops/dashboard/`, origin)
    t.is(new URL(page.url()).pathname, '/ops/dashboard')
    await cardIn(page, 'orders', 'closed')
    await page.waitForSelector('#live[data-status="live"]', { timeout: 5000 })
    orders.forceOpen(60_000)
    await cardIn(page, 'orders', 'forced_open')
    t.deepEqual(trouble, { consoleErrors: [], pageErrors: [], failedRequests: [], foreignRequests: [] })
  },
)

const T0 = Date.parse('2026-01-01T00:00:00.000Z')
const view = (name: string, state = 'closed'): BreakerView =>
  ({
    name,
    state,
    since: new Date(T0).toISOString(),
    retryAfterMs: null,
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
  }) as BreakerView

test('the page model refuses a read that is not a list of breaker views, whole, saying what is wrong, and changes nothing', (t) => {
  const model = new Model()
  model.applyPoll([view('orders')], 0, 0, T0)
  const bad: [unknown, RegExp][] = [
    [undefined, /no list of breakers/],
    [[null], /breakers\[0\] is not an object/],
    [[view('orders'), { ...view('x'), name: undefined }], /breakers\[1\] has no name/],
    [[{ ...view('orders'), state: 'exploded' }], /breakers\[0\] has an unknown state \(exploded\)/],
    [[{ ...view('orders'), state: 'removed' }], /unknown state \(removed\)/],
    [[{ ...view('orders'), since: 'yesterday' }], /breakers\[0\] has no valid since/],
    [[{ ...view('orders'), calls: '5', failureRate: null }], /breakers\[0\] has no number for calls, failureRate/],
    [[{ ...view('orders'), latency: { count: 1 } }], /latency without count and p99/],
  ]
  for (const [views, message] of bad) {
    t.throws(() => model.applyPoll(views as BreakerView[], 10, 10, T0 + 10), { instanceOf: TypeError, message })
  }
  t.deepEqual([...model.entries.keys()], ['orders'], 'no entry made')
  t.is(model.entries.get('orders')!.state, 'closed', 'nothing applied')
  t.deepEqual(model.entries.get('orders')!.timeline, [])
})

browserTest.serial(
  'a /breakers that answers garbage (a proxy page, no list, an unknown state, a breaker without a name) shows a banner, never throws in the page, makes no card, and the page draws again once the answers are right',
  async (t) => {
    const breakers = new Registry()
    breakers.getOrCreate('orders')
    const handler = breakwaterHttp(breakers, { prefix: '/ops', log: false })
    t.teardown(() => handler.close())
    let garbage: string | undefined
    const server = await listen((req, res) => {
      if (req.url === '/ops/breakers' && garbage !== undefined) {
        res.writeHead(200, { 'content-type': garbage.startsWith('<') ? 'text/html' : 'application/json' }).end(garbage)
        return
      }
      handler(req, res)
    })
    t.teardown(() => server.close())
    const { page, trouble } = await openPage(t, `${server.origin}/ops/dashboard`, server.origin)
    const since = new Date().toISOString()
    const bodies = [
      '<html><body>502 Bad Gateway</body></html>',
      '{}',
      JSON.stringify({ breakers: [{ ...view('orders'), state: 'exploded', since }] }),
      JSON.stringify({ breakers: [view('orders'), { ...view('ghost'), name: undefined }] }),
    ]
    for (const body of bodies) {
      garbage = body
      await page.waitForSelector('#banner:not([hidden])', { timeout: 5000 })
      garbage = undefined
      await page.waitForSelector('#banner', { state: 'hidden', timeout: 5000 })
      t.deepEqual(
        await page.$$eval('.card', (cards) => cards.map((c) => `${(c as HTMLElement).dataset.name} ${(c as HTMLElement).dataset.state}`)),
        ['orders closed'],
        body,
      )
      t.deepEqual(await page.$$eval(`${card('orders')} .timeline li`, (lis) => lis.length), 0, 'no transition made up')
    }
    t.deepEqual(trouble.pageErrors, [], 'no error thrown in the page')
    t.regex((await page.textContent('#summary')) ?? '', /^1 breaker · showing 1$/)
  },
)

browserTest.serial('a page on another origin can neither steer a breaker, nor read the views or the event stream, nor frame the dashboard', async (t) => {
  const breakers = new Registry()
  const orders = breakers.getOrCreate('orders')
  const logged: number[] = []
  const handler = breakwaterHttp(breakers, { prefix: '/ops', token: TOKEN, log: (entry) => logged.push(entry.status) })
  t.teardown(() => handler.close())
  const target = await listen(handler)
  t.teardown(() => target.close())
  const evil = await listen((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>elsewhere</title>'))
  t.teardown(() => evil.close())
  const page = await browser.newPage()
  t.teardown(() => page.close())
  const consoleErrors: string[] = []
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()))
  await page.goto(`${evil.origin}/`)
  // As a string: the spec's transpiler would wrap the functions of a function given here in a helper the page lacks.
  const outcome = await page.evaluate(`(async (ops) => {
    const settle = (p) => p.then((r) => 'answered ' + r.type + ' ' + r.status, (e) => 'refused: ' + e.name)
    const body = JSON.stringify({ action: 'force_open' })
    const stream = await new Promise((resolve) => {
      const source = new EventSource(ops + '/events')
      source.onopen = () => resolve('open')
      source.onerror = () => { source.close(); resolve('refused') }
    })
    return {
      read: await settle(fetch(ops + '/breakers')),
      simplePost: await settle(fetch(ops + '/breakers/orders/state', { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body })),
      bearerPost: await settle(fetch(ops + '/breakers/orders/state', { method: 'POST', headers: { authorization: 'Bearer guess', 'content-type': 'application/json' }, body })),
      stream,
    }
  })(${JSON.stringify(`${target.origin}/ops`)})`)
  t.deepEqual(outcome, {
    read: 'refused: TypeError',
    simplePost: 'answered opaque 0',
    bearerPost: 'refused: TypeError',
    stream: 'refused',
  })
  t.is(orders.state, 'closed')
  t.deepEqual(logged, [401], 'the simple POST reached the handler and was refused; the preflighted one never reached it')
  // Framed by another origin: frame-ancestors 'none' blocks it.
  await page.evaluate((url) => {
    const frame = document.createElement('iframe')
    frame.src = url
    document.body.append(frame)
  }, `${target.origin}/ops/dashboard`)
  await page.waitForEvent('console', { predicate: (m) => m.text().includes('frame-ancestors'), timeout: 5000 })
  t.true(
    consoleErrors.some((m) => m.startsWith(`Framing '${target.origin}/'`) && m.includes("frame-ancestors 'none'")),
    consoleErrors.join('\n'),
  )
})

test('path tricks reach no route but the dashboard itself, and every dashboard answer carries the CSP', async (t) => {
  const breakers = new Registry()
  breakers.getOrCreate('orders')
  const handler = breakwaterHttp(breakers, { prefix: '/ops', token: TOKEN, log: false })
  const server = await listen(handler)
  t.teardown(() => server.close())
  const statuses: Record<string, number> = {}
  for (const path of [
    '/ops/dashboard/../breakers',
    '/ops/dashboard/%2e%2e/breakers',
    '/ops/%2e%2e/ops/dashboard',
    '//ops/dashboard',
    '/ops//dashboard',
    '/ops/dashboard//',
    '/ops/dashboard/app.js/',
    '/ops/dashboard/%2e',
    '/ops/dashboard/app.js%00',
    '/ops/DASHBOARD',
    '/ops/dashboard;x',
  ]) {
    statuses[path] = (await raw(server.origin, 'GET', path)).status
  }
  t.true(
    Object.values(statuses).every((s) => s === 404),
    JSON.stringify(statuses),
  )
  for (const method of ['HEAD', 'OPTIONS', 'POST', 'PUT', 'DELETE']) t.is((await raw(server.origin, method, '/ops/dashboard')).status, 405, method)
  t.is((await raw(server.origin, 'GET', `/ops/dashboard?${'a'.repeat(20_000)}`)).status, 431, 'a huge URL: refused by node')
  for (const path of ['/ops/dashboard', '/ops/dashboard?x=<script>', '/ops/dashboard/app.js', '/ops/dashboard/app.css', '/ops/dashboard/icon.svg']) {
    const { status, headers } = await raw(server.origin, 'GET', path)
    t.is(status, 200, path)
    t.is(headers['content-security-policy'], CSP, path)
    t.is(headers['x-content-type-options'], 'nosniff', path)
    t.is(headers['referrer-policy'], 'no-referrer', path)
  }
})

browserTest.serial('a breaker removed and added again under the same name comes back on its card: its state, no removed notice, its buttons', async (t) => {
  const breakers = new Registry()
  breakers.getOrCreate('orders')
  const handler = breakwaterHttp(breakers, { prefix: '/ops', token: TOKEN, log: false })
  t.teardown(() => handler.close())
  const server = await listen(handler)
  t.teardown(() => server.close())
  const { page, trouble } = await openPage(t, `${server.origin}/ops/dashboard`, server.origin)
  await page.fill('#token', TOKEN)
  await page.click('#token-use')
  await page.waitForSelector(`${card('orders')} button[data-action]`, { timeout: 5000 })
  breakers.remove('orders')
  await cardIn(page, 'orders', 'removed')
  t.is(await page.locator(`${card('orders')} button[data-action]`).count(), 0, 'no button on a removed breaker')
  const again = breakers.getOrCreate('orders')
  again.forceOpen(60_000)
  await cardIn(page, 'orders', 'forced_open')
  t.true(await page.isHidden(`${card('orders')} .notice`))
  t.is(await page.locator('.card').count(), 1, 'one card for the name')
  t.is(await click(page, 'orders', 'close'), 200)
  t.is(again.state, 'closed', 'the buttons steer the new breaker')
  await cardIn(page, 'orders', 'closed')
  t.deepEqual(trouble.pageErrors, [])
})

test('a removed breaker stays in the page model, removed, for REMOVED_KEPT_MS and then leaves it: names that come and go do not grow the page for ever', (t) => {
  const model = new Model()
  for (let round = 0; round < 100; round++) {
    const now = T0 + round * 60_000
    const changed = model.applyPoll([view('orders'), view(`tenant-${round}`)], now, now, now)
    t.true(changed.includes('orders'))
  }
  // A minute a round: the five tenants removed in the last five minutes are still there, the older ones left.
  t.deepEqual([...model.entries.keys()].sort(), ['orders', 'tenant-94', 'tenant-95', 'tenant-96', 'tenant-97', 'tenant-98', 'tenant-99'])
  t.is(model.entries.get('tenant-94')!.state, 'removed')
  t.is(REMOVED_KEPT_MS, 5 * 60_000)
  const later = T0 + 104 * 60_000 // five minutes after the last round: 94 to 98 leave, 99 is newly removed
  const changed = model.applyPoll([view('orders')], later, later, later)
  t.deepEqual(changed.sort(), ['orders', 'tenant-94', 'tenant-95', 'tenant-96', 'tenant-97', 'tenant-98', 'tenant-99'])
  t.deepEqual([...model.entries.keys()].sort(), ['orders', 'tenant-99'])
  t.is(model.entries.get('tenant-99')!.state, 'removed')
})

browserTest.serial(
  "a removed breaker's card leaves the page five minutes after it was removed (the page clock moved, no wait); one added again later gets a new card",
  async (t) => {
    const breakers = new Registry()
    breakers.getOrCreate('orders')
    breakers.getOrCreate('tenant-1')
    const handler = breakwaterHttp(breakers, { prefix: '/ops', log: false })
    t.teardown(() => handler.close())
    const server = await listen(handler)
    t.teardown(() => server.close())
    const page = await browser.newPage()
    t.teardown(() => page.close())
    const trouble = watch(page, server.origin)
    await page.clock.install()
    const nextRead = () => page.waitForResponse((r) => r.url().endsWith('/ops/breakers'), { timeout: 5000 })
    const first = nextRead()
    await page.goto(`${server.origin}/ops/dashboard`)
    await first
    await page.waitForSelector(card('tenant-1'), { timeout: 5000 })
    breakers.remove('tenant-1')
    const read = nextRead()
    await page.clock.runFor(1000)
    await read
    await cardIn(page, 'tenant-1', 'removed')
    await page.clock.fastForward(REMOVED_KEPT_MS)
    const after = nextRead()
    await page.clock.runFor(1000)
    await after
    await page.waitForSelector(card('tenant-1'), { state: 'detached', timeout: 5000 })
    t.regex((await page.textContent('#summary')) ?? '', /^1 breaker · showing 1$/)
    breakers.getOrCreate('tenant-1')
    const back = nextRead()
    await page.clock.runFor(1000)
    await back
    await cardIn(page, 'tenant-1', 'closed')
    t.is(await page.locator('.card').count(), 2)
    t.deepEqual(trouble.pageErrors, [])
  },
)

test("a card writes its counts as toLocaleString('en') would, through one shared formatter (a new one per call was most of a redraw at 10,000 cards)", (t) => {
  for (const value of [0, 7, 999, 1000, 12_345, 1_234_567, 2 ** 53 - 1, 0.5]) t.is(count(value), value.toLocaleString('en'), String(value))
  t.is(count(undefined), '–')
})

browserTest.serial(
  'markup in a transition reason, a bulkhead name, a retry name and a handler error message shows as text: no element made, no script run, no request',
  async (t) => {
    const MARKUP = '<img src=x onerror="document.body.dataset.pwned=1">"onmouseover="document.body.dataset.pwned=2'
    const breakers = new Registry()
    breakers.getOrCreate('orders')
    const listeners = new Set<(change: StateChange) => void>()
    let failing = false
    const source = {
      names: () => breakers.names(),
      get: (name: string) => breakers.get(name),
      health: () => {
        if (failing) throw new Error(MARKUP)
        return breakers.health()
      },
      onStateChange: (listener: (change: StateChange) => void) => {
        listeners.add(listener)
        return () => listeners.delete(listener)
      },
    }
    const pool = bulkhead(`${MARKUP}-${process.pid}`, { maxConcurrent: 1 })
    const handler = breakwaterHttp(source, { prefix: '/ops', log: false, bulkheads: [pool], retries: { [MARKUP]: retry() } })
    t.teardown(() => handler.close())
    const server = await listen(handler)
    t.teardown(() => server.close())
    const { page, trouble } = await openPage(t, `${server.origin}/ops/dashboard`, server.origin)
    await page.waitForSelector('#live[data-status="live"]', { timeout: 5000 })
    // A registry of another make (the handler takes any with this shape) that says anything in a reason.
    const reason = MARKUP.repeat(50) as StateChange['reason']
    for (const listener of listeners) listener({ name: 'orders', from: 'closed', to: 'open', reason, at: Date.now() })
    await page.waitForSelector(`${card('orders')} .timeline li`, { timeout: 5000 })
    t.is(await page.textContent(`${card('orders')} .timeline .reason`), reason)
    t.deepEqual(await page.$$eval('#policies tbody td:first-child', (cells) => cells.map((c) => c.textContent)), [pool.name, MARKUP])
    failing = true
    await page.waitForSelector('#banner:not([hidden])', { timeout: 5000 })
    t.true((await page.textContent('#banner'))!.includes(MARKUP))
    t.is(await page.locator('img').count(), 0, 'no element made of a text')
    t.is(await page.evaluate(() => document.body.dataset.pwned), undefined)
    await page.hover(`${card('orders')} .timeline li`)
    await page.hover('#policies tbody td')
    t.is(await page.evaluate(() => document.body.dataset.pwned), undefined, 'nothing ran on hover')
    t.deepEqual(trouble.foreignRequests, [])
    t.true(
      trouble.failedRequests.every((r) => r.endsWith('/ops/breakers: 500')),
      trouble.failedRequests.join('\n'),
    )
  },
)

browserTest.serial(
  'an admin click the handler never answers ends after ACT_TIMEOUT_MS (the page clock moved, no wait): a message, and the button can be clicked again',
  async (t) => {
    const breakers = new Registry()
    breakers.getOrCreate('orders')
    const handler = breakwaterHttp(breakers, { prefix: '/ops', token: TOKEN, log: false })
    t.teardown(() => handler.close())
    const held: ServerResponse[] = []
    let posted: () => void = () => undefined
    const reached = new Promise<void>((resolve) => (posted = resolve))
    const server = await listen((req, res) => {
      if (req.method === 'POST') {
        held.push(res) // a hung handler: never answered (the server's close cuts it)
        posted()
        return
      }
      handler(req, res)
    })
    t.teardown(() => server.close())
    const page = await browser.newPage()
    t.teardown(() => page.close())
    const trouble = watch(page, server.origin)
    await page.clock.install()
    await page.goto(`${server.origin}/ops/dashboard`)
    await page.waitForSelector(card('orders'), { timeout: 5000 })
    await page.fill('#token', TOKEN)
    await page.click('#token-use')
    const button = `${card('orders')} button[data-action="force_open"]`
    await page.click(button)
    await reached
    t.true(await page.isDisabled(button), 'disabled while waiting')
    await page.clock.runFor(ACT_TIMEOUT_MS)
    await page.waitForSelector('#toast:not([hidden])', { timeout: 5000 })
    t.is(await page.textContent('#toast'), 'POST breakers/state did not answer within 10 s: the card shows whether it was done')
    t.false(await page.isDisabled(button), 'the button works again')
    t.is(held.length, 1)
    t.deepEqual(trouble.pageErrors, [])
  },
)
