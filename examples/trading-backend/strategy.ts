// The strategy loop: one trader per symbol. Each tick: a quote (through the trading pause), a
// prediction (the ONNX model), a decision (code run in the sandbox), and maybe an order
// (ledger first, then the gateway). Every failure has one place where it is handled, and every
// order ends in exactly one count: placed, or refused for a named reason.
import { isBrokenCircuitError } from '../../src/index.ts'
import type { Backend } from './backend.ts'
import { newCounts, type Report } from './counts.ts'
import { orderDesk } from './orders.ts'
import { sandboxPool } from './sandbox-pool.ts'
import { features } from './services/model.ts'
import { SYMBOLS } from './services/market-data.ts'
import type { Order } from './services/order-gateway.ts'

const TICK_MS = 20
/** A decision turns into an order this often: enough orders to see, not a flood. */
const ORDER_PROBABILITY = 0.3
/** The basket of the rebalance at the start: more than the 8 orders the gateway routes at once. */
const REBALANCE_ORDERS = 20

/** The decision, as code the sandbox runs: the strategy's logic lives apart from the process that holds the money. */
const decideCode = (expectedBp: number, spreadBp: number) =>
  `const expected = ${expectedBp}, spread = ${spreadBp}; return expected > spread ? 'buy' : expected < -spread ? 'sell' : 'hold'`

export function strategy(backend: Backend, runId: string, report: Report) {
  const { system, pause, chaos } = backend
  const counts = newCounts()
  const desk = orderDesk(backend, runId, counts, report)
  const sandboxes = sandboxPool(system.sandbox, report)
  let nextOrder = 0

  /** Buy, sell or hold, decided by code run in the sandbox; hold when the sandbox is down. */
  async function decide(expectedBp: number): Promise<'buy' | 'sell' | 'hold'> {
    const id = await sandboxes.inUse()
    if (id === undefined) {
      counts.sandboxDown++
      return 'hold'
    }
    try {
      const run = await chaos.policies.sandboxCrash.execute(() => system.sandbox.execute(id, decideCode(expectedBp, 0.5)))
      return (run.results[0] as 'buy' | 'sell' | 'hold' | undefined) ?? 'hold'
    } catch (error) {
      // Crashed (the adapter killed what was left of it): the spare takes over. Refused by the
      // open breaker: the sandbox was not even called, keep it.
      if (!isBrokenCircuitError(error)) sandboxes.discard(id)
      counts.sandboxDown++
      return 'hold'
    }
  }

  /** The model's expected next return in basis points; 0 ("no view") when it cannot answer. */
  async function predict(features3: [number, number, number]): Promise<number> {
    try {
      const out = await backend.inference.execute(() => system.predictor.predict(features(features3)))
      return Number((out.expected!.data as Float32Array)[0])
    } catch {
      return 0 // the bulkhead was full: too many predictions waiting already
    }
  }

  async function tick(symbol: string, prices: number[]): Promise<void> {
    counts.ticks++
    let quote: { price: number }
    try {
      quote = await pause.execute(() => system.marketData.get<{ price: number }>(`/quotes/${symbol}`))
    } catch (error) {
      if (isBrokenCircuitError(error)) counts.paused++
      return
    }
    prices.push(quote.price)
    if (prices.length > 20) prices.shift()
    if (prices.length < 6) return
    const bp = (a: number, b: number) => ((a - b) / b) * 10_000
    const last = prices.at(-1)!
    const mean = prices.reduce((s, p) => s + p, 0) / prices.length
    const side = await decide(await predict([bp(last, prices.at(-2)!), bp(last, prices.at(-6)!), bp(last, mean)]))
    if (side === 'hold' || Math.random() > ORDER_PROBABILITY) return
    await desk.place({ id: `${runId}-${++nextOrder}`, symbol, side, qty: 1 + Math.floor(Math.random() * 10), price: last })
  }

  /**
   * Makes the first calls before the clock starts (a sandbox process, a quote per symbol, a
   * prediction), so a short run spends its time trading, not starting up.
   */
  async function warmUp(): Promise<void> {
    // A failure here is counted by its breaker like any other; the run starts anyway.
    await Promise.allSettled([
      sandboxes.inUse(),
      ...SYMBOLS.map((symbol) => system.marketData.get(`/quotes/${symbol}`)),
      system.predictor.predict(features([0, 0, 0])),
    ])
  }

  /**
   * A rebalance: a basket of orders sent at once, more than the gateway takes in a burst. It
   * sheds some with 503 and Retry-After; the orders breaker then holds off for that long.
   */
  async function rebalance(): Promise<void> {
    const basket = Array.from({ length: REBALANCE_ORDERS }, (_, i): Order => {
      const symbol = SYMBOLS[i % SYMBOLS.length]!
      return { id: `${runId}-${++nextOrder}`, symbol, side: i % 2 === 0 ? 'buy' : 'sell', qty: 5, price: 0 } // price 0: at market
    })
    await desk.placeBasket(basket)
  }

  /** Runs every trader until `signal` aborts; resolves when each has finished its tick. */
  async function run(signal: AbortSignal): Promise<void> {
    const trader = async (symbol: string) => {
      const prices: number[] = []
      while (!signal.aborted) {
        await tick(symbol, prices).catch((error: unknown) => report({ type: 'error', symbol, message: String(error) })) // a bug must not stop trading
        if (desk.behind > 0) await desk.catchUp()
        await new Promise((resolve) => setTimeout(resolve, TICK_MS))
      }
    }
    await Promise.all([rebalance(), ...SYMBOLS.map(trader)])
  }

  return { counts, warmUp, run, settle: desk.settle }
}
