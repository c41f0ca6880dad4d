// The public shapes of the database adapter: its options, and the parts of the drivers it uses.
import type { Duration } from '../duration.js'
import type { BreakerOptions } from '../options.js'
import type { Registry } from '../registry.js'

/** How a database adapter judges and bounds calls. Unknown keys are refused. */
export interface DatabaseOptions {
  /**
   * Bound on every query and transaction, waiting for a connection included; counted as a
   * failure and a timeout. @default '30s'
   */
  timeout?: Duration
  /**
   * The breaker's options. Its `timeout` and `isFailure` are this adapter's own options, and
   * `fallback` and `isResultFailure` are refused (a fallback would hide an unknown COMMIT).
   * @default breaker defaults
   */
  breaker?: BreakerOptions
  /**
   * Whether an error the driver raised counts against the database. Errors a transaction body
   * throws itself are never passed to it (they are not the database's). @default `isTransientDatabaseError`
   */
  isFailure?: (error: unknown) => boolean
  /** Where the breaker lives. @default the process-wide registry */
  registry?: Registry
}

/** Per-call options of `query` and `transaction`. Unknown keys are refused. */
export interface QueryOptions {
  /** Aborting it abandons the call; not counted against the database. @default none */
  signal?: AbortSignal
  /** Overrides the database's `timeout` for this call. @default the database's `timeout` */
  timeout?: Duration
}

/**
 * The part of a `pg` Pool the adapter uses (a `pg.Pool` fits). Its `connect` is called with a
 * callback, as pg's own pool allows, so the client is heard from the tick it is handed over; a
 * pool whose `connect` ignores the callback and returns a promise works too.
 */
export interface PgPoolLike {
  query(text: string, values?: unknown[]): Promise<unknown>
  connect(): Promise<PgClientLike>
  on(event: 'error', listener: (error: Error) => void): unknown
  listenerCount(event: 'error'): number
}

/** The part of a `pg` pool client the adapter uses (it listens for `'error'` while it holds one). */
export interface PgClientLike {
  query(text: string, values?: unknown[]): Promise<unknown>
  release(error?: Error | boolean): void
  on(event: 'error', listener: (error: Error) => void): unknown
  removeListener(event: 'error', listener: (error: Error) => void): unknown
}

/** The part of a `better-sqlite3` Database the adapter uses. */
export interface SqliteLike {
  prepare(sql: string): { reader: boolean; all(...params: unknown[]): unknown[]; run(...params: unknown[]): unknown }
  exec(sql: string): unknown
  /** Whether a transaction is open (better-sqlite3 has it; read to skip a needless ROLLBACK). */
  readonly inTransaction?: boolean
}

/** The client type a `pg` pool's `connect()` resolves to (its `PoolClient`). */
export type PgClientOf<P> = P extends { connect(): Promise<infer C>; connect(callback: never): void }
  ? C
  : P extends { connect(): Promise<infer C> }
    ? C
    : never

/** `pg`'s result object, as returned by the driver (fields named here for typing). */
export interface PgResult<Row> {
  rows: Row[]
  rowCount: number | null
  command: string
}
