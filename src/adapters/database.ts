import { AsyncLocalStorage } from 'node:async_hooks'
import type { CallContext, CircuitBreaker } from '../breaker.js'
import { type Duration } from '../duration.js'
import { branded, isTimeoutError, OUTCOME_UNKNOWN } from '../errors.js'
import type { BreakerOptions } from '../options.js'
import { type Registry, registry as processWide } from '../registry.js'
import { readCallOptions } from '../signal.js'
import { describe, ownOptions, typeError } from '../validate.js'
import { breakerOptions, registryOption } from './setup.js'

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

const COMMIT_UNKNOWN = Symbol.for('breakwater.CommitUnknownError')

/**
 * A transaction's COMMIT was sent, and the call stopped (timed out, aborted) or lost its
 * connection before the answer came: the transaction may have committed or not. Never a plain
 * `TimeoutError` here, since a blind retry could commit twice: check (an idempotency key, a read)
 * before retrying. `cause` is what stopped the call. A breaker counts it as its cause says (a
 * timeout as a timeout; a lost connection as a failure; the caller's abort not at all).
 *
 * @example
 * try { await tradingDb.transaction(book) } catch (e) { if (isCommitUnknownError(e)) await reconcile(order) }
 */
export class CommitUnknownError extends Error {
  /** Stable code for logs and switches. */
  readonly code = OUTCOME_UNKNOWN
  readonly [COMMIT_UNKNOWN] = true

  constructor(
    /** The database's name (its breaker's). */
    readonly database: string,
    cause: unknown,
  ) {
    super(`the COMMIT of a transaction on ${database} was sent but its answer never came (${reasonOf(cause)}): it may or may not have committed`, {
      cause,
    })
    this.name = 'CommitUnknownError'
  }
}

function reasonOf(cause: unknown): string {
  return cause instanceof Error ? cause.message : describe(cause)
}

/** Whether `e` is a `CommitUnknownError`, from this copy of breakwater or any other. */
export function isCommitUnknownError(e: unknown): e is CommitUnknownError {
  return branded(e, COMMIT_UNKNOWN)
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

/** SQLSTATE classes and codes that mean the server is unwell, not that the query was wrong. */
const TRANSIENT_SQLSTATE = /^(08|53|58|XX)|^(40001|40P01|55P03|57014|57P01|57P02|57P03)$/
/** SQLite result codes that mean the database is busy or broken, not that the statement was wrong. */
const TRANSIENT_SQLITE = /^SQLITE_(BUSY|LOCKED|IOERR|CANTOPEN|FULL|NOMEM|PROTOCOL|CORRUPT|NOTADB)/
/** What `pg` says, without a code, when a connection dies or cannot be had. */
const PG_CONNECTION = /connection terminated|connection error|not queryable|timeout exceeded when trying to connect/i

/**
 * The default judgement of an error the driver raised (the adapter judges nothing else).
 * Failures: connection errors, timeouts, and transient server errors (SQLSTATE classes 08, 53,
 * 58, XX; 40001 serialization failure, 40P01 deadlock, 55P03 lock not available, 57014 statement
 * timeout, 57P01-03 shutdown; `SQLITE_BUSY`, `SQLITE_LOCKED`, I/O and corruption; a
 * `CommitUnknownError`). Not failures: syntax errors, constraint violations and every other
 * SQLSTATE (the caller's mistake). An error a transaction body throws itself never reaches it:
 * it is the body's, not the database's.
 */
export function isTransientDatabaseError(error: unknown): boolean {
  if (isTimeoutError(error) || isCommitUnknownError(error)) return true
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code === 'string') {
    if (code.startsWith('SQLITE_')) return TRANSIENT_SQLITE.test(code)
    if (/^[0-9A-Z]{5}$/.test(code)) return TRANSIENT_SQLSTATE.test(code)
    return /^E[A-Z]+$/.test(code) // from the driver, a system error is its connection's: ECONNREFUSED, ECONNRESET, ENOENT (no socket) ...
  }
  return error instanceof Error && PG_CONNECTION.test(error.message)
}

/** Whether `error` says the connection itself is gone (so it must not return to the pool). */
function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code === 'string') return /^08|^57P0[123]$|^E[A-Z]+$/.test(code)
  return error instanceof Error && PG_CONNECTION.test(error.message)
}

/**
 * A transaction body's own error, carried past the breaker as a value: it did not come from the
 * database, so the breaker must not judge it; `transaction()` rejects with it.
 */
