// The rehearsal: four faults, one after another, each a chaos() policy that is off until its
// turn, ends by itself (its TTL), and stops at once when the breaker it aims at opens (its
// safety stop). The times are shares of one cycle, so a 30-second run and a 10-minute run go
// through the same story; without --duration the cycle repeats.
import { type ChaosPolicy, chaos, registry } from '../../src/index.ts'
import { lockDatabase } from './ledger.ts'
import type { LocalSandbox } from './services/sandbox.ts'

/** When each fault starts (share of the cycle) and how long it may last at most. */
const STEPS = { marketDataLatency: 0.08, gatewayOutage: 0.3, databaseLock: 0.52, sandboxCrash: 0.74 } as const
const FAULT_SHARE = 0.15
/** The breaker each rehearsal aims at: its safety stop, and what must be closed for it to start. */
const TARGETS = { marketDataLatency: 'trading-pause', gatewayOutage: 'orders', databaseLock: 'trading-db', sandboxCrash: 'strategy-sandbox:execute' } as const

export type FaultName = keyof typeof STEPS

export interface Faults {
  policies: Record<FaultName, ChaosPolicy<never>>
  /** Enables each policy at its time, every cycle, until `signal` aborts. */
  start(signal: AbortSignal, onStep: (name: FaultName) => void): void
}

export interface FaultTargets {
  /** The ledger's file, locked from a second connection. */
  dbPath: string
  /** The sandbox the strategy runs in now (the oldest running: the others are spares), if any. */
  currentSandbox(): LocalSandbox | undefined
}

export function faults(cycleMs: number, targets: FaultTargets): Faults {
  const lasts = Math.round(cycleMs * FAULT_SHARE)
  let lock: { release(): void } | undefined
  const policies = {
    // Market data slows down: half the quotes take 150-400 ms. The trading pause (P99 of
    // the quote latency) opens, and that ends the rehearsal.
    marketDataLatency: chaos({ latency: () => 150 + Math.random() * 250, rate: 0.5, for: lasts, stopWhen: { breakerOpen: TARGETS.marketDataLatency } }),
    // The order gateway cannot be reached: every order fails until the orders breaker opens.
    gatewayOutage: chaos({ fault: () => new Error('order gateway unreachable'), for: lasts, stopWhen: { breakerOpen: TARGETS.gatewayOutage } }),
    // Someone locks the database (a migration, a stuck batch): ledger writes fail with
    // SQLITE_BUSY, for real, until the database breaker opens; the lock is gone a little later.
    databaseLock: chaos({
      behavior: () => {
        lock ??= lockDatabase(targets.dbPath, lasts)
      },
      for: lasts,
      stopWhen: { breakerOpen: TARGETS.databaseLock },
    }),
    // The strategy's sandbox crashes (its process is killed) under each call, until the
    // sandbox's execute breaker opens.
    sandboxCrash: chaos({ behavior: () => targets.currentSandbox()?.crash(), for: lasts, stopWhen: { breakerOpen: TARGETS.sandboxCrash } }),
  }
  const locks = new Set<{ release(): void }>()
  policies.databaseLock.onStop(() => {
    // The lock outlives the rehearsal a little (as a real one would), then goes.
    const held = lock
    if (held) locks.add(held)
    setTimeout(
      () => {
        held?.release()
        if (held) locks.delete(held)
      },
      Math.min(lasts, 500),
    ).unref()
    lock = undefined
  })
  const start = (signal: AbortSignal, onStep: (name: FaultName) => void) => {
    const timers = new Set<NodeJS.Timeout>()
    const later = (fn: () => void, ms: number) => {
      const timer = setTimeout(() => {
        timers.delete(timer)
        fn()
      }, ms)
      timers.add(timer)
    }
    // A rehearsal starts on a healthy target: while its breaker is not closed (the gateway's
    // Retry-After holds the orders breaker open for a second now and then), it waits a little.
    const begin = (name: FaultName, waitedMs: number) => {
      const healthy = (registry.get(TARGETS[name])?.state ?? 'closed') === 'closed'
      if (!healthy && waitedMs < lasts / 2) return later(() => begin(name, waitedMs + 50), 50)
      policies[name].enable()
      onStep(name)
    }
    const cycle = () => {
      for (const [name, share] of Object.entries(STEPS) as [FaultName, number][]) later(() => begin(name, 0), share * cycleMs)
      later(cycle, cycleMs)
    }
    cycle()
    signal.addEventListener('abort', () => {
      for (const t of timers) clearTimeout(t)
      for (const policy of Object.values(policies)) policy.disable()
      lock?.release()
      for (const held of locks) held.release()
    })
  }
  return { policies, start }
}
