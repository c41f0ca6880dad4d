// How the database adapter judges errors: which are the database's, and the errors it makes itself.
import { branded, isTimeoutError, OUTCOME_UNKNOWN } from '../errors.js'
import { describe } from '../validate.js'

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
export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code === 'string') return /^08|^57P0[123]$|^E[A-Z]+$/.test(code)
  return error instanceof Error && PG_CONNECTION.test(error.message)
}

/**
 * A transaction body's own error, carried past the breaker as a value: it did not come from the
 * database, so the breaker must not judge it; `transaction()` rejects with it.
 */
export class BodyError {
  constructor(readonly error: unknown) {}
}

/** `value`, or the rejection of the body's own error it carries. */
export function unlessBodyError<T>(value: T | BodyError): T {
  if (value instanceof BodyError) throw value.error
  return value
}

/**
 * The error of a transaction whose COMMIT rolled back because a statement had failed in it (and
 * the body caught its error): SQLSTATE 25P02, in_failed_sql_transaction, as PostgreSQL answers
 * any other statement there; `cause` is the statement's error.
 */
export function abortedTransaction(name: string, cause: unknown): Error {
  const error = new Error(
    `the transaction on ${name} was rolled back, not committed: a statement failed in it (its error was caught in the transaction body: ${reasonOf(cause)}), ` +
      'and PostgreSQL aborts a transaction at its first error; use a SAVEPOINT to carry on after an error',
    { cause },
  )
  return Object.assign(error, { code: '25P02' })
}
