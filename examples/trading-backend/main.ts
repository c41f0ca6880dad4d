// `npm start`: a small trading backend protected by breakwater, rehearsing failures under a
// chaos schedule, watched on the dashboard. `npm start -- --duration 30s --headless` runs for a
// bounded time and prints a summary; the exit code is 1 if the ledger check fails.
//
// In your own project, import from 'breakwater' (and 'breakwater/http', 'breakwater/prometheus')
// instead of '../../src/...': this example runs from the repository's sources.
import { randomBytes } from 'node:crypto'
import type { RetryPolicy } from '../../src/index.ts'
import { startBackend } from './backend.ts'
import { checkLedger } from './ledger.ts'
import { startOpsServer } from './ops-server.ts'
import { OptionError, parseOptions, USAGE } from './options.ts'
import { strategy } from './strategy.ts'
import { printSummary, summarize } from './summary.ts'

const DEFAULT_CYCLE_MS = 120_000

let options: ReturnType<typeof parseOptions>
try {
  options = parseOptions(process.argv.slice(2))
} catch (error) {
  if (!(error instanceof OptionError)) throw error
  console.error(`error: ${error.message}\n\n${USAGE}`)
  process.exit(2)
}

const { durationMs, json, headless } = options
const say = (text: string) => json || console.log(text)
const report = (event: Record<string, unknown>) => json && console.log(JSON.stringify(event))

const started = Date.now()
const runId = started.toString(36)
const backend = await startBackend(durationMs ?? DEFAULT_CYCLE_MS, options.dbPath)
const token = process.env.OPS_TOKEN ?? randomBytes(12).toString('base64url')
const retries: Record<string, RetryPolicy> = {}
if (backend.system.marketData.retry) retries['market-data'] = backend.system.marketData.retry // quotes are retried twice
const shown = { chaos: backend.chaos.policies, bulkheads: [backend.inference], retries }
const ops = await startOpsServer(backend.registry, shown, options.port, token)

say(`Trading backend up: market data, order gateway, ONNX predictor, SQLite ledger (${options.dbPath}), sandbox.`)
say(`Dashboard: ${ops.url}/dashboard   (admin token: ${token})`)
say(`Also: ${ops.url}/breakers  ${ops.url}/events  ${ops.url}/metrics`)
if (backend.settledAtStart > 0) say(`Ledger: ${backend.settledAtStart} orders of an interrupted run had no answer: marked unknown.`)
report({ type: 'start', url: ops.url, dashboard: `${ops.url}/dashboard`, db: options.dbPath, settledFromEarlierRuns: backend.settledAtStart })

// Transitions and rehearsals as they happen.
const stopWatching = backend.registry.onStateChange(({ name, from, to, reason }) => {
  report({ type: 'transition', name, from, to, reason, atMs: Date.now() - started })
  if (!headless) console.log(`  ${name}: ${from} -> ${to} (${reason})`)
})
for (const [name, policy] of Object.entries(backend.chaos.policies)) {
  policy.onStop(({ reason }) => {
    report({ type: 'chaos-stop', policy: name, reason, atMs: Date.now() - started })
    if (!headless) console.log(`chaos ${name} stopped: ${reason}`)
  })
}

const running = new AbortController()
const trading = strategy(backend, runId, report)
await trading.warmUp()
backend.chaos.start(running.signal, (name) => {
  report({ type: 'chaos-start', policy: name, atMs: Date.now() - started })
  if (!headless) console.log(`chaos ${name}: started`)
})
const loop = trading.run(running.signal)
// The live view: one status line every 5 s (the dashboard shows the rest).
if (!headless) {
  const status = setInterval(() => {
    const { placed, refused } = trading.counts
    const notClosed = Object.entries(backend.registry.health()).filter(([, m]) => m.state !== 'closed')
    const open = notClosed.map(([name, m]) => `${name} (${m.state})`).join(', ') || 'none'
    const refusedTotal = Object.values(refused).reduce((a, b) => a + b, 0)
    console.log(`[${Math.round((Date.now() - started) / 1000)} s] orders: ${placed} placed, ${refusedTotal} refused; not closed: ${open}`)
  }, 5_000)
  running.signal.addEventListener('abort', () => clearInterval(status))
}

// Stop at the end of the run, or on Ctrl-C / SIGTERM (a second Ctrl-C exits at once).
const stop = () => running.abort()
if (durationMs !== undefined) setTimeout(stop, durationMs).unref()
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
say(durationMs === undefined ? 'Running until Ctrl-C.' : `Running for ${durationMs / 1000} s.`)
await new Promise((resolve) => running.signal.addEventListener('abort', resolve, { once: true }))
process.once('SIGINT', () => process.exit(130))

await loop
await trading.settle(Math.max(2_000, backend.openFor * 4))
const ledger = { ...checkLedger(backend.ledgerDb, backend.gateway.acknowledged), settledFromEarlierRuns: backend.settledAtStart }
const summary = summarize(backend.registry, Date.now() - started, trading.counts, backend.chaos.policies, ledger)
stopWatching()
await ops.close()
await backend.close()

if (json) console.log(JSON.stringify(summary))
else printSummary(summary)
process.exitCode = summary.ledger.ok ? 0 : 1
// Everything is closed: the process ends by itself. Should something still hold it, say so and go.
setTimeout(() => {
  console.error(`the demo did not exit by itself within 3 s of closing (still open: ${process.getActiveResourcesInfo().join(', ')}): exiting`)
  process.exit(process.exitCode)
}, 3_000).unref()
