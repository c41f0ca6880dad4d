// The strategy loop: one trader per symbol. Each tick: a quote (through the trading pause), a
// prediction (the ONNX model), a decision (code run in the sandbox), and maybe an order
// (ledger first, then the gateway). Every failure has one place where it is handled, and every
// order ends in exactly one count: placed, or refused for a named reason.
import { isBrokenCircuitError, isHttpError } from '../../src/index.ts'
import type { Backend } from './backend.ts'
import { SQL } from './ledger.ts'
import { features } from './services/model.ts'
import { SYMBOLS } from './services/market-data.ts'
import type { Order } from './services/order-gateway.ts'

export type RefusedBy = 'ledger' | 'orders-breaker' | 'gateway-busy' | 'gateway-down' | 'unknown'

export interface TradingCounts {
  ticks: number
  /** Ticks skipped because the trading pause (or the market-data breaker) was open. */
  paused: number
  /** Decisions made without the sandbox (its breakers open, or it crashed): hold. */
  sandboxDown: number
  placed: number
  refused: Record<RefusedBy, number>
}

/** What the loop reports as it goes (the JSON lines of `--json`). */
export type Report = (event: Record<string, unknown>) => void

const TICK_MS = 20
/** A decision turns into an order this often: enough orders to see, not a flood. */
const ORDER_PROBABILITY = 0.3
/** The basket of the rebalance at the start: more than the gateway's burst of 10. */
const REBALANCE_ORDERS = 16

/** The decision, as code the sandbox runs: the strategy's logic lives apart from the process that holds the money. */
const decideCode = (expectedBp: number, spreadBp: number) =>
  `const expected = ${expectedBp}, spread = ${spreadBp}; return expected > spread ? 'buy' : expected < -spread ? 'sell' : 'hold'`

