// What a run did, read from the breakers' own metrics, the strategy's counts, the chaos
// policies' stats and the ledger check; printed as a table, or as one JSON line (--json).
import type { Registry } from '../../src/index.ts'
import type { ChaosStats } from '../../src/index.ts'
import type { LedgerCheck } from './ledger.ts'
import type { TradingCounts } from './counts.ts'

export interface BreakerSummary {
  state: string
  calls: number
  /** Calls refused without being made. */
  refusals: number
  opens: number
  /** Closes after an opening (half-open probes that succeeded). */
  recoveries: number
}

export interface Summary {
  type: 'summary'
  durationMs: number
  breakers: Record<string, BreakerSummary>
  /** `unanswered`: sent, and neither the answer nor the gateway's word on it came before the end. */
  orders: { placed: number; refused: number; refusedBy: TradingCounts['refused']; unanswered: number }
  trading: { ticks: number; paused: number; sandboxDown: number }
  chaos: Record<string, { injected: number; stopped: string | null }>
  ledger: LedgerCheck & { settledFromEarlierRuns: number }
}

export function summarize(
  registry: Registry,
  durationMs: number,
  counts: TradingCounts,
  chaos: Record<string, { stats(): ChaosStats }>,
  ledger: Summary['ledger'],
): Summary {
  const breakers: Record<string, BreakerSummary> = {}
  for (const [name, m] of Object.entries(registry.health())) {
    const recoveries = m.transitions.filter((t) => t.from === 'half_open' && t.to === 'closed').reduce((n, t) => n + t.count, 0)
    breakers[name] = { state: m.state, calls: m.calls, refusals: m.rejections, opens: m.timesOpened, recoveries }
  }
  const refused = Object.values(counts.refused).reduce((a, b) => a + b, 0)
  const chaosSummary = Object.fromEntries(
    Object.entries(chaos).map(([name, policy]) => {
      const s = policy.stats()
      return [name, { injected: Object.values(s.injected).reduce((a, b) => a + b, 0), stopped: s.stopped ?? null }]
    }),
  )
  return {
    type: 'summary',
    durationMs,
    breakers,
    orders: { placed: counts.placed, refused, refusedBy: counts.refused, unanswered: counts.unanswered },
    trading: { ticks: counts.ticks, paused: counts.paused, sandboxDown: counts.sandboxDown },
    chaos: chaosSummary,
    ledger,
  }
}

export function printSummary(s: Summary): void {
  console.log(`\nRan ${(s.durationMs / 1000).toFixed(1)} s.\n\nBreakers:`)
  console.table(s.breakers)
  console.log('Chaos (injected, and why each rehearsal stopped):')
  console.table(s.chaos)
  const by = Object.entries(s.orders.refusedBy)
    .filter(([, n]) => n > 0)
    .map(([why, n]) => `${why} ${n}`)
    .join(', ')
  const unanswered = s.orders.unanswered > 0 ? `, ${s.orders.unanswered} unanswered` : ''
  console.log(`Orders: ${s.orders.placed} placed, ${s.orders.refused} refused${by ? ` (${by})` : ''}${unanswered}`)
  console.log(`Trading: ${s.trading.ticks} ticks, ${s.trading.paused} paused, ${s.trading.sandboxDown} decided without the sandbox`)
  const l = s.ledger
  const verdict = l.ok ? 'OK: every acknowledged order is in the ledger' : 'FAILED'
  console.log(
    `Ledger check: ${verdict} (${l.acknowledged} acknowledged, ${l.lost} lost, ${l.unsettled} unsettled, ${l.rows} rows, integrity ${l.integrity}` +
      `${l.settledFromEarlierRuns > 0 ? `, ${l.settledFromEarlierRuns} orders of an interrupted run marked unknown` : ''})`,
  )
}
