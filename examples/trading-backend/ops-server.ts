// The operations server: breakwater's HTTP handler (breakers, health, events, the dashboard)
// and Prometheus metrics, breakers and chaos rehearsals alike.
import { register } from 'prom-client'
import type { Bulkhead, ChaosPolicy, Registry, RetryPolicy } from '../../src/index.ts'
import { breakwaterHttp } from '../../src/ops/http.ts'
import { prometheusChaos, prometheusMetrics } from '../../src/ops/prometheus.ts'
import { listen, type Running } from './services/http-server.ts'

/** What the ops server shows besides the breakers. */
export interface Shown {
  chaos: Record<string, ChaosPolicy<never>>
  bulkheads: Bulkhead[]
  retries: Record<string, RetryPolicy>
}

export async function startOpsServer(registry: Registry, { chaos, bulkheads, retries }: Shown, port: number, token: string): Promise<Running> {
  // The dashboard's buttons (force open, close, isolate) appear once the token is entered.
  const ops = breakwaterHttp(registry, { token, critical: ['orders', 'trading-db'], bulkheads, retries })
  const stopMetrics = [prometheusMetrics(registry, { register, bulkheads, retries }), prometheusChaos(chaos, { register })]
  const handler: Parameters<typeof listen>[0] = (req, res) => {
    if (req.url !== '/metrics') return ops(req, res)
    register.metrics().then(
      (text) => res.writeHead(200, { 'content-type': register.contentType }).end(text),
      (error: unknown) => res.writeHead(500).end(String(error)),
    )
  }
  const running = await listen(handler, port).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EADDRINUSE') throw error
    console.error(`port ${port} is taken: using a free one`)
    return listen(handler, 0)
  })
  return {
    ...running,
    close: async () => {
      ops.close() // open /events streams would hold the server up
      for (const stop of stopMetrics) stop()
      await running.close()
    },
  }
}