class BodyError {
  constructor(readonly error: unknown) {}
}

/** `value`, or the rejection of the body's own error it carries. */
function unlessBodyError<T>(value: T | BodyError): T {
  if (value instanceof BodyError) throw value.error
  return value
}

/** Whether better-sqlite3 raised `error` (every error SQLite reports is a `SqliteError` with a `SQLITE_*` code). */
function isSqliteError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return error instanceof Error && typeof code === 'string' && code.startsWith('SQLITE_')
}

/** Options `database()` reads. */
const DATABASE_OPTIONS = ['timeout', 'breaker', 'isFailure', 'registry'] as const
/** Options each call reads. */
const CALL_OPTIONS = ['signal', 'timeout'] as const

/** The breaker `database()` asks for, from its options: all of them checked before anything is made. */
function breakerFor(name: string, options: unknown): CircuitBreaker {
  const o = ownOptions<DatabaseOptions>('database', options, DATABASE_OPTIONS)
  const registry = registryOption(o.registry, processWide)
  return registry.getOrCreate(name, breakerOptions('database breaker', o.breaker, { timeout: o.timeout ?? '30s', isFailure: o.isFailure ?? isTransientDatabaseError }))
}

/** A statement's options, own properties only; a `TypeError` for a statement or options a caller got wrong. */
function callOptions(sql: unknown, params: unknown, options: unknown): QueryOptions {
  if (typeof sql !== 'string') throw typeError(`query needs SQL as a string, but was given ${describe(sql)}`)
  if (params !== undefined && !Array.isArray(params)) throw typeError(`query params must be an array, but was ${describe(params)}`)
  return readCallOptions<QueryOptions>('query', options, CALL_OPTIONS)
}

/** A transaction's options, checked as `callOptions` does. */
function transactionOptions(fn: unknown, options: unknown): QueryOptions {
  if (typeof fn !== 'function') throw typeError(`transaction needs a function, but was given ${describe(fn)}`)
  return readCallOptions<QueryOptions>('transaction', options, CALL_OPTIONS)
}

abstract class Database {
  /** The database's breaker (process-wide, by name). */
  readonly breaker: CircuitBreaker

  constructor(name: string, options: unknown) {
    this.breaker = breakerFor(name, options)
  }
}

/**
 * The error of a transaction whose COMMIT rolled back because a statement had failed in it (and
 * the body caught its error): SQLSTATE 25P02, in_failed_sql_transaction, as PostgreSQL answers
 * any other statement there; `cause` is the statement's error.
 */
function abortedTransaction(name: string, cause: unknown): Error {
  const error = new Error(
    `the transaction on ${name} was rolled back, not committed: a statement failed in it (its error was caught in the transaction body: ${reasonOf(cause)}), ` +
      'and PostgreSQL aborts a transaction at its first error; use a SAVEPOINT to carry on after an error',
    { cause },
  )
  return Object.assign(error, { code: '25P02' })
}

/** What pg says when a query was never sent because the client had already failed or closed. */
const NOT_SENT = /not queryable/i

/**
 * A client checked out of the pool. While held it has an `'error'` listener (pg emits `'error'` on
 * a client whose connection dies, and an unheard `'error'` ends the process); it goes back to the
 * pool once, or is discarded (released with an error, which closes it) when it broke or its call
 * stopped. Once released, the pool's own listener hears it again.
 */
class Lease {
  /** Why it is discarded; undefined while it is healthy. */
  broken: Error | undefined
  readonly client: PgClientLike
  #ended = false
  readonly #onError = (error: Error) => this.discard(error)

