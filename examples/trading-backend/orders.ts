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

  /** Every ledger write goes through the database rehearsal (it may lock the database first). */
  const write = (sql: string, params: unknown[]) => chaos.policies.databaseLock.execute(() => system.db.query(sql, params))

  /** Places one order; it ends in exactly one count: placed, or refused for a reason. */
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
      const by = refusedBy(error)
      counts.refused[by]++
      // Known not to be placed: say so. Unknown (a timeout): the row stays 'new' until settled.
      if (by !== 'unknown') await write(SQL.rejected, [order.id]).catch(() => undefined)
      return
    }
    counts.placed++
    report({ type: 'ack', id: order.id, gatewayId: answer.gatewayId })
    await write(SQL.acked, [answer.gatewayId, order.id]).catch(() => unmarked.set(order.id, answer.gatewayId))
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
          const known = await system.orders.get<{ gatewayId: string }>(`/orders/${id}`)
          unmarked.set(id, known.gatewayId)
        } catch (error) {
          if (isHttpError(error) && error.status === 404) await write(SQL.rejected, [id]).catch(() => undefined)
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  return {
    place,
    catchUp,
    settle,
    get behind(): number {
      return unmarked.size
    },
  }
}

/** Why the gateway did not take an order. */
function refusedBy(error: unknown): RefusedBy {
  if (isBrokenCircuitError(error)) return 'orders-breaker' // never sent: the breaker is open
  if (isHttpError(error) && error.status === 503) return 'gateway-busy' // shed under load
  if ((error as { injected?: boolean }).injected) return 'gateway-down' // the outage rehearsal
  return 'unknown' // a timeout or a lost connection: it may have been placed
}
