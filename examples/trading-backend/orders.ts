// The order path: the ledger first (an intent), then the gateway, then the gateway's answer in
// the ledger. So an order the gateway acknowledged is always in the ledger; what could not be
// written yet is written later, and what is unknown is asked of the gateway at the end.
import { isBrokenCircuitError, isHttpError } from '../../src/index.ts'
import type { Backend } from './backend.ts'
import { SQL } from './ledger.ts'
import type { Order } from './services/order-gateway.ts'
import type { RefusedBy, Report, TradingCounts } from './counts.ts'

export function orderDesk(backend: Backend, runId: string, counts: TradingCounts, report: Report) {
  const { system, chaos } = backend
  /** Acknowledged orders whose 'acked' mark could not be written yet (the database was down). */
  const unmarked = new Map<string, string>()
  /** Orders sent whose answer was lost: asked of the gateway when the run ends. */
  const unanswered = new Set<string>()

  /** Every ledger write goes through the database rehearsal (it may lock the database first). */
  const write = (sql: string, params: unknown[]) => chaos.policies.databaseLock.execute(() => system.db.query(sql, params))

  /** Writes the order's intent; false (and counted as refused) when the ledger cannot take it. */
  async function record(order: Order): Promise<boolean> {
    try {
      await write(SQL.intent, [order.id, runId, order.symbol, order.side, order.qty, order.price, Date.now()])
      return true
    } catch {
      counts.refused.ledger++ // no intent in the ledger, no order: nothing can be lost
      return false
    }
  }

  /** Sends a recorded order and writes the answer: placed, refused for a reason, or unanswered (settled at the end). */
  async function send(order: Order): Promise<void> {
    let answer: { gatewayId: string }
    try {
      answer = await system.orders.post<{ gatewayId: string }>('/orders', order)
    } catch (error) {
      const by = refusedBy(error)
      if (by === undefined) {
        // A timeout or a lost connection: it may have been placed. The row stays 'new' until settled.
        counts.unanswered++
        unanswered.add(order.id)
        return
      }
      counts.refused[by]++
      await write(SQL.rejected, [order.id]).catch(() => undefined) // known not to be placed
      return
    }
    await acknowledged(order.id, answer.gatewayId)
  }

  /** The gateway took the order: count it, say so, and write it (now, or when the database is back). */
  async function acknowledged(id: string, gatewayId: string, late = false): Promise<void> {
    counts.placed++
    report({ type: 'ack', id, gatewayId, ...(late ? { late } : {}) })
    await write(SQL.acked, [gatewayId, id]).catch(() => unmarked.set(id, gatewayId))
  }

  /** Places one order: the ledger first, then the gateway. */
  async function place(order: Order): Promise<void> {
    if (await record(order)) await send(order)
  }

  /** Places a basket: every intent first, then every order at once (as a broker's basket API would). */
  async function placeBasket(orders: Order[]): Promise<void> {
    const recorded: Order[] = []
    for (const order of orders) if (await record(order)) recorded.push(order)
    await Promise.all(recorded.map(send))
  }

  /** Writes the 'acked' marks the database refused earlier. */
  async function catchUp(): Promise<void> {
    for (const [id, gatewayId] of unmarked) {
      await write(SQL.acked, [gatewayId, id]).then(
        () => unmarked.delete(id),
        () => undefined,
      )
    }
  }

  /**
   * After the run: writes what is still unwritten, and asks the gateway about the orders whose
   * answer never reached the ledger, for up to `withinMs` (the database breaker may still be
   * open for a moment).
   */
  async function settle(withinMs: number): Promise<void> {
    const deadline = Date.now() + withinMs
    for (;;) {
      await catchUp()
      const open = backend.ledgerDb.prepare(SQL.unsettled).all(runId) as { id: string }[]
      if (open.length === 0 || Date.now() > deadline) return
      for (const { id } of open) {
        if (unmarked.has(id)) continue
        try {
          const known = await system.orders.get<{ gatewayId?: string }>(`/orders/${id}`)
          if (known.gatewayId === undefined) continue // still being routed: ask again
          if (unanswered.delete(id)) {
            counts.unanswered--
            await acknowledged(id, known.gatewayId, true)
          } else unmarked.set(id, known.gatewayId)
        } catch (error) {
          if (!isHttpError(error) || error.status !== 404) continue // ask again
          if (unanswered.delete(id)) {
            counts.unanswered--
            counts.refused['never-arrived']++
          }
          await write(SQL.rejected, [id]).catch(() => undefined)
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  return {
    place,
    placeBasket,
    catchUp,
    settle,
    get behind(): number {
      return unmarked.size
    },
  }
}

/** Why the gateway did not take an order; undefined when we cannot know (it may have). */
function refusedBy(error: unknown): RefusedBy | undefined {
  if (isBrokenCircuitError(error)) return 'orders-breaker' // never sent: the breaker is open
  if (isHttpError(error) && error.status === 503) return 'gateway-busy' // shed under load
  if ((error as { injected?: boolean }).injected) return 'gateway-down' // the outage rehearsal
  if (isHttpError(error)) return 'gateway-down' // answered with an error: not placed
  return undefined // a timeout or a lost connection: it may have been placed
}