  constructor(client: PgClientLike) {
    this.client = client
    client.on('error', this.#onError)
  }

  /** Closes the connection instead of returning it (at once: a call may still be using it). */
  discard(error: Error): void {
    this.broken ??= error
    this.end()
  }

  /** Returns the connection to the pool, or closes it if it broke; only the first call counts. */
  end(): void {
    if (this.#ended) return
    this.#ended = true
    try {
      this.client.release(this.broken)
    } finally {
      this.client.removeListener('error', this.#onError)
    }
  }
}

/** What a pg transaction call knows that its breaker does not. */
class PgTransactionCall {
  /** The errors the driver raised for the body's statements: only these are the database's. */
  readonly raised = new WeakSet<object>()
  /**
   * The last of them but 25P02 (which only repeats that the transaction is aborted): the one that
   * aborted it, if the body caught it.
   */
  aborting: unknown
  /** The body settled: its client may be back in the pool, serving another call. */
  over = false
  /** The call was stopped while its COMMIT was on its way. */
  inDoubt = false
  /** The body's own error, when the connection's error was thrown for the breaker to count instead. */
  own: { error: unknown; counted: Error } | undefined

  /** Notes `error` as the driver's. */
  sawDriverError(error: unknown): void {
    if ((error as { code?: unknown } | null)?.code !== '25P02') this.aborting = error
    if ((typeof error === 'object' && error !== null) || typeof error === 'function') this.raised.add(error)
  }
}

/**
 * The client a transaction body is handed: pg's own, through a proxy whose `query()` notes the
 * errors the driver raises (promise and callback forms; a Submittable such as a cursor reports
 * its errors itself, unnoted) and is refused once the body has settled (the connection may
 * serve another call by then, even another transaction), and whose `release()` is refused: the
 * transaction returns the connection itself, after its COMMIT or ROLLBACK (a body that released
 * it would have the adapter commit on a connection back in the pool). Everything else reaches
 * pg's client unchanged.
 */
function handedClient(name: string, client: PgClientLike, tx: PgTransactionCall): PgClientLike {
  const release = () => {
    throw typeError(
      `release() of the client handed to a transaction body of ${name} is refused: the transaction returns its connection to the pool when it ends ` +
        '(an error the body lets through rolls the transaction back)',
    )
  }
  const query = (...args: unknown[]): unknown => {
    if (tx.over) {
      throw typeError(`query() on the client of a transaction of ${name} that has ended is refused: its connection went back to the pool; use the client only inside its transaction body`)
    }
    const last = args.at(-1)
    if (typeof last === 'function') {
      args[args.length - 1] = (error: unknown, ...rest: unknown[]) => {
        if (error) tx.sawDriverError(error)
        return last(error, ...rest)
      }
    }
    const returned = (client.query as (...a: unknown[]) => unknown)(...args)
    if (!isPromiseLike(returned)) return returned
    return returned.then(undefined, (error: unknown) => {
      tx.sawDriverError(error)
      throw error
    })
  }
  return new Proxy(client, { get: (target, key) => (key === 'query' ? query : key === 'release' ? release : Reflect.get(target, key)) })
}

/** A `pg` pool behind a breaker. Make one with `database()`. */
export class PgDatabase<P extends PgPoolLike> extends Database {
  readonly #pool: P

  /** @internal Made by `database()`. */
  constructor(name: string, pool: P, options: unknown) {
    super(name, options)
    this.#pool = pool
    // An idle client whose server goes away makes the pool emit 'error'; unheard, that ends the process.
    if (pool.listenerCount('error') === 0) {
      pool.on('error', (e) => process.emitWarning(`idle database connection of ${name} failed: ${e.message}`, { code: 'BREAKWATER_DB_IDLE' }))
    }
  }

  /**
   * Runs one statement on a pooled connection and resolves to pg's result. A refused call takes
   * no connection. A call whose connection dies fails (counted against the database) and its
   * connection is discarded; an aborted or timed-out one closes its connection instead of
   * returning it to the pool (the server ends the statement when it notices the client is gone:
   * set `statement_timeout` or `client_connection_check_interval` to bound that on the server).
   * A write that fails this way may or may not have taken effect: the server may have finished it
   * before it noticed.
   *
   * @example
   * const { rows } = await tradingDb.query<{ qty: number }>('select qty from positions where symbol = $1', ['AAPL'])
   */
  query<Row = Record<string, unknown>>(sql: string, params?: unknown[], options?: QueryOptions): Promise<PgResult<Row>> {
    let call: QueryOptions
    try {
      call = callOptions(sql, params, options)
    } catch (e) {
      return Promise.reject(e)
    }
    return this.breaker.execute(({ signal }) => this.#withClient(signal, (client) => client.query(sql, params) as Promise<PgResult<Row>>), call)
  }

  /**
   * Runs `fn` in a transaction on one connection: BEGIN, `fn(client)`, COMMIT. When `fn` throws,
   * a statement fails, or the call times out or aborts before COMMIT is sent, the transaction is
   * rolled back (by ROLLBACK, or by the server when the call's connection is closed). Once COMMIT
   * is sent, only its answer tells whether it committed: if the call times out or aborts, or the
   * connection dies, before that answer, it rejects with `CommitUnknownError` (code
   * `ERR_BREAKWATER_COMMIT_UNKNOWN`, the cause attached): it may have committed, so check before
   * you retry. A COMMIT the server refuses (a deferred constraint, a serialization failure) did
   * not commit and rejects with the server's error. A transaction in which a statement failed is
   * rolled back by PostgreSQL even if `fn` caught that error (use a SAVEPOINT to carry on): its
   * COMMIT answers ROLLBACK, and the call rejects with an `Error` of code `25P02`
   * (in_failed_sql_transaction, the statement's error as `cause`), not counted. `fn` gets pg's own client: use it for every
   * statement of the transaction (this database's `query()` and `transaction()` take another
   * connection, outside the transaction).
   *
   * Only what the driver raises is judged against the database: BEGIN, COMMIT, ROLLBACK, the
   * connection, and the errors of the client's `query()` that `fn` rethrows as they are. An error
   * of `fn`'s own (a failed file read, another breaker's timeout, a driver error it wrapped in its
   * own, an error of another call) is not the database's: the call rejects with it, uncounted,
   * and the connection goes back to the pool. If the connection broke meanwhile, that is counted
   * as the database failing (and the call still rejects with `fn`'s error).
   *
   * The transaction returns the connection to the pool itself: the client's `release()` throws a
   * `TypeError` (code `ERR_BREAKWATER_INVALID_OPTION`) inside `fn`, so a body that lets it through
   * is rolled back and rejects with it, and one that catches it goes on and commits. Once `fn`
   * has settled, the client's `query()` throws such a `TypeError` too: a client kept past its
   * transaction would run statements on a connection serving another call.
   *
   * @example
   * await tradingDb.transaction(async (client) => {
   *   await client.query('update accounts set cash = cash - $1 where id = $2', [cost, id])
   *   await client.query('insert into fills (account, cost) values ($1, $2)', [id, cost])
   * })
   */
  transaction<T>(fn: (client: PgClientOf<P>) => Promise<T>, options?: QueryOptions): Promise<T> {
    let call: QueryOptions
    try {
      call = transactionOptions(fn, options)
    } catch (e) {
      return Promise.reject(e)
    }
    const tx = new PgTransactionCall()
    return this.breaker.execute(({ signal }) => this.#withClient(signal, (_, lease) => this.#transact(fn, lease, signal, tx)), call).then(
      unlessBodyError,
      (error: unknown) => {
        if (tx.inDoubt) throw new CommitUnknownError(this.breaker.name, error)
        throw tx.own !== undefined && error === tx.own.counted ? tx.own.error : error
      },
    )
  }

  async #transact<T>(fn: (client: PgClientOf<P>) => Promise<T>, lease: Lease, signal: AbortSignal, tx: PgTransactionCall): Promise<T | BodyError> {
    const client = lease.client
    await client.query('BEGIN')
    let result: T
    try {
      result = await fn(handedClient(this.breaker.name, client, tx) as PgClientOf<P>)
    } catch (error) {
      tx.over = true
      return await this.#bodyFailed(error, lease, tx)
    }
    tx.over = true
    if (signal.aborted) throw signal.reason // its connection is closed: the server rolls back
    if (lease.broken) throw lease.broken // the connection died: COMMIT cannot even be sent
    const stoppedInCommit = () => (tx.inDoubt = true)
    signal.addEventListener('abort', stoppedInCommit, { once: true })
    let answer: unknown
    try {
      answer = await client.query('COMMIT')
    } catch (error) {
      // An answer (a deferred constraint, a serialization failure) means it rolled back; a
      // connection lost after COMMIT left says nothing about whether it committed.
      if (!isConnectionError(error)) throw error
      lease.discard(error as Error)
      throw NOT_SENT.test((error as Error).message) ? error : new CommitUnknownError(this.breaker.name, error)
    } finally {
      signal.removeEventListener('abort', stoppedInCommit)
    }
    // PostgreSQL aborts a transaction at its first failed statement; if the body caught that
    // error, COMMIT answers ROLLBACK: nothing was committed, which must not resolve as if it were.
    if ((answer as Partial<PgResult<unknown>> | null)?.command === 'ROLLBACK') throw abortedTransaction(this.breaker.name, tx.aborting)
    return result
  }

  /**
   * Rolls back after the body threw `error`. An error the driver raised for the body's statements
   * is the database's: thrown for the breaker to judge. Any other is the body's own: returned as a
   * `BodyError`, not judged, and the connection goes back to the pool; unless the connection
   * broke meanwhile, which is the database failing: then the breaker judges the connection's error
   * and the call still rejects with the body's.
   */
  async #bodyFailed(error: unknown, lease: Lease, tx: PgTransactionCall): Promise<BodyError> {
    const fromDriver = tx.raised.has(error as object)
    if (fromDriver && isConnectionError(error)) lease.discard(error as Error)
    // A connection being closed needs no ROLLBACK: the server rolls back what was never committed.
    if (!lease.broken) await lease.client.query('ROLLBACK').catch((e: Error) => lease.discard(e))
    if (fromDriver) throw error
    if (lease.broken) {
      tx.own = { error, counted: lease.broken }
      throw lease.broken
    }
    return new BodyError(error)
  }

  /**
   * A client from the pool, heard from the moment the pool hands it over. pg's callback form
   * calls back in the very tick the pool stops listening to the client; a promise would resolve a
   * tick later, and an error already read from the same packet (a FATAL sent right after the
   * handshake) would be emitted with nobody listening. A pool that only knows the promise form
   * is used through it.
   */
  #checkout(): Promise<Lease> {
    return new Promise((resolve, reject) => {
      let lease: Lease | undefined
      const handedOver = (error: Error | undefined, client: PgClientLike | undefined) => {
        if (lease) return
        if (error || !client) return reject(error)
        resolve((lease = new Lease(client)))
      }
      const connect = this.#pool.connect as (this: P, callback: typeof handedOver) => PromiseLike<PgClientLike> | undefined
      const returned = connect.call(this.#pool, handedOver)
      if (typeof returned?.then === 'function') returned.then((client) => handedOver(undefined, client), reject)
    })
  }

  /**
   * A pooled connection for `use`, heard and then returned, or closed instead if the call stops
   * or it broke. A connection the pool hands over after the call stopped goes straight back.
   */
  async #withClient<T>(signal: AbortSignal, use: (client: PgClientLike, lease: Lease) => Promise<T>): Promise<T> {
    const lease = await this.#checkout()
    if (lease.broken) throw lease.broken // it died as it was handed over
    const client = lease.client
    if (signal.aborted) {
      lease.end() // nothing was sent on it: it is healthy
      throw signal.reason
    }
    const onAbort = () => lease.discard(new Error(`call through ${this.breaker.name} stopped: its connection is closed`))
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      return await use(client, lease)
    } catch (error) {
      if (isConnectionError(error)) lease.discard(error as Error) // a broken connection must not go back
      throw error
    } finally {
      signal.removeEventListener('abort', onAbort)
      lease.end()
    }
  }
}

