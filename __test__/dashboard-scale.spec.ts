// The dashboard at 1,000 breakers, in a real Chromium, mounted under Express 5 (`app.use('/ops')`,
// no prefix: the page's relative links must hold): all render, the filter and the sort work, and a
// poll rewrites only what changed (one breaker opening touches its own card, and moves only it).
import test from 'ava'
import type { Browser } from 'playwright-core'
import { Registry } from '../src/index.ts'
import { breakwaterHttp } from '../src/ops/http.ts'
import { serve } from './fixtures/ops-http-rig.ts'
import { launchChromium, watch, withChromium } from './servers/chromium.ts'

const browserTest = withChromium(test)
let browser: Browser

browserTest.before(async () => {
  browser = await launchChromium()
})
browserTest.after.always(async () => {
  await browser?.close()
})

const COUNT = 1000
const nameOf = (i: number) => `svc-${String(i).padStart(4, '0')}`

browserTest.serial(
  '1,000 breakers render; the filter and the sort by state work; a breaker that opens changes only its own card, and time in state is rewritten only on screen',
  async (t) => {
    const breakers = new Registry()
    for (let i = 0; i < COUNT; i++) breakers.getOrCreate(nameOf(i), i === 500 ? { consecutiveFailures: 1 } : {})
    const handler = breakwaterHttp(breakers, { log: false })
    const server = await serve('express', handler, { mount: '/ops' })
    t.teardown(() => server.close())
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    t.teardown(() => page.close())
    const trouble = watch(page, server.origin)

    const started = performance.now()
    await page.goto(`${server.base}/dashboard`)
    await page.waitForSelector(`#summary[data-shown="${COUNT}"]`, { timeout: 20_000 })
    t.log(`1,000 cards drawn ${(performance.now() - started).toFixed(0)} ms after the page was asked for`)
    t.is(await page.locator('.card').count(), COUNT)
    t.is((await page.locator('.card canvas').count()) < 100, true, 'charts only for the cards on screen')

    // Two polls later (calls/s known), watch every DOM change while one breaker opens.
    for (let i = 0; i < 2; i++) await page.waitForResponse((r) => r.url().endsWith('/ops/breakers'), { timeout: 5000 })
    await page.evaluate(() => {
      const seen: string[] = []
      ;(window as unknown as { mutations: string[] }).mutations = seen
      new MutationObserver((records) => {
        for (const r of records) {
          const target = r.target instanceof Element ? r.target : r.target.parentElement!
          if (target.closest('.spark')) continue // the chart of a card on screen redraws every poll
          const card = target.closest<HTMLElement>('.card')?.dataset.name ?? `#${target.id}`
          const field = target.closest<HTMLElement>('[data-field]')?.dataset.field ?? r.attributeName ?? r.type
          seen.push(`${card} ${field}`)
        }
      }).observe(document.getElementById('cards')!, { subtree: true, childList: true, attributes: true, characterData: true })
    })
    await breakers
      .get(nameOf(500))!
      .execute(async () => {
        throw new Error('down')
      })
      .catch(() => undefined)
    t.is(breakers.get(nameOf(500))!.state, 'open')
    await page.waitForSelector(`.card[data-name="${nameOf(500)}"][data-state="open"]`, { timeout: 5000 })
    await page.waitForResponse((r) => r.url().endsWith('/ops/breakers'), { timeout: 5000 })
    await page.waitForResponse((r) => r.url().endsWith('/ops/breakers'), { timeout: 5000 })
    const mutations = await page.evaluate(() => (window as unknown as { mutations: string[] }).mutations)
    const others = mutations.filter((m) => !m.startsWith(`${nameOf(500)} `) && !m.endsWith(' inState') && m !== '#cards childList')
    t.deepEqual(others, [], 'other cards change only their time in state')
    const moved = mutations.filter((m) => m === '#cards childList')
    t.true(moved.length <= 2, `the opened card moved to the top alone (${moved.length} childList records)`)
    t.true(mutations.includes(`${nameOf(500)} state`), 'its state was rewritten')
    const times = mutations.filter((m) => m.endsWith(' inState')).length
    t.log(`${mutations.length} DOM changes over two polls, ${times} of them times in state`)
    t.true(times < 300, `only the cards on screen show their time in state (${times} rewrites in two polls)`)

    // Sorted by state: the open one first; by name: svc-0000 first.
    const first = () => page.$eval('.card', (c) => (c as HTMLElement).dataset.name)
    t.is(await first(), nameOf(500))
    await page.selectOption('#sort', 'name')
    await page.waitForFunction((name) => (document.querySelector('.card') as HTMLElement).dataset.name === name, nameOf(0), { timeout: 5000 })
    breakers.get(nameOf(999))!.forceOpen(60_000)
    await page.selectOption('#sort', 'state')
    await page.waitForFunction(
      (names) =>
        [...document.querySelectorAll<HTMLElement>('.card')]
          .slice(0, 2)
          .map((c) => c.dataset.name)
          .join() === names,
      [nameOf(500), nameOf(999)].join(),
      { timeout: 5000 },
    )

    // The filter: by part of the name, any case; cleared, all again.
    await page.fill('#filter', 'SVC-0042')
    await page.waitForSelector('#summary[data-shown="1"]', { timeout: 5000 })
    t.deepEqual(await page.$$eval('.card:not([hidden])', (cs) => cs.map((c) => (c as HTMLElement).dataset.name)), [nameOf(42)])
    await page.fill('#filter', 'svc-09')
    await page.waitForSelector('#summary[data-shown="100"]', { timeout: 5000 })
    t.is(await page.$eval('.card:not([hidden])', (c) => (c as HTMLElement).dataset.name), nameOf(999), 'filtered and still sorted by state')
    await page.fill('#filter', '')
    await page.waitForSelector(`#summary[data-shown="${COUNT}"]`, { timeout: 5000 })
    t.regex((await page.textContent('#summary')) ?? '', /^1000 breakers: 1 open, 1 forced open · showing 1000$/)

    t.deepEqual(trouble, { consoleErrors: [], pageErrors: [], failedRequests: [], foreignRequests: [] })
  },
)
