// A real Chromium for the dashboard specs: Debian's /usr/bin/chromium (or CHROMIUM_PATH) driven by
// playwright-core, headless, with the flags of the environment notes (no sandbox as root, no GPU,
// no background traffic of its own). Specs declared with `withChromium(test)` are skipped where it
// is missing, or fail there when `CI=true`. `watch(page, origin)` records what must stay empty:
// console errors, page errors, failed requests and any request to another origin.
import { existsSync } from 'node:fs'
import type { TestFn } from 'ava'
import { type Browser, chromium, type Page } from 'playwright-core'
import { needs } from './needs.ts'

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
]

/** ava's `test`, or a stand-in that skips (fails under CI) when Chromium is missing. */
export function withChromium<Context = unknown>(ava: TestFn<Context>): TestFn<Context> {
  return needs('Chromium', existsSync(CHROMIUM), `looked for ${CHROMIUM}; apt-get install chromium, or set CHROMIUM_PATH`, ava)
}

/** Starts a headless Chromium (close it when done). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true, timeout: 30_000 })
}

/** What went wrong on a page, as the specs assert it: every list must stay empty. */
export interface PageTrouble {
  consoleErrors: string[]
  pageErrors: string[]
  failedRequests: string[]
  foreignRequests: string[]
}

/** Records every console error, uncaught error, failed request and request that leaves `origin`. */
export function watch(page: Page, origin: string): PageTrouble {
  const trouble: PageTrouble = { consoleErrors: [], pageErrors: [], failedRequests: [], foreignRequests: [] }
  page.on('console', (message) => {
    if (message.type() === 'error') trouble.consoleErrors.push(message.text())
  })
  page.on('pageerror', (error) => trouble.pageErrors.push(error.message))
  page.on('request', (request) => {
    const url = request.url()
    if (new URL(url).origin !== origin) trouble.foreignRequests.push(url)
  })
  page.on('requestfailed', (request) => trouble.failedRequests.push(`${request.method()} ${request.url()}: ${request.failure()?.errorText}`))
  page.on('response', (response) => {
    if (response.status() >= 400) trouble.failedRequests.push(`${response.request().method()} ${response.url()}: ${response.status()}`)
  })
  return trouble
}
