// The order gateway (a broker's API): POST /orders acknowledges an order, idempotently by its id;
// GET /orders/:id says whether it was acknowledged. Under load (more orders in flight than it
// takes) it sheds them with 503 and Retry-After, as real gateways do: the orders breaker then
// holds off for that long instead of hammering it.
import type { IncomingMessage } from 'node:http'
import { listen, type Running, sendJson } from './http-server.ts'

export interface Order {
  id: string
  symbol: string
  side: 'buy' | 'sell'
  qty: number
  price: number
}

export interface Gateway extends Running {
  /** The ids of every order this gateway acknowledged: the truth the ledger is checked against. */
  readonly acknowledged: ReadonlyMap<string, string>
  /** Orders shed with 503. */
  readonly shed: number
}

/**
 * A gateway routing each order to the exchange in `routeMs`, at most `maxInFlight` at a time:
 * one more is shed at once (a busy gateway says so rather than queue without end).
 */
export async function startOrderGateway(maxInFlight = 8, routeMs = 100): Promise<Gateway> {
  const acknowledged = new Map<string, string>()
  /** Orders being routed now: their answer is not known yet. */
  const routing = new Set<string>()
  let inFlight = 0
  let shed = 0
  const running = await listen((req, res) => {
    const known = /^\/orders\/([\w-]+)$/.exec(req.url ?? '')
    if (req.method === 'GET' && known) {
      const id = known[1]!
      const gatewayId = acknowledged.get(id)
      if (gatewayId) return sendJson(res, 200, { id, gatewayId })
      return routing.has(id) ? sendJson(res, 202, { id, pending: true }) : sendJson(res, 404, { error: 'unknown order' })
    }
    if (req.method !== 'POST' || req.url !== '/orders') return sendJson(res, 404, { error: 'no such route' })
    readJson(req).then(
      (order) => {
        if (!isOrder(order)) return sendJson(res, 400, { error: 'not an order' })
        const again = acknowledged.get(order.id)
        if (again) return sendJson(res, 200, { id: order.id, gatewayId: again }) // a repeat is answered, not filled twice
        if (routing.has(order.id)) return sendJson(res, 202, { id: order.id, pending: true })
        if (inFlight >= maxInFlight) {
          shed++
          return sendJson(res, 503, { error: 'overloaded' }, { 'retry-after': '1' })
        }
        inFlight++
        routing.add(order.id)
        setTimeout(() => {
          inFlight--
          routing.delete(order.id)
          const gatewayId = `gw-${acknowledged.size + 1}`
          acknowledged.set(order.id, gatewayId)
          sendJson(res, 201, { id: order.id, gatewayId })
        }, routeMs)
      },
      () => sendJson(res, 400, { error: 'unreadable body' }),
    )
  })
  return {
    ...running,
    acknowledged,
    get shed() {
      return shed
    },
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  let text = ''
  for await (const chunk of req) text += chunk
  return JSON.parse(text)
}

function isOrder(value: unknown): value is Order {
  const o = value as Partial<Order> | null
  return typeof o === 'object' && o !== null && typeof o.id === 'string' && typeof o.symbol === 'string' && (o.side === 'buy' || o.side === 'sell')
}
