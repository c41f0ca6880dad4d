// The better-sqlite3 adapter: one connection taken in turns, so an async transaction body holds it alone.
import { AsyncLocalStorage } from 'node:async_hooks'
import type { CallContext } from '../breaker.js'
import { typeError } from '../validate.js'
import { Database, callOptions, isPromiseLike, transactionOptions } from './database-base.js'
import { BodyError, unlessBodyError } from './database-errors.js'
import type { QueryOptions, SqliteLike } from './database-types.js'

/** Whether better-sqlite3 raised `error` (every error SQLite reports is a `SqliteError` with a `SQLITE_*` code). */
function isSqliteError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return error instanceof Error && typeof code === 'string' && code.startsWith('SQLITE_')
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
    if (granted)
      granted() // stays busy: handed over
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
