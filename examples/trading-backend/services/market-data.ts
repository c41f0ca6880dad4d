// The market-data service: GET /quotes/:symbol answers a price that walks at random.
// A stand-in for a real feed; the demo slows it down with chaos(), never here.
import { listen, type Running, sendJson } from './http-server.ts'

export const SYMBOLS = ['AAPL', 'MSFT', 'NVDA'] as const

export function startMarketData(): Promise<Running> {
  const prices = new Map<string, number>(SYMBOLS.map((s, i) => [s, 100 + 50 * i]))
  return listen((req, res) => {
    const symbol = /^\/quotes\/([A-Z]+)$/.exec(req.url ?? '')?.[1] ?? ''
    const price = prices.get(symbol)
    if (req.method !== 'GET' || price === undefined) return sendJson(res, 404, { error: 'no such quote' })
    const next = Math.max(1, price * (1 + (Math.random() - 0.5) * 0.002))
    prices.set(symbol, next)
    sendJson(res, 200, { symbol, price: Number(next.toFixed(4)), at: Date.now() })
  })
}
