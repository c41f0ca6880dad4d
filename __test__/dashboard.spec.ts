// The dashboard in a real browser (Debian's Chromium through playwright-core), against real
// handlers on loopback: it loads clean, lists the breakers, hears a worker thread's transition,
// steers breakers only with the token, says so when a breaker or the handler goes away, and
// reconnects its event stream after a restart. Every wait is bounded and waits for a real event.
import test from 'ava'
import { createServer, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { Browser, Page } from 'playwright-core'
import { bulkhead, circuitBreaker, Registry, registry, retry } from '../src/index.ts'
import { type BreakwaterHttpHandler, type BreakwaterHttpOptions, breakwaterHttp, type HttpRegistry } from '../src/ops/http.ts'
import { launchChromium, type PageTrouble, watch, withChromium } from './servers/chromium.ts'
import { serve } from './fixtures/ops-http-rig.ts'
import { inWorker } from './worker.ts'

const browserTest = withChromium(test)
let browser: Browser

browserTest.before(async () => {
  browser = await launchChromium()
})
browserTest.after.always(async () => {
  await browser?.close()
})

let next = 0
const fresh = (what: string) => `${what}-${process.pid}-${next++}`
const TOKEN = 'dashboard-t0ken'

/** A node:http server of `handler` on loopback (on `port` when given: a restart on the same port). */
async function listen(handler: BreakwaterHttpHandler, port = 0) {
  const server: Server = createServer(handler)
  const sockets = new Set<Socket>()
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  const bound = (server.address() as AddressInfo).port
  return {
    origin: `http://127.0.0.1:${bound}`,
    port: bound,
    /** Stops as a crash would, open streams and connections cut. */
    close: () =>
      new Promise<void>((resolve) => {
        handler.close()
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}

/** Serves `source` under `/ops` and opens its dashboard once it has drawn its first read. */
async function open(t: { teardown(fn: () => unknown): void }, source: HttpRegistry, options: BreakwaterHttpOptions = {}) {
  const handler = breakwaterHttp(source, { prefix: '/ops', log: false, ...options })
  const server = await listen(handler)
  t.teardown(() => server.close())
  const page = await browser.newPage()
  t.teardown(() => page.close())
  const trouble = watch(page, server.origin)
  await page.goto(`${server.origin}/ops/dashboard`)
  await page.waitForSelector('#summary[data-shown]', { timeout: 10_000 })
  return { page, trouble, handler, server }
}

const card = (name: string) => `.card[data-name="${name}"]`

/** Waits until the card of `name` shows `state` (bounded). */
function cardIn(page: Page, name: string, state: string, timeout = 5000) {
  return page.waitForSelector(`${card(name)}[data-state="${state}"]`, { timeout })
}

function clean(t: { deepEqual(a: unknown, b: unknown, message?: string): void }, trouble: PageTrouble) {
  t.deepEqual(trouble.consoleErrors, [], 'no console error')
  t.deepEqual(trouble.pageErrors, [], 'no uncaught error')
  t.deepEqual(trouble.failedRequests, [], 'no failed request')
  t.deepEqual(trouble.foreignRequests, [], 'no request leaves the handler origin')
}

browserTest.serial(
  'the page loads with no console error, no failed request and no request outside its origin, and lists every breaker, bulkhead and retry policy',
  async (t) => {
    const breakers = new Registry()
    const markup = '<img src=x onerror="document.body.dataset.pwned=1">'
    const names = [markup, 'ledger/eu', 'market-data', 'orders']
    for (const name of names) breakers.getOrCreate(name, { trackLatency: true })
    const pool = bulkhead(fresh('pool'), { maxConcurrent: 4 })
    const { page, trouble } = await open(t, breakers, { bulkheads: [pool], retries: { quotes: retry() } })
    t.deepEqual(await page.$$eval('.card', (cards) => cards.map((c) => (c as HTMLElement).dataset.name)), names)
    t.deepEqual(await page.$$eval('.card .name', (cards) => cards.map((c) => c.textContent)), names, 'a name is shown as text')
    t.is(await page.locator('#cards img').count(), 0, 'a name is never markup')
    t.deepEqual(await page.$$eval('.card .state', (s) => s.map((e) => e.textContent)), ['closed', 'closed', 'closed', 'closed'])
    t.is(await page.textContent('#summary'), '4 breakers · showing 4')
    t.is(await page.$eval('#bulkheads tbody tr', (tr) => (tr as HTMLElement).dataset.name), pool.name)
    t.is(await page.$eval('#retries tbody tr', (tr) => (tr as HTMLElement).dataset.name), 'quotes')
    // Two more reads of the poll, and the event stream open: still nothing wrong.
    for (let i = 0; i < 2; i++) await page.waitForResponse((r) => r.url().endsWith('/ops/breakers'), { timeout: 5000 })
    await page.waitForSelector('#live[data-status="live"]', { timeout: 5000 })
    clean(t, trouble)
    // The CSP is in force: an inline script put into the page does not run, and says why.
    const ran = await page.evaluate(() => {
      const script = document.createElement('script')
      script.textContent = 'document.body.dataset.injected = "ran"'
      document.head.append(script)
      return document.body.dataset.injected ?? 'refused'
    })
    t.is(ran, 'refused')
    t.is(await page.evaluate(() => document.body.dataset.pwned), undefined)
    t.true(
      trouble.consoleErrors.some((m) => m.includes('Content Security Policy')),
      trouble.consoleErrors.join('\n'),
    )
  },
)

browserTest.serial('a transition made by a worker thread shows on its card within 1 s, with its reason in the timeline', async (t) => {
  const name = fresh('worker-made')
  circuitBreaker(name)
  const { page, trouble } = await open(t, registry)
  await cardIn(page, name, 'closed')
  await inWorker(`bw.circuitBreaker(${JSON.stringify(name)}).forceOpen('30s'); parentPort.postMessage('done')`)
  const done = performance.now()
  await cardIn(page, name, 'forced_open', 1000)
  t.log(`shown ${(performance.now() - done).toFixed(0)} ms after the worker said it was done`)
  t.regex((await page.textContent(`${card(name)} .timeline`)) ?? '', /closed → forced open · manual/)
  t.is(await page.textContent(`${card(name)} [data-field="state"]`), 'forced open')
  registry.get(name)!.reset()
  await cardIn(page, name, 'closed')
  clean(t, trouble)
})

browserTest.serial(
  'with the token entered, its buttons force open, close and isolate a breaker on the server; the token is kept nowhere but in memory',
  async (t) => {
    const breakers = new Registry()
    const orders = breakers.getOrCreate('orders')
    breakers.getOrCreate('quotes')
    const logged: { action: string | null; reason: string | null; status: number }[] = []
    const { page, trouble } = await open(t, breakers, { token: TOKEN, log: (entry) => logged.push(entry) })
    t.is(await page.locator('button[data-action]').count(), 0, 'no button before the token')
    await page.fill('#token', TOKEN)
    await page.click('#token-use')
    await page.waitForSelector(`${card('orders')} button[data-action="force_open"]`, { timeout: 5000 })
    t.is(await page.locator('button[data-action]').count(), 6, 'three buttons per card')
    const click = async (action: string) => {
      const answered = page.waitForResponse((r) => r.request().method() === 'POST', { timeout: 5000 })
      await page.click(`${card('orders')} button[data-action="${action}"]`)
      t.is((await answered).status(), 200, action)
    }
    await click('force_open')
    t.is(orders.state, 'forced_open', 'forced open on the server')
    await cardIn(page, 'orders', 'forced_open')
    await click('close')
    t.is(orders.state, 'closed')
    await cardIn(page, 'orders', 'closed')
    await click('isolate')
    t.is(orders.state, 'forced_open', 'isolated: forced open until closed')
    t.false(orders.halfOpen(), 'an isolated breaker refuses half_open')
    await click('close')
    t.is(orders.state, 'closed')
    t.is(breakers.get('quotes')!.state, 'closed', 'the other breaker was not touched')
    t.deepEqual(
      logged.map(({ action, reason, status }) => [action, reason, status]),
      [
        ['force_open', 'dashboard', 200],
        ['close', 'dashboard', 200],
        ['isolate', 'dashboard', 200],
        ['close', 'dashboard', 200],
      ],
    )
    t.regex((await page.textContent('#toast')) ?? '', /^orders: forced_open → closed \(close\)$/)
    const kept = await page.evaluate(() => ({
      storage: localStorage.length + sessionStorage.length,
      cookie: document.cookie,
      input: (document.getElementById('token') as HTMLInputElement).value,
      url: location.href,
    }))
    t.deepEqual(kept, { storage: 0, cookie: '', input: '', url: kept.url })
    t.false(kept.url.includes(TOKEN))
    await page.click('#token-forget')
    await page.waitForFunction(() => document.querySelector('button[data-action]') === null, undefined, { timeout: 5000 })
    t.true(await page.isVisible('#token'), 'the token box is back')
    clean(t, trouble)
  },
)

browserTest.serial('without the token no button exists and a crafted admin request is refused; a wrong token is refused and forgotten', async (t) => {
  const breakers = new Registry()
  const orders = breakers.getOrCreate('orders')
  const { page } = await open(t, breakers, { token: TOKEN })
  t.is(await page.locator('button[data-action]').count(), 0)
  const crafted = (authorization?: string) =>
    page.evaluate(
      async (authorization) =>
        (
          await fetch('breakers/orders/state', {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
            body: JSON.stringify({ action: 'force_open' }),
          })
        ).status,
      authorization,
    )
  t.is(await crafted(), 401, 'no token: refused')
  t.is(await crafted('Bearer not-the-token'), 401, 'a wrong token: refused')
  t.is(orders.state, 'closed')
  await page.fill('#token', 'not-the-token')
  await page.click('#token-use')
  const answered = page.waitForResponse((r) => r.request().method() === 'POST', { timeout: 5000 })
  await page.click(`${card('orders')} button[data-action="force_open"]`)
  t.is((await answered).status(), 401)
  await page.waitForSelector('#admin-note:has-text("the token was refused")', { timeout: 5000 })
  // The cards lose their buttons at the next frame's redraw.
  await page.waitForSelector('button[data-action]', { state: 'detached', timeout: 5000 })
  t.is(await page.locator('button[data-action]').count(), 0, 'a refused token is forgotten: no button')
  t.is(orders.state, 'closed')

  // A handler without a token has no admin route at all: no token box, and any POST is 404.
  const bare = await open(t, breakers)
  t.true(await bare.page.isHidden('#admin'))
  t.true(await bare.page.isVisible('#admin-off'))
  t.is(await bare.page.locator('button[data-action]').count(), 0)
  const status = await bare.page.evaluate(
    async (token) =>
      (await fetch('breakers/orders/state', { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: '{"action":"force_open"}' })).status,
    TOKEN,
  )
  t.is(status, 404)
  t.is(orders.state, 'closed')
})

browserTest.serial(
  'a breaker removed from the registry says so on its card, and a handler error shows a message while the page keeps what it had',
  async (t) => {
    const breakers = new Registry()
    breakers.getOrCreate('orders')
    breakers.getOrCreate('quotes')
    let failing = false
    const source: HttpRegistry = {
      names: () => breakers.names(),
      get: (name) => breakers.get(name),
      health: () => {
        if (failing) throw new Error('the registry is unreachable')
        return breakers.health()
      },
      onStateChange: (listener) => breakers.onStateChange(listener),
    }
    const { page, trouble } = await open(t, source)
    breakers.remove('quotes')
    await cardIn(page, 'quotes', 'removed')
    t.is(await page.textContent(`${card('quotes')} .notice`), 'This breaker is no longer in the registry: it was removed.')
    t.true(await page.isVisible(`${card('quotes')} .notice`))
    t.regex((await page.textContent('#summary')) ?? '', /^2 breakers: 1 removed · showing 2$/)
    failing = true
    await page.waitForSelector('#banner:not([hidden])', { timeout: 5000 })
    t.regex(
      (await page.textContent('#banner')) ?? '',
      /^GET breakers answered 500: breakwater could not answer: the registry is unreachable\. what shows was read at \d\d:\d\d:\d\d; trying again every second\.$/,
    )
    t.is(await page.locator('.card').count(), 2, 'the cards stay')
    failing = false
    await page.waitForSelector('#banner', { state: 'hidden', timeout: 5000 })
    t.deepEqual(trouble.pageErrors, [], 'no uncaught error: the page is whole')
    t.true(
      trouble.failedRequests.every((r) => r.endsWith('/ops/breakers: 500')),
      trouble.failedRequests.join('\n'),
    )
  },
)

browserTest.serial(
  'the event stream reconnects after the server restarts: a transition made while it was down shows as not heard live, one made after with its reason',
  async (t) => {
    const breakers = new Registry()
    const orders = breakers.getOrCreate('orders')
    const { page, server, handler } = await open(t, breakers)
    await page.waitForSelector('#live[data-status="live"]', { timeout: 5000 })
    await server.close()
    await page.waitForSelector('#live[data-status="reconnecting"]', { timeout: 5000 })
    orders.forceOpen(60_000) // no stream, no server: only a read after the restart can see it
    const again = await listen(handler, server.port)
    t.teardown(() => again.close())
    await cardIn(page, 'orders', 'forced_open')
    await page.waitForSelector('#live[data-status="live"]', { timeout: 15_000 })
    t.is(handler.streams, 1, 'the page holds one stream again')
    t.regex((await page.textContent(`${card('orders')} .timeline li:first-child`)) ?? '', /closed → forced open · not heard live$/)
    orders.reset()
    await cardIn(page, 'orders', 'closed')
    await page.waitForSelector(`${card('orders')} .timeline li:nth-child(2)`, { timeout: 5000 })
    t.regex((await page.textContent(`${card('orders')} .timeline li:first-child`)) ?? '', /forced open → closed · manual$/)
    await page.waitForSelector('#banner', { state: 'hidden', timeout: 5000 })
  },
)

browserTest.serial('a hidden tab stops reading the handler, and reads at once when shown again', async (t) => {
  const breakers = new Registry()
  breakers.getOrCreate('orders')
  const handler = breakwaterHttp(breakers, { prefix: '/ops', log: false })
  const server = await listen(handler)
  t.teardown(() => server.close())
  const page = await browser.newPage()
  t.teardown(() => page.close())
  await page.clock.install() // the page's timers run when the spec says, not on the wall clock
  let reads = 0
  page.on('request', (r) => {
    if (r.url().endsWith('/ops/breakers')) reads++
  })
  const nextRead = () => page.waitForResponse((r) => r.url().endsWith('/ops/breakers'), { timeout: 5000 })
  // The page plans its next read only once all three routes answered: wait for that, not for one answer.
  const planned = (n: number) => page.waitForSelector(`body[data-reads="${n}"]`, { state: 'attached', timeout: 5000 })
  const first = nextRead()
  await page.goto(`${server.origin}/ops/dashboard`)
  await first
  await planned(1)
  const second = nextRead()
  await page.clock.runFor(1000)
  await second
  await planned(2)
  t.is(reads, 2, 'visible: one read a second')
  // As a string: the spec's transpiler would wrap a function given here in a helper the page lacks.
  const setHidden = (hidden: boolean) =>
    page.evaluate(`Object.defineProperty(document, 'hidden', { configurable: true, value: ${hidden} }); document.dispatchEvent(new Event('visibilitychange'))`)
  await setHidden(true)
  const third = nextRead()
  await page.clock.runFor(1000) // the read planned while it was visible
  await third
  await planned(3)
  await page.clock.runFor(30_000)
  // A request of our own, answered: every request the page made before it has been seen (events come in order).
  t.is(await page.evaluate(async () => (await fetch('retries')).status), 200)
  t.is(reads, 3, 'hidden: no read for 30 s')
  const back = nextRead()
  await setHidden(false)
  await back
  t.is(reads, 4, 'shown again: read at once')
})

browserTest.serial('mounted as a Fastify plugin under /ops, the page loads clean, lists the breakers and hears transitions', async (t) => {
  const breakers = new Registry()
  const orders = breakers.getOrCreate('orders')
  const server = await serve('fastify', breakwaterHttp(breakers, { log: false }), { mount: '/ops' })
  t.teardown(() => server.close())
  const page = await browser.newPage()
  t.teardown(() => page.close())
  const trouble = watch(page, server.origin)
  await page.goto(`${server.base}/dashboard`)
  await cardIn(page, 'orders', 'closed')
  await page.waitForSelector('#live[data-status="live"]', { timeout: 5000 })
  orders.forceOpen(60_000)
  await cardIn(page, 'orders', 'forced_open')
  t.regex((await page.textContent(`${card('orders')} .timeline`)) ?? '', /closed → forced open · manual/)
  clean(t, trouble)
})
