// A small service with every operations surface of breakwater on one port:
//   GET  /orders                      a route of the service, behind its own breaker (protect)
//   GET  /quote                       a route that calls a flaky market-data feed through a breaker
//   GET  /ops/breakers[/:name]        every breaker / one breaker (503 + Retry-After while open)
//   GET  /ops/health                  readiness: 503 while a critical breaker is open
//   GET  /ops/events                  Server-Sent Events of every transition, from every thread
//   POST /ops/breakers[/:name]/state  admin: close, force_open, isolate, disable, half_open (token)
//   GET  /metrics                     Prometheus exposition
// Transitions are logged as JSON lines (pino); OpenTelemetry metrics go to the console every minute
// when OTEL_CONSOLE=1.
//
//   OPS_TOKEN=secret PORT=8080 node --import tsx examples/ops-server.ts
//   curl -s localhost:8080/ops/breakers
//   curl -s -X POST localhost:8080/ops/breakers/market-data/state -H 'authorization: Bearer secret' \
//        -H 'content-type: application/json' -d '{"action":"force_open","duration":"1m","reason":"drill"}'
import { createServer } from 'node:http'
import { metrics } from '@opentelemetry/api'
import { ConsoleMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics'
import { pino } from 'pino'
import { register } from 'prom-client'
import { circuitBreaker, isBrokenCircuitError, registry } from '../src/index.ts'
import { breakwaterHttp, protect } from '../src/ops/http.ts'
import { logTransitions } from '../src/ops/logging.ts'
import { openTelemetryMetrics } from '../src/ops/otel.ts'
import { prometheusMetrics } from '../src/ops/prometheus.ts'

const port = Number(process.env.PORT ?? 8080)
const token = process.env.OPS_TOKEN // without it the admin routes do not exist
const failureRate = Number(process.env.FEED_FAILURE_RATE ?? 0.2)

const marketData = circuitBreaker('market-data', { consecutiveFailures: 3, openFor: '10s', trackLatency: true })
const ordersApi = protect(circuitBreaker('orders-api', { failureRate: 50, minimumCalls: 10, openFor: '30s' }), { timeout: '5s' })

/** The feed this service depends on: fails `failureRate` of the time. */
async function fetchQuote(symbol: string): Promise<{ symbol: string; price: number }> {
  if (Math.random() < failureRate) throw new Error('market data feed unavailable')
  return { symbol, price: 100 + Math.random() }
}

const log = pino()
const stops = [logTransitions(registry, log), prometheusMetrics(registry, { register })]
if (process.env.OTEL_CONSOLE === '1') {
  const reader = new PeriodicExportingMetricReader({ exporter: new ConsoleMetricExporter(), exportIntervalMillis: 60_000 })
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }))
  stops.push(openTelemetryMetrics(registry, { meter: metrics.getMeter('ops-server') }))
}

const ops = breakwaterHttp(registry, { prefix: '/ops', token, critical: ['market-data'], actor: 'x-actor', log })
const orders = ordersApi.wrap(async (_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' })
  res.end(JSON.stringify([{ id: 'o-1', symbol: 'AAPL', qty: 100 }]))
})

const server = createServer((req, res) => {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname
  if (path.startsWith('/ops/')) return ops(req, res)
  if (path === '/orders') return void orders(req, res)
  if (path === '/quote') {
    marketData
      .execute(() => fetchQuote('AAPL'))
      .then(
        (quote) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(quote)),
        (error: unknown) =>
          res
            .writeHead(isBrokenCircuitError(error) ? 503 : 502, { 'content-type': 'application/json' })
            .end(JSON.stringify({ error: error instanceof Error ? error.message : String(error) })),
      )
    return
  }
  if (path === '/metrics') {
    register.metrics().then(
      (text) => res.writeHead(200, { 'content-type': register.contentType }).end(text),
      (error: unknown) => res.writeHead(500).end(String(error)),
    )
    return
  }
  res.writeHead(404).end()
})

server.listen(port, '127.0.0.1', () => {
  const address = server.address()
  const bound = typeof address === 'object' && address ? address.port : port
  console.log(`ops-server listening on http://127.0.0.1:${bound}`)
})

function shutdown(): void {
  for (const stop of stops) stop()
  ops.close() // ends open /ops/events streams, which would hold the close up
  server.close()
}
process.once('SIGTERM', shutdown)
process.once('SIGINT', shutdown)
