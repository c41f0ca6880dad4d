// The ledger: every order, written BEFORE it is sent (an intent), then marked with the
// gateway's answer. So an order the gateway acknowledged is always in the ledger, whatever
// fails or crashes in between; at worst its row says 'new' (we do not know the answer yet).
// better-sqlite3 on a WAL file: a crash of the process loses no committed row.
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'

export type Ledger = Database.Database

export const SQL = {
  intent: `insert into orders (id, run, symbol, side, qty, price, status, created_at) values (?, ?, ?, ?, ?, ?, 'new', ?)`,
  acked: `update orders set status = 'acked', gateway_id = ? where id = ?`,
  rejected: `update orders set status = 'rejected' where id = ? and status = 'new'`,
  unsettled: `select id from orders where run = ? and status = 'new'`,
}

/**
 * Opens (or creates) the ledger. `busyMs` is how long a write waits for a lock held by another
 * connection before failing with SQLITE_BUSY: short, so a locked database fails fast and its
 * breaker opens, instead of every call stalling the event loop.
 */
export function openLedger(path: string, busyMs = 10): Ledger {
  mkdirSync(dirname(path), { recursive: true })
  const db = new Database(path, { timeout: busyMs })
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  db.exec(`create table if not exists orders (
    id text primary key,
    run text not null,
    symbol text not null,
    side text not null check (side in ('buy', 'sell')),
    qty integer not null check (qty > 0),
    price real not null,
    status text not null check (status in ('new', 'acked', 'rejected', 'unknown')),
    gateway_id text,
    created_at integer not null
  )`)
  return db
}

/**
 * At start: the rows a previous run left as 'new' were sent (or about to be) when it stopped,
 * and its gateway's answer is gone with it. They become 'unknown': to reconcile with the
 * broker's statement, never silently dropped or resent.
 */
export function settleEarlierRuns(db: Ledger): number {
  return db.prepare(`update orders set status = 'unknown' where status = 'new'`).run().changes
}

export interface LedgerCheck {
  /** Orders the gateway acknowledged in this run. */
  acknowledged: number
  /** Of those, how many are missing from the ledger: must be 0. */
  lost: number
  /** Of those, how many the ledger has but not yet as acknowledged (the answer was not written). */
  unsettled: number
  /** Rows in the ledger, every run. */
  rows: number
  /** `PRAGMA integrity_check`: 'ok' for a sound file. */
  integrity: string
  ok: boolean
}

/** Checks the ledger against the gateway's own list of what it acknowledged. */
export function checkLedger(db: Ledger, acknowledged: ReadonlyMap<string, string>): LedgerCheck {
  const status = db.prepare<[string], { status: string }>('select status from orders where id = ?')
  let lost = 0
  let unsettled = 0
  for (const id of acknowledged.keys()) {
    const row = status.get(id)
    if (!row) lost++
    else if (row.status !== 'acked') unsettled++
  }
  const integrity = String(db.pragma('integrity_check', { simple: true }))
  const rows = (db.prepare('select count(*) as n from orders').get() as { n: number }).n
  return { acknowledged: acknowledged.size, lost, unsettled, rows, integrity, ok: lost === 0 && integrity === 'ok' }
}

/**
 * Locks the database from a second connection, as a long migration or a stuck batch job would:
 * every write of the ledger fails with SQLITE_BUSY until `release()` (or `ms` has passed).
 */
export function lockDatabase(path: string, ms: number): { release(): void } {
  const other = new Database(path)
  other.exec('begin exclusive')
  const release = () => {
    clearTimeout(timer)
    if (!other.open) return
    other.exec('commit')
    other.close()
  }
  const timer = setTimeout(release, ms)
  timer.unref()
  return { release }
}
