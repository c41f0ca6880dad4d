// Takes the README's picture of the dashboard, docs/dashboard.png: a few breakers of a small
// trading backend under made-up traffic (some slow, some failing, one forced open by an
// operator), bulkheads and retries beside, the admin token entered. Real time passes (about 40 s)
// so the sparklines have something to show. Needs Chromium (as the browser specs do).
//
//   npm run screenshot:dashboard        (node --import tsx scripts/screenshot-dashboard.mjs)
import { createServer } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { bulkhead, Registry, retry } from '../src/index.ts'
import { breakwaterHttp } from '../src/ops/http.ts'
import { launchChromium } from '../__test__/servers/chromium.ts'

const OUT = fileURLToPath(new URL('../docs/dashboard.png', import.meta.url))
const SECONDS = Number(process.env.SCREENSHOT_SECONDS ?? 40)
const TOKEN = 'screenshot-token'

const breakers = new Registry()
const services = {
  'market-data': { failure: 0.02, latency: 12, options: { trackLatency: true, consecutiveFailures: 5 } },
  orders: { failure: 0.5, latency: 30, options: { trackLatency: true, consecutiveFailures: 4, openFor: '6s' } },
  ledger: { failure: 0, latency: 4, options: { trackLatency: true } },
  predictor: { failure: 0.1, latency: 45, options: { trackLatency: true, failureRate: 60, minimumCalls: 20 } },
  sandbox: { failure: 0, latency: 80, options: { trackLatency: true } },
  'risk-check': { failure: 0.05, latency: 8, options: { trackLatency: true } },
}
for (const [name, { options }] of Object.entries(services)) breakers.getOrCreate(name, options)
const pool = bulkhead('ledger-db', { maxConcurrent: 8, maxQueue: 16 })
const quotes = retry({ maxAttempts: 3, backoff: { strategy: 'constant', base: 5 } })

const handler = breakwaterHttp(breakers, { prefix: '/ops', token: TOKEN, log: false, bulkheads: [pool], retries: { quotes } })
const server = createServer(handler)
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
const origin = `http://127.0.0.1:${server.address().port}`

/** One made-up call to `name`: its usual latency, give or take, and its failure rate. */
async function call(name) {
  const { failure, latency } = services[name]
  const work = async () => {
    await sleep(latency * (0.5 + Math.random()))
    if (Math.random() < failure) throw new Error(`${name} failed`)
  }
  const breaker = breakers.get(name)
  const run = () => breaker.execute(work)
  if (name === 'ledger') return pool.execute(run)
  if (name === 'market-data') return quotes.execute(run)
  return run()
}

let running = true
const traffic = Object.keys(services).map(async (name) => {
  while (running) {
    await Promise.allSettled(Array.from({ length: 4 }, () => call(name)))
    await sleep(40)
  }
})

const browser = await launchChromium()
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 820 } })
  await page.goto(`${origin}/ops/dashboard`)
  await page.waitForSelector('#live[data-status="live"]')
  await sleep((SECONDS * 1000) / 2)
  breakers.get('sandbox').forceOpen(120_000) // an operator takes the sandbox out
  await page.fill('#token', TOKEN)
  await page.click('#token-use')
  await page.waitForSelector('button[data-action]')
  await sleep((SECONDS * 1000) / 2)
  const cards = await page.locator('#cards').boundingBox()
  await page.screenshot({ path: OUT, clip: { x: 0, y: 0, width: 1280, height: Math.ceil(cards.y + cards.height + 16) } })
  console.log(`wrote ${OUT}`)
} finally {
  running = false
  await Promise.allSettled(traffic)
  await browser.close()
  handler.close()
  server.close()
}