export function strategy(backend: Backend, runId: string, report: Report) {
  const { system, pause, chaos } = backend
  const counts: TradingCounts = {
    ticks: 0,
    paused: 0,
    sandboxDown: 0,
    placed: 0,
    refused: { ledger: 0, 'orders-breaker': 0, 'gateway-busy': 0, 'gateway-down': 0, unknown: 0 },
  }
  /** Acknowledged orders whose 'acked' mark could not be written yet (the database was down). */
  const unmarked = new Map<string, string>()
  let nextOrder = 0
  /**
   * Sandboxes made ahead, oldest (the one in use) first: a warm pool of two, so a crashed sandbox
   * is replaced at once by the spare instead of after a process start-up.
   */
  const pool: Array<Promise<string | undefined>> = []

  /** Every ledger write goes through the database rehearsal (it may lock the database first). */
  const write = (sql: string, params: unknown[]) => chaos.policies.databaseLock.execute(() => system.db.query(sql, params))

  /** Tops the pool up to two; a failed creation (counted by the create breaker) leaves a gap, filled next time. */
  const fill = () => {
    while (pool.length < 2) {
      const made: Promise<string | undefined> = system.sandbox.create('strategy').then(
        (box) => {
          report({ type: 'sandbox', id: box.sandboxId, pid: box.pid })
          return box.sandboxId
        },
        () => {
          if (pool.includes(made)) pool.splice(pool.indexOf(made), 1)
          return undefined
        },
      )
      pool.push(made)
    }
  }
  async function decide(expectedBp: number): Promise<'buy' | 'sell' | 'hold'> {
    fill()
    const slot = pool[0]!
    const id = await slot
    if (id === undefined) {
      counts.sandboxDown++
      return 'hold'
    }
    try {
      const run = await chaos.policies.sandboxCrash.execute(() => system.sandbox.execute(id, decideCode(expectedBp, 0.5)))
      return (run.results[0] as 'buy' | 'sell' | 'hold' | undefined) ?? 'hold'
    } catch (error) {
      // The sandbox crashed (the adapter killed what was left of it): the spare takes over.
      // Refused by the open breaker: the sandbox was not even called, keep it.
      if (!isBrokenCircuitError(error) && pool[0] === slot) pool.shift()
      counts.sandboxDown++
      return 'hold'
    }
  }

  async function place(order: Order): Promise<void> {
    try {
      await write(SQL.intent, [order.id, runId, order.symbol, order.side, order.qty, order.price, Date.now()])
    } catch {
      counts.refused.ledger++ // no intent in the ledger, no order: nothing can be lost
      return
    }
    let answer: { gatewayId: string }
    try {
      answer = await system.orders.post<{ gatewayId: string }>('/orders', order)
    } catch (error) {
      const by: RefusedBy = isBrokenCircuitError(error)
        ? 'orders-breaker'
        : isHttpError(error) && error.status === 503
          ? 'gateway-busy'
          : (error as { injected?: boolean }).injected
            ? 'gateway-down'
            : 'unknown'
      counts.refused[by]++
      // Known not to be placed: say so. Unknown (a timeout): the row stays 'new' until reconciled.
      if (by !== 'unknown') await write(SQL.rejected, [order.id]).catch(() => undefined)
      return
    }
    counts.placed++
    report({ type: 'ack', id: order.id, gatewayId: answer.gatewayId })
    await write(SQL.acked, [answer.gatewayId, order.id]).catch(() => unmarked.set(order.id, answer.gatewayId))
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
    const input = features([bp(last, prices.at(-2)!), bp(last, prices.at(-6)!), bp(last, mean)])
    const out = await backend.inference.execute(() => system.predictor.predict(input))
    const side = await decide(Number((out.expected!.data as Float32Array)[0]))
    if (side === 'hold' || Math.random() > ORDER_PROBABILITY) return
    await place({ id: `${runId}-${++nextOrder}`, symbol, side, qty: 1 + Math.floor(Math.random() * 10), price: last })
  }

  /** Writes the 'acked' marks the database refused earlier. */
  async function markAcknowledged(): Promise<void> {
    for (const [id, gatewayId] of unmarked) {
      await write(SQL.acked, [gatewayId, id]).then(
        () => unmarked.delete(id),
        () => undefined,
      )
    }
  }

  /**
   * Makes the first calls before the clock starts (a sandbox process, a quote per symbol, a
   * prediction), so a short run spends its time trading, not starting up.
   */
  async function warmUp(): Promise<void> {
    fill()
    // A failure here is counted by its breaker like any other; the run starts anyway.
    await Promise.allSettled([pool[0], ...SYMBOLS.map((symbol) => system.marketData.get(`/quotes/${symbol}`)), system.predictor.predict(features([0, 0, 0]))])
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
    await Promise.all(basket.map(place))
  }

  /** Runs every trader until `signal` aborts; resolves when each has finished its tick. */
  async function run(signal: AbortSignal): Promise<void> {
    const trader = async (symbol: string) => {
      const prices: number[] = []
      while (!signal.aborted) {
        await tick(symbol, prices)
        if (unmarked.size > 0) await markAcknowledged()
        await new Promise((resolve) => setTimeout(resolve, TICK_MS))
      }
    }
    await Promise.all([rebalance(), ...SYMBOLS.map(trader)])
  }

  /**
   * After the run: writes what is still unwritten, and asks the gateway about the orders whose
   * answer never reached the ledger, for up to `withinMs` (the database breaker may still be
   * open for a moment).
   */
  async function settle(withinMs: number): Promise<void> {
    const deadline = Date.now() + withinMs
    for (;;) {
      await markAcknowledged()
      const open = backend.ledgerDb.prepare(SQL.unsettled).all(runId) as { id: string }[]
      if (open.length === 0 || Date.now() > deadline) return
      for (const { id } of open) {
        if (unmarked.has(id)) continue
        try {
          const known = await system.orders.get<{ gatewayId: string }>(`/orders/${id}`)
          unmarked.set(id, known.gatewayId)
        } catch (error) {
          if (isHttpError(error) && error.status === 404) await write(SQL.rejected, [id]).catch(() => undefined)
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  return { counts, warmUp, run, settle }
}
