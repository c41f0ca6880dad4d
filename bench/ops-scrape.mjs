// Scrape cost of breakwater/prometheus (and a collection of breakwater/otel) for 1,000 and 10,000
// breakers: every breaker has had calls, tracks latency and has opened once, so every family has
// its samples (the worst case: ~24 samples per breaker). Prints ms per scrape (median and slowest
// of the timed rounds) with the part spent reading the native snapshot. Then a same-process A/B of
// a closed breaker's execute with the three integrations attached to its registry and not
// (interleaved rounds, a loop compiled per case, median ns per call).
//   node --import tsx bench/ops-scrape.mjs [--json] [--quick]   (also part of `npm run bench`)
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics'
import { Registry as PromRegistry } from 'prom-client'
import { Registry } from '../src/index.ts'
import { openTelemetryMetrics } from '../src/ops/otel.ts'
import { logTransitions } from '../src/ops/logging.ts'
import { prometheusMetrics } from '../src/ops/prometheus.ts'
import { breakwaterHttp } from '../src/ops/http.ts'
import { createServer, get } from 'node:http'

const quick = process.argv.includes('--quick')
const SIZES = quick ? [1_000] : [1_000, 10_000]
const json = process.argv.includes('--json')

class CollectingReader extends MetricReader {
  async onForceFlush() {}
  async onShutdown() {}
}

async function time(rounds, fn) {
  const ms = []
  for (let i = 0; i < rounds; i++) {
    const start = performance.now()
    await fn()
    ms.push(performance.now() - start)
  }
  ms.sort((a, b) => a - b)
  return { median: ms[Math.floor(ms.length / 2)], max: ms.at(-1) }
}

async function breakersOf(n) {
  const breakers = new Registry()
  for (let i = 0; i < n; i++) {
    const b = breakers.getOrCreate(`service-${String(i).padStart(5, '0')}`, { trackLatency: true, consecutiveFailures: 1 })
    await b.execute(async () => i)
    await b
      .execute(async () => {
        throw new Error('down')
      })
      .catch(() => {})
  }
  return breakers
}

const rows = []
for (const n of SIZES) {
  const breakers = await breakersOf(n)
  const rounds = n >= 10_000 ? 10 : 30
  const register = new PromRegistry()
  prometheusMetrics(breakers, { register })
  const text = await register.metrics()
  for (let i = 0; i < 3; i++) await register.metrics() // warm-up
  const scrape = await time(rounds, () => register.metrics())
  const health = await time(rounds, () => breakers.health())
  const reader = new CollectingReader()
  openTelemetryMetrics(breakers, { meter: new MeterProvider({ readers: [reader] }).getMeter('bench') })
  for (let i = 0; i < 3; i++) await reader.collect()
  const otel = await time(rounds, () => reader.collect())
  rows.push({
    breakers: n,
    lines: text.split('\n').filter((l) => l && !l.startsWith('#')).length,
    bytes: Buffer.byteLength(text),
    scrapeMs: scrape,
    healthMs: health,
    otelCollectMs: otel,
  })
}

/**
 * ns per closed `execute` with nothing attached (A) and with Prometheus, OpenTelemetry, logging and
 * the HTTP handler's event stream (a client connected) attached (B).
 */
async function attachedAB(rounds = 11, n = 50_000) {
  const breakers = new Registry()
  const b = breakers.getOrCreate('ab')
  const fn = async () => 42
  const loop = () => new Function('b', 'fn', 'n', 'return (async () => { for (let i = 0; i < n; i++) await b.execute(fn) })()')
  const [plain, attached] = [loop(), loop()]
  const samples = { plain: [], attached: [] }
  const reader = new CollectingReader()
  const meter = new MeterProvider({ readers: [reader] }).getMeter('ab')
  const lines = { info() {}, warn() {} }
  // The HTTP handler with a client on its event stream (one more state-change listener).
  const ops = breakwaterHttp(breakers)
  const server = createServer(ops).listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  const stream = await new Promise((resolve) => get(`http://127.0.0.1:${server.address().port}/events`, resolve))
  stream.resume()
  for (let r = 0; r < rounds; r++) {
    let start = process.hrtime.bigint()
    await plain(b, fn, n)
    samples.plain.push(Number(process.hrtime.bigint() - start) / n)
    const stops = [prometheusMetrics(breakers, { register: new PromRegistry() }), openTelemetryMetrics(breakers, { meter }), logTransitions(breakers, lines)]
    start = process.hrtime.bigint()
    await attached(b, fn, n)
    samples.attached.push(Number(process.hrtime.bigint() - start) / n)
    for (const stop of stops) stop()
  }
  stream.destroy()
  ops.close()
  server.close()
  const median = (xs) => [...xs.slice(1)].sort((x, y) => x - y)[Math.floor((xs.length - 1) / 2)] // round 1 warms up
  return { plainNs: median(samples.plain), attachedNs: median(samples.attached) }
}
const ab = await attachedAB(quick ? 5 : 11, quick ? 10_000 : 50_000)

if (json) console.log(JSON.stringify({ node: process.version, rows, ab }, null, 2))
else {
  const f = (x) => x.toFixed(1)
  console.log(`node ${process.version}, ${SIZES.join(' and ')} breakers (latency tracked, opened once)`)
  for (const r of rows) {
    console.log(
      `${String(r.breakers).padStart(6)} breakers: Prometheus scrape ${f(r.scrapeMs.median)} ms (slowest ${f(r.scrapeMs.max)}), ` +
        `${r.lines} samples, ${(r.bytes / 1024).toFixed(0)} KiB; of which registry.health() ${f(r.healthMs.median)} ms; ` +
        `OpenTelemetry collect ${f(r.otelCollectMs.median)} ms (slowest ${f(r.otelCollectMs.max)})`,
    )
  }
  console.log(
    `closed execute: ${f(ab.plainNs)} ns alone, ${f(ab.attachedNs)} ns with Prometheus, OpenTelemetry, logging and an /events client attached ` +
      `(ratio ${(ab.attachedNs / ab.plainNs).toFixed(2)})`,
  )
}