/** A transaction whose body is running, as the calls that body makes see it. */
interface OpenTransaction {
  readonly db: SqliteLike
  open: boolean
  /** The transaction (of another connection) whose body started this one, if any. */
  readonly outer: OpenTransaction | undefined
}

/** The open transactions whose bodies run in this async context, innermost first. */
const inside = new AsyncLocalStorage<OpenTransaction>()

/** One connection's turns, shared by every adapter over it. */
interface Turns {
  /** Whether a call holds the connection (a transaction whose body awaits, or a call given its turn). */
  busy: boolean
  /** Calls waiting for the connection, in arrival order. */
  readonly waiting: (() => void)[]
}

const turnsOf = new WeakMap<SqliteLike, Turns>()

/**
 * The error for `transaction()` called from inside a transaction body on the same connection: it
 * would wait for the transaction it is part of.
 */
function nestedTransaction(name: string): TypeError {
  return typeError(
    `transaction() of ${name} was called inside a transaction body on the same connection: nested transactions are refused ` +
      '(the body holds the connection); run the statements on the database handed to the body, or use SAVEPOINT there',
  )
}

/** A `better-sqlite3` database behind a breaker. Make one with `database()`. */
export class SqliteDatabase<D extends SqliteLike> extends Database {
  readonly #db: D
  /** Prepared statements by SQL, oldest first: preparing costs more than running a small query. */
  readonly #statements = new Map<string, ReturnType<SqliteLike['prepare']>>()
  readonly #turns: Turns

