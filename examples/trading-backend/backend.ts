// The wiring: every service on loopback, each behind its adapter through tradingSystem(), the
// trading pause on quote latency, and the chaos policies placed innermost (inside the breakers,
// through each client's `fetch`), so the breakers see a rehearsed fault as they would a real one.
import * as ort from 'onnxruntime-node'
import { bulkhead, type ChaosPolicy, registry, tradingPause, tradingSystem } from '../../src/index.ts'
import { faults } from './chaos-schedule.ts'
import { type Ledger, openLedger, settleEarlierRuns } from './ledger.ts'
import { startMarketData } from './services/market-data.ts'
import { loadModel } from './services/model.ts'
import { startOrderGateway } from './services/order-gateway.ts'
import { LocalSandbox } from './services/sandbox.ts'

/** A fetch that goes through a chaos policy first: the policy can delay it or fail it. */
function chaoticFetch(policy: ChaosPolicy<never>): typeof fetch {
  return (input, init) => policy.execute(() => fetch(input, init), init?.signal ? { signal: init.signal } : undefined)
}

/** The breakers' open duration, scaled to the run: long enough to see, short enough to recover in time. */
export function openForOf(cycleMs: number): number {
  return Math.min(15_000, Math.max(250, Math.round(cycleMs / 25)))
}

export async function startBackend(cycleMs: number, dbPath: string) {
  const openFor = openForOf(cycleMs)
  const ledgerDb: Ledger = openLedger(dbPath)
  const settledAtStart = settleEarlierRuns(ledgerDb)
  const [marketData, gateway, session] = await Promise.all([startMarketData(), startOrderGateway(), loadModel()])
  const chaos = faults(cycleMs, { dbPath, currentSandbox: () => [...LocalSandbox.running][0] })

  const system = tradingSystem({
    marketData: { baseUrl: marketData.url, fetch: chaoticFetch(chaos.policies.marketDataLatency), breaker: { openFor } },
    orders: { baseUrl: gateway.url, fetch: chaoticFetch(chaos.policies.gatewayOutage), breaker: { openFor, halfOpenSuccesses: 2 } },
    predictor: {
      session,
      // A model that fails or times out is replaced by "no view" (0 bp): trading goes on, more carefully.
      fallback: () => ({ expected: new ort.Tensor('float32', [0], [1, 1]) }),
      breaker: { openFor },
    },
    db: { client: ledgerDb, timeout: '1s', breaker: { consecutiveFailures: 3, openFor } },
    sandbox: {
      client: LocalSandbox,
      createTimeout: '5s',
      executeTimeout: '2s',
      createBreaker: { consecutiveFailures: 3, openFor },
      executeBreaker: { consecutiveFailures: 2, openFor },
    },
  })

  // Trading pauses while the P99 of the last 50 quotes is above 100 ms: stale quotes make bad orders.
  const pause = tradingPause('trading-pause', { threshold: '100ms', windowSize: 50, minimumCalls: 20, openFor })

  // At most two predictions at a time, four waiting: a slow model cannot take every trader with it.
  const inference = bulkhead('predictor', { maxConcurrent: 2, maxQueue: 4 })

  const close = async () => {
    await Promise.all([marketData.close(), gateway.close(), LocalSandbox.killAll()])
    await session.release()
    ledgerDb.close()
  }
  return { system, pause, inference, chaos, gateway, ledgerDb, settledAtStart, openFor, registry, close }
}

export type Backend = Awaited<ReturnType<typeof startBackend>>
