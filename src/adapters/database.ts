// The database adapter's public entry: `database()` picks the adapter for the driver it is given.
import { describe, typeError } from '../validate.js'
import { PgDatabase } from './database-pg.js'
import { SqliteDatabase } from './database-sqlite.js'
import type { DatabaseOptions, PgPoolLike, SqliteLike } from './database-types.js'

export { CommitUnknownError, isCommitUnknownError, isTransientDatabaseError } from './database-errors.js'
export { PgDatabase } from './database-pg.js'
export { SqliteDatabase } from './database-sqlite.js'
export type { DatabaseOptions, PgClientLike, PgClientOf, PgPoolLike, PgResult, QueryOptions, SqliteLike } from './database-types.js'

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