  /** @internal Made by `database()`. */
  constructor(name: string, db: D, options: unknown) {
    super(name, options)
    this.#db = db
    let turns = turnsOf.get(db)
    if (turns === undefined) turnsOf.set(db, (turns = { busy: false, waiting: [] }))
    this.#turns = turns
  }

  /**
   * Runs one statement: the rows of a query, or the run result (`changes`, `lastInsertRowid`) of
   * any other statement. better-sqlite3 is synchronous, so a running statement cannot be
   * interrupted; its `timeout` option bounds waits on a busy database. While a transaction holds
   * the connection (its body awaits), the call waits its turn, in order, within its own timeout
   * and signal; a call made by that transaction's own body runs inside the transaction.
   *
   * @example
   * const rows = await ledger.query<{ id: number }[]>('select id from fills where symbol = ?', ['AAPL'])
   */
  query<R = Record<string, unknown>[]>(sql: string, params: unknown[] = [], options?: QueryOptions): Promise<R> {
    let call: QueryOptions
    try {
      call = callOptions(sql, params, options)
    } catch (e) {
      return Promise.reject(e)
    }
    return this.breaker.execute((context) => {
      if (this.#turns.busy && this.#inOwnTransaction()) return this.#run<R>(sql, params) // the body's own statement
      return this.#exclusive(context, () => this.#run<R>(sql, params))
    }, call)
  }

  #run<R>(sql: string, params: unknown[]): R {
    try {
      const statement = this.#prepared(sql)
      return (statement.reader ? statement.all(...params) : statement.run(...params)) as R
    } catch (error) {
      if (typeof error === 'object' && error !== null) judgedByQuery.add(error)
      throw error
    }
  }

