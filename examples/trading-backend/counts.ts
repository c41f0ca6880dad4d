// What a run counts and reports, shared by the strategy, the order desk and the summary.

/** Why an order was not placed. */
export type RefusedBy = 'ledger' | 'orders-breaker' | 'gateway-busy' | 'gateway-down' | 'never-arrived'

export interface TradingCounts {
  ticks: number
  /** Ticks skipped because the trading pause (or the market-data breaker) was open. */
  paused: number
  /** Decisions made without the sandbox (its breakers open, or it crashed): hold. */
  sandboxDown: number
  placed: number
  refused: Record<RefusedBy, number>
  /** Sent, but the answer was lost (a timeout): settled with the gateway at the end. */
  unanswered: number
}

export function newCounts(): TradingCounts {
  return {
    ticks: 0,
    paused: 0,
    sandboxDown: 0,
    placed: 0,
    refused: { ledger: 0, 'orders-breaker': 0, 'gateway-busy': 0, 'gateway-down': 0, 'never-arrived': 0 },
    unanswered: 0,
  }
}

/** What the run reports as it goes (the JSON lines of `--json`). */
export type Report = (event: Record<string, unknown>) => void
