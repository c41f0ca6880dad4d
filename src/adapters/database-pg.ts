// The `pg` adapter: pooled connections, each heard while held, and transactions on one of them.
import { typeError } from '../validate.js'
import { Database, callOptions, isPromiseLike, transactionOptions } from './database-base.js'
import { abortedTransaction, BodyError, CommitUnknownError, isConnectionError, unlessBodyError } from './database-errors.js'
import type { PgClientLike, PgClientOf, PgPoolLike, PgResult, QueryOptions } from './database-types.js'

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
      throw typeError(
        `query() on the client of a transaction of ${name} that has ended is refused: its connection went back to the pool; use the client only inside its transaction body`,
      )
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
    return this.breaker
      .execute(({ signal }) => this.#withClient(signal, (_, lease) => this.#transact(fn, lease, signal, tx)), call)
      .then(unlessBodyError, (error: unknown) => {
        if (tx.inDoubt) throw new CommitUnknownError(this.breaker.name, error)
        throw tx.own !== undefined && error === tx.own.counted ? tx.own.error : error
      })
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