  #prepared(sql: string): ReturnType<SqliteLike['prepare']> {
    let statement = this.#statements.get(sql)
    if (!statement) {
      statement = this.#db.prepare(sql)
      if (this.#statements.size >= 256) this.#statements.delete(this.#statements.keys().next().value!)
      this.#statements.set(sql, statement)
    }
    return statement
  }

  /**
   * Runs `fn` between BEGIN and COMMIT, rolling back when it throws, times out or aborts. An error
   * SQLite raised (a `SqliteError`, code `SQLITE_*`) for a statement `fn` ran on the database it
   * is handed, and that `fn` throws as it is, is judged against the database; any other error of
   * `fn` (its own, one it wrapped, or one of this adapter's `query()`, which counted it already) is
   * not, and the call rejects with it, uncounted. (SQLite's errors are told by their type: one
   * from another SQLite connection the body uses is judged too.) While an async body runs, the transaction holds the connection:
   * other calls (of any adapter over this connection) wait their turn, so none of their writes
   * lands in this transaction and is rolled back with it; calls the body itself makes run inside
   * it. A timed-out or aborted body is rolled back when it settles, and holds the connection until
   * then. `transaction()` from inside a body on the same connection is refused with a `TypeError`
   * (it would wait for itself); use SAVEPOINT on the database handed to the body.
   *
   * @example
   * await ledger.transaction((db) => {
   *   db.prepare('insert into fills (symbol, qty) values (?, ?)').run('AAPL', 10)
   *   db.prepare('update positions set qty = qty + ? where symbol = ?').run(10, 'AAPL')
   * })
   */
  transaction<T>(fn: (db: D) => T | Promise<T>, options?: QueryOptions): Promise<T> {
    let call: QueryOptions
    try {
      call = transactionOptions(fn, options)
      if (this.#turns.busy && this.#inOwnTransaction()) throw nestedTransaction(this.breaker.name)
    } catch (e) {
      return Promise.reject(e)
    }
    return this.breaker.execute((context) => this.#exclusive(context, () => this.#transact(fn, context)), call).then(unlessBodyError)
  }

  /** Whether this async context is the body of an open transaction on this connection. */
  #inOwnTransaction(): boolean {
    for (let t = inside.getStore(); t !== undefined; t = t.outer) if (t.db === this.#db) return t.open
    return false
  }

  #transact<T>(fn: (db: D) => T | Promise<T>, context: CallContext): T | BodyError | Promise<T | BodyError> {
    this.#db.exec('BEGIN')
    const transaction: OpenTransaction = { db: this.#db, open: true, outer: inside.getStore() }
    let result: T | Promise<T>
    try {
      result = inside.run(transaction, fn, this.#db)
    } catch (error) {
      transaction.open = false
      this.#rollback()
      return bodyFailed(error)
    }
    if (!isPromiseLike(result)) {
      transaction.open = false
      this.#commit()
      return result
    }
    return Promise.resolve(result).then(
      (value) => {
        transaction.open = false
        if (context.signal.aborted) {
          this.#rollback()
          throw context.signal.reason
        }
        this.#commit()
        return value
      },
      (error: unknown) => {
        transaction.open = false
        this.#rollback()
        return bodyFailed(error)
      },
    )
  }

  #commit(): void {
    try {
      this.#db.exec('COMMIT')
    } catch (error) {
      this.#rollback() // a COMMIT that fails (SQLITE_BUSY) leaves the transaction open
      throw error
    }
  }

  #rollback(): void {
    if (this.#db.inTransaction === false) return // SQLite ended it already (some errors roll back by themselves)
    try {
      this.#db.exec('ROLLBACK')
    } catch {
      // The error that made us roll back is the one to report.
    }
  }

  /**
   * Runs `work` holding the connection: at once when it is free, else after the calls before it,
   * unless the call stops while it waits. The connection passes on when `work` settles.
   */
  #exclusive<R>(context: CallContext, work: () => R | Promise<R>): R | Promise<R> {
    const turns = this.#turns
    if (!turns.busy) return this.#hold(work)
    const signal = context.signal
    return new Promise<void>((resolve, reject) => {
      const granted = () => {
        signal.removeEventListener('abort', onAbort)
        resolve()
      }
      const onAbort = () => {
        turns.waiting.splice(turns.waiting.indexOf(granted), 1)
        reject(signal.reason)
      }
      if (signal.aborted) return reject(signal.reason)
      signal.addEventListener('abort', onAbort, { once: true })
      turns.waiting.push(granted)
    }).then(() => {
      if (!signal.aborted) return this.#hold(work)
      this.#next() // stopped between its turn and now: pass the connection on
      throw signal.reason
    })
  }

  #hold<R>(work: () => R | Promise<R>): R | Promise<R> {
    this.#turns.busy = true
    let result: R | Promise<R>
    try {
      result = work()
    } catch (error) {
      this.#next()
      throw error
    }
    if (!isPromiseLike(result)) {
      this.#next()
      return result
    }
    return Promise.resolve(result).finally(() => this.#next())
  }

  /** Gives the connection to the next waiting call, or frees it. */
  #next(): void {
    const turns = this.#turns
    const granted = turns.waiting.shift()
    if (granted) granted() // stays busy: handed over
    else turns.busy = false
  }
}

/**
 * The errors of SQLite statements run by `query()`: judged by that call already, so a transaction
 * body that rethrows one (a `query()` it made) does not have it counted twice.
 */
const judgedByQuery = new WeakSet<object>()

/**
 * What a rolled-back SQLite transaction's body threw: an error SQLite raised for the body's own
 * statements is the database's, thrown for the breaker to judge; any other (an error of the body's
 * own, or of a `query()` call, which counted it) is the body's, not judged.
 */
function bodyFailed(error: unknown): BodyError {
  if (isSqliteError(error) && !judgedByQuery.has(error as object)) throw error
  return new BodyError(error)
}

function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as PromiseLike<T> | null)?.then === 'function'
}

/**
 * A database behind a breaker named `name`: a `pg` Pool or a `better-sqlite3` Database.
 *
 * @example
 * import pg from 'pg'
 * import { database } from 'breakwater'
 * const tradingDb = database('trading-db', new pg.Pool({ connectionString }), { timeout: '5s' })
 */
export function database<P extends PgPoolLike>(name: string, pool: P, options?: DatabaseOptions): PgDatabase<P>
export function database<D extends SqliteLike>(name: string, db: D, options?: DatabaseOptions): SqliteDatabase<D>
export function database(name: string, client: PgPoolLike | SqliteLike, options?: DatabaseOptions): PgDatabase<PgPoolLike> | SqliteDatabase<SqliteLike> {
  const c = client as Partial<PgPoolLike & SqliteLike> | null
  if (typeof c?.connect === 'function' && typeof c.query === 'function') return new PgDatabase(name, client as PgPoolLike, options)
  if (typeof c?.prepare === 'function' && typeof c.exec === 'function') return new SqliteDatabase(name, client as SqliteLike, options)
  throw typeError(`database needs a pg Pool (with query and connect) or a better-sqlite3 Database (with prepare and exec), but was given ${describe(client)}`)
}
