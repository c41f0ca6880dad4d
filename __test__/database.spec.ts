import test from 'ava'
import Sqlite from 'better-sqlite3'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { database, isBrokenCircuitError, isCommitUnknownError, isTimeoutError, isTransientDatabaseError, type PgDatabase, Registry } from '../src/index.ts'
import { FakeClock } from '../src/testing.ts'
import { startPostgres, type TestPostgres, withPostgres } from './servers/postgres.ts'
import { deferred, until, withFakeTimers } from './timers.ts'

/** The specs that need PostgreSQL: skipped where it is not installed (failed when CI=true). */
const pgTest = withPostgres(test)
let server: TestPostgres
let pool: pg.Pool
pgTest.before(async () => {
  server = await startPostgres()
  pool = new pg.Pool({ connectionString: server.connectionString, max: 4, connectionTimeoutMillis: 5000 })
  await pool.query('create table accounts (id int primary key, cash int not null check (cash >= 0))')
  await pool.query('insert into accounts values (1, 100), (2, 0)')
  // COMMIT runs this deferred trigger: a COMMIT that takes a second (for ids below 100).
  await pool.query('create table slow_commits (id int primary key deferrable initially deferred)')
  await pool.query('create function sleep_at_commit() returns trigger language plpgsql as $$ begin perform pg_sleep(1); return null; end $$')
  await pool.query(
    'create constraint trigger slow_commit after insert on slow_commits deferrable initially deferred for each row when (new.id < 100) execute function sleep_at_commit()',
  )
})
test.after.always(async () => {
  await pool?.end().catch(() => undefined)
  server?.destroy()
})

let next = 0
const rig = (options: Parameters<typeof database>[2] = {}) => {
  const clock = new FakeClock()
  return { clock, db: database(`db-${next++}`, pool, { registry: new Registry({ clock }), ...options }) }
}

pgTest.serial('queries return pg result objects; syntax and constraint errors are not failures', async (t) => {
  const { db } = rig({ breaker: { consecutiveFailures: 2 } })
  const { rows, rowCount } = await db.query<{ cash: number }>('select cash from accounts where id = $1', [1])
  t.deepEqual(rows, [{ cash: 100 }])
  t.is(rowCount, 1)
  for (const sql of ['selec 1', 'select * from no_such_table', 'insert into accounts values (1, 5)', 'update accounts set cash = -1 where id = 1']) {
    const error = await db.query(sql).catch((e) => e)
    t.is(typeof error.code, 'string', `${sql}: ${error.message}`)
    t.false(isTransientDatabaseError(error), `${error.code} is the caller's mistake`)
  }
  t.is(db.breaker.state, 'closed')
  t.like(db.breaker.metrics(), { failures: 0, successes: 5 })
})

pgTest.serial('a transaction commits, or rolls back when its code or a statement fails', async (t) => {
  const { db } = rig()
  await db.transaction(async (client) => {
    await client.query('update accounts set cash = cash - 30 where id = 1')
    await client.query('update accounts set cash = cash + 30 where id = 2')
  })
  const cash = async () => (await pool.query('select id, cash from accounts order by id')).rows
  t.deepEqual(await cash(), [
    { id: 1, cash: 70 },
    { id: 2, cash: 30 },
  ])
  await t.throwsAsync(
    db.transaction(async (client) => {
      await client.query('update accounts set cash = cash - 30 where id = 1')
      throw new Error('risk check failed')
    }),
    { message: 'risk check failed' },
  )
  const violation = await db
    .transaction(async (client) => {
      await client.query('update accounts set cash = cash + 500 where id = 2')
      await client.query('update accounts set cash = cash - 500 where id = 1') // check constraint
    })
    .catch((e) => e)
  t.is(violation.code, '23514')
  t.deepEqual(
    await cash(),
    [
      { id: 1, cash: 70 },
      { id: 2, cash: 30 },
    ],
    'both rolled back',
  )
  t.like(db.breaker.metrics(), { failures: 0 }, 'neither is the database failing')
  t.is(pool.idleCount + pool.waitingCount, pool.totalCount, 'every connection went back')
})

/** Collects how the pool gets its connections back while `body` runs: returned, or closed. */
async function releases(body: () => Promise<void>): Promise<string[]> {
  const released: string[] = []
  const onRelease = (error: Error | undefined) => released.push(error ? 'closed' : 'returned')
  pool.on('release', onRelease)
  try {
    await body()
  } finally {
    pool.off('release', onRelease)
  }
  return released
}

pgTest.serial(
  "an error a transaction body throws itself (a failed file read, another breaker's timeout) is not a database failure: rolled back, rejected with it, its connection returned",
  async (t) => {
    const { db } = rig({ breaker: { consecutiveFailures: 2 } })
    const other = new Registry().getOrCreate('other-service', { timeout: '10ms' })
    const released = await releases(async () => {
      const noFile = await db
        .transaction(async (client) => {
          await client.query('update accounts set cash = cash + 1000 where id = 2')
          await readFile('/nonexistent/breakwater-order.json')
        })
        .catch((e) => e)
      t.is(noFile.code, 'ENOENT')
      await withFakeTimers(async (timers) => {
        let waiting = false
        const call = db.transaction(async (client) => {
          await client.query('update accounts set cash = cash + 1000 where id = 2')
          waiting = true
          await other.execute(() => new Promise<never>(() => {}))
        })
        const caught = t.throwsAsync(call)
        await until(() => waiting)
        await timers.tickAsync(10)
        const timeout = await caught
        t.true(isTimeoutError(timeout))
        t.is((timeout as unknown as { source: string }).source, 'other-service', "the other breaker's timeout, as thrown")
      })
    })
    t.is(db.breaker.state, 'closed')
    t.like(db.breaker.metrics(), { failures: 0, timeouts: 0 })
    t.deepEqual(released, ['returned', 'returned'], 'a connection that did nothing wrong goes back to the pool')
    t.deepEqual((await pool.query('select cash from accounts where id = 2')).rows, [{ cash: 30 }], 'both rolled back')
  },
)

pgTest.serial(
  "a statement error the body rethrows as is counts against the database once; one the body wraps, or one of another call, is the body's own",
  async (t) => {
    const { db } = rig()
    const LOCKED = 'select 1 from accounts where id = 1 for update nowait' // 55P03 while another session holds the row: transient
    const holder = await pool.connect()
    try {
      await holder.query('begin')
      await holder.query('select 1 from accounts where id = 1 for update')
      const asIs = await db.transaction((client) => client.query(LOCKED)).catch((e) => e)
      t.is(asIs.code, '55P03')
      t.like(db.breaker.metrics(), { failures: 1 }, 'the driver raised it for the body: the database failed')
      const wrapped = await db
        .transaction(async (client) => {
          try {
            await client.query(LOCKED)
          } catch (error) {
            throw new Error('booking failed', { cause: error })
          }
        })
        .catch((e) => e)
      t.is(wrapped.message, 'booking failed')
      t.is(wrapped.cause.code, '55P03')
      t.like(db.breaker.metrics(), { failures: 1 }, "wrapped, it is the body's error")
      const outside = await db
        .transaction(async () => {
          await db.query(LOCKED) // another connection: a call of its own
        })
        .catch((e) => e)
      t.is(outside.code, '55P03')
      t.like(db.breaker.metrics(), { failures: 2 }, 'counted by its own call, not again by the transaction that rethrew it')
    } finally {
      await holder.query('rollback').catch(() => undefined)
      holder.release()
    }
  },
)

pgTest.serial(
  'a connection that dies under a transaction body counts against the database, even when the body throws its own error (which the call rejects with)',
  async (t) => {
    const { db } = rig()
    let error: Error | undefined
    const released = await releases(async () => {
      error = await db
        .transaction(async (client) => {
          const { rows } = await client.query<{ pid: number }>('select pg_backend_pid() as pid')
          await pool.query('select pg_terminate_backend($1)', [rows[0]!.pid])
          try {
            await client.query('select 1')
          } catch (cause) {
            throw new Error('booking failed', { cause })
          }
        })
        .catch((e) => e)
    })
    t.is(error?.message, 'booking failed')
    t.like(db.breaker.metrics(), { failures: 1 })
    t.true(released.includes('closed'), `the dead connection left the pool: ${released}`)
  },
)

pgTest.serial(
  'a transaction body cannot release its client: release() throws a TypeError, nothing is committed, and the connection goes back to the pool once',
  async (t) => {
    await pool.query('create table released_rows (id int primary key)')
    const { db } = rig()
    const rows = async () => (await pool.query('select id from released_rows order by id')).rows.map((r) => r.id)
    let error: (Error & { code?: string }) | undefined
    const released = await releases(async () => {
      error = await db
        .transaction(async (client) => {
          await client.query('insert into released_rows values (100)')
          client.release()
        })
        .catch((e) => e)
    })
    t.true(error instanceof TypeError, error?.message)
    t.is(error?.code, 'ERR_BREAKWATER_INVALID_OPTION')
    t.regex(error!.message, /^release\(\) of the client handed to a transaction body of db-\d+ is refused/)
    t.deepEqual(await rows(), [], 'rejected, so nothing committed')
    t.deepEqual(released, ['returned'], 'released once, by the transaction')
    t.like(db.breaker.metrics(), { failures: 0 }, "the body's mistake")

    t.is(
      await db.transaction(async (client) => {
        await client.query('insert into released_rows values (101)')
        t.throws(() => client.release(), { instanceOf: TypeError })
        return 'committed'
      }),
      'committed',
    )
    t.deepEqual(await rows(), [101], 'a body that catches the refusal goes on and commits')
    t.is(pool.idleCount + pool.waitingCount, pool.totalCount, 'every connection went back')
  },
)

pgTest.serial('a client kept past its transaction refuses query(): its connection is back in the pool, serving other calls', async (t) => {
  const { db } = rig()
  let kept: pg.PoolClient | undefined
  await db.transaction(async (client) => {
    kept = client
  })
  t.throws(() => kept!.query("select 'a statement in no transaction of ours'"), {
    instanceOf: TypeError,
    code: 'ERR_BREAKWATER_INVALID_OPTION',
    message: /^query\(\) on the client of a transaction of db-\d+ that has ended is refused/,
  })
  t.is(pool.idleCount + pool.waitingCount, pool.totalCount, 'nothing was sent on it')
})

pgTest.serial(
  'a transaction whose body caught a statement error rejects with 25P02, since PostgreSQL rolled it back at COMMIT, never resolving as if committed',
  async (t) => {
    await pool.query('create table caught_rows (id int primary key)')
    const { db } = rig()
    const rows = async () => (await pool.query('select id from caught_rows order by id')).rows.map((r) => r.id)
    const error = await db
      .transaction(async (client) => {
        await client.query('insert into caught_rows values (1)')
        await client.query('insert into caught_rows values (1)').catch(() => 'a duplicate: never mind')
        return 'booked'
      })
      .catch((e) => e)
    t.true(error instanceof Error, `resolved ${String(error)} though nothing was committed`)
    t.is(error.code, '25P02')
    t.is(error.cause?.code, '23505', "the statement's error that aborted it")
    t.regex(error.message, /rolled back, not committed/)
    t.deepEqual(await rows(), [])
    t.like(db.breaker.metrics(), { failures: 0 }, 'the database did what it was asked')

    const booked = await db.transaction(async (client) => {
      await client.query('insert into caught_rows values (2)')
      await client.query('savepoint duplicate')
      await client.query('insert into caught_rows values (2)').catch(() => client.query('rollback to savepoint duplicate'))
      return 'booked'
    })
    t.is(booked, 'booked')
    t.deepEqual(await rows(), [2], 'with a SAVEPOINT the body carries on after an error, and commits')

    const later = await db
      .transaction(async (client) => {
        await client.query('savepoint duplicate')
        await client.query('insert into caught_rows values (2)').catch(() => client.query('rollback to savepoint duplicate'))
        await client.query('select 1 / 0').catch(() => 'division by zero: never mind') // aborts it
        await client.query('insert into caught_rows values (3)').catch(() => 'in a failed transaction: 25P02')
      })
      .catch((e) => e)
    t.is(later.code, '25P02')
    t.is(later.cause?.code, '22012', 'the cause is the error that aborted it, not one recovered from, nor a 25P02 after it')
    t.deepEqual(await rows(), [2])
  },
)

pgTest.serial('a deadlock is a failure of the database (and so is a serialization failure)', async (t) => {
  t.true(isTransientDatabaseError(Object.assign(new Error('could not serialize access'), { code: '40001' })))
  const { db } = rig()
  const other = await pool.connect()
  try {
    await other.query("set deadlock_timeout = '10s'") // so the adapter's session is the one that detects it
    await other.query('begin')
    await other.query('update accounts set cash = cash where id = 1')
    let crossing: Promise<unknown> | undefined
    const error = await db
      .transaction(async (client) => {
        await client.query("set local deadlock_timeout = '50ms'")
        await client.query('update accounts set cash = cash where id = 2')
        crossing = other.query('update accounts set cash = cash where id = 2') // waits for us
        await client.query('update accounts set cash = cash where id = 1') // waits for it: deadlock
      })
      .catch((e) => e)
    await crossing
    t.is(error.code, '40P01')
    t.like(db.breaker.metrics(), { failures: 1 })
  } finally {
    await other.query('rollback').catch(() => undefined)
    other.release()
  }
})

pgTest.serial('a timed-out query is a failure and a timeout; its connection is closed, not reused', async (t) => {
  await withFakeTimers(async (timers) => {
    const { db } = rig({ timeout: '1s' })
    const call = db.query("select pg_sleep(30), 'timeout test'")
    const caught = t.throwsAsync(call)
    while (pool.idleCount === pool.totalCount) await new Promise((resolve) => setImmediate(resolve)) // checked out
    const open = pool.totalCount
    await timers.tickAsync(1000)
    t.true(isTimeoutError(await caught))
    t.like(db.breaker.metrics(), { failures: 1, timeouts: 1 })
    t.is(pool.totalCount, open - 1, 'the connection left the pool')
  })
  await pool.query("select pg_terminate_backend(pid) from pg_stat_activity where query like '%timeout test%' and pid <> pg_backend_pid()")
})

const commitRuns = async () => (await pool.query("select 1 from pg_stat_activity where query = 'COMMIT' and state = 'active'")).rowCount! > 0
/** Resolves once the server runs a COMMIT (the adapter's): each round asks the server. */
async function waitForCommit(): Promise<void> {
  for (let i = 0; i < 20_000; i++) if (await commitRuns()) return
  throw new Error('no COMMIT started')
}
/** Whether the row `id` of slow_commits is committed, asked once no COMMIT runs any more. */
async function committed(id: number): Promise<boolean> {
  for (let i = 0; i < 20_000 && (await commitRuns()); i++);
  return (await pool.query('select 1 from slow_commits where id = $1', [id])).rowCount === 1
}

pgTest.serial('a timeout that fires during COMMIT rejects with ERR_BREAKWATER_COMMIT_UNKNOWN, never a plain TimeoutError', async (t) => {
  await withFakeTimers(async (timers) => {
    const { db } = rig({ timeout: '500ms' })
    const call = db.transaction((client) => client.query('insert into slow_commits values (1)'))
    const caught = t.throwsAsync(call)
    await waitForCommit()
    await timers.tickAsync(500)
    const error = await caught
    t.false(isTimeoutError(error), 'a plain timeout would invite a retry that commits twice')
    t.true(isCommitUnknownError(error))
    t.like(error, { code: 'ERR_BREAKWATER_COMMIT_UNKNOWN', name: 'CommitUnknownError' })
    t.true(isTimeoutError(error!.cause), 'the cause says what stopped it')
    t.like(db.breaker.metrics(), { failures: 1, timeouts: 1 })
  })
  t.true(await committed(1), 'the server did commit it: the outcome really was unknown to the caller')
})

pgTest.serial('a caller abort during COMMIT rejects with ERR_BREAKWATER_COMMIT_UNKNOWN, counted as nothing', async (t) => {
  const { db } = rig()
  const controller = new AbortController()
  const call = db.transaction((client) => client.query('insert into slow_commits values (2)'), { signal: controller.signal })
  const caught = t.throwsAsync(call)
  await waitForCommit()
  controller.abort(new Error('user left'))
  const error = await caught
  t.true(isCommitUnknownError(error))
  t.is((error!.cause as Error).message, 'user left')
  t.like(db.breaker.metrics(), { failures: 0, successes: 0 })
  t.true(await committed(2))
})

pgTest.serial('a connection terminated during COMMIT rejects with ERR_BREAKWATER_COMMIT_UNKNOWN, counted as a failure', async (t) => {
  const { db } = rig()
  const call = db.transaction((client) => client.query('insert into slow_commits values (3)'))
  const caught = t.throwsAsync(call)
  await waitForCommit()
  await pool.query("select pg_terminate_backend(pid) from pg_stat_activity where query = 'COMMIT' and state = 'active'")
  const error = await caught
  t.true(isCommitUnknownError(error), error?.message)
  t.is((error!.cause as { code?: string }).code, '57P01')
  t.like(db.breaker.metrics(), { failures: 1 })
  t.false(await committed(3), 'terminated inside the deferred trigger: rolled back, which the caller could not know')
})

pgTest.serial('a COMMIT the server refuses (a deferred constraint) rejects with its error and commits nothing', async (t) => {
  const { db } = rig()
  const error = await db
    .transaction(async (client) => {
      await client.query('insert into accounts values (3, 0)')
      await client.query('set constraints all deferred')
      await client.query('insert into slow_commits values (104), (104)')
    })
    .catch((e) => e)
  t.is(error.code, '23505')
  t.false(isCommitUnknownError(error))
  t.is((await pool.query('select 1 from accounts where id = 3')).rowCount, 0)
  t.false(await committed(104))
})

pgTest.serial('a connection the pool hands over after its call timed out goes back to the pool, not closed', async (t) => {
  const small = new pg.Pool({ connectionString: server.connectionString, max: 1 })
  const released: string[] = []
  small.on('release', (error: Error | undefined) => released.push(error ? 'closed' : 'returned'))
  try {
    const held = await small.connect() // the only connection: the adapter's call waits for it
    await withFakeTimers(async (timers) => {
      const db = database(`db-${next++}`, small, { registry: new Registry({ clock: new FakeClock() }), timeout: '1s' })
      const caught = t.throwsAsync(db.query('select 1'))
      await timers.tickAsync(1000)
      t.true(isTimeoutError(await caught))
    })
    held.release()
    await until(() => released.length === 2)
    t.deepEqual(released, ['returned', 'returned'], 'nothing was sent on it: it is healthy')
    t.is(small.totalCount, 1)
  } finally {
    await small.end()
  }
})

pgTest.serial('a transaction that times out is never committed', async (t) => {
  await withFakeTimers(async (timers) => {
    const { db } = rig({ timeout: '1s' })
    let updated = false
    const call = db.transaction(async (client) => {
      await client.query('update accounts set cash = cash + 1000 where id = 2')
      updated = true
      await client.query("select pg_sleep(30), 'transaction timeout test'")
    })
    const caught = t.throwsAsync(call)
    while (!updated) await new Promise((resolve) => setImmediate(resolve))
    await timers.tickAsync(1000)
    t.true(isTimeoutError(await caught))
  })
  await pool.query("select pg_terminate_backend(pid) from pg_stat_activity where query like '%transaction timeout test%' and pid <> pg_backend_pid()")
  t.deepEqual((await pool.query('select cash from accounts where id = 2')).rows, [{ cash: 30 }])
})

pgTest.serial('a server restart mid-run opens the breaker, refusals never touch the pool, and it closes again', async (t) => {
  const { clock, db } = rig({ breaker: { consecutiveFailures: 2, openFor: '5s', halfOpenSuccesses: 1 } })
  t.deepEqual((await db.query('select 1 as one')).rows, [{ one: 1 }])
  server.stop()
  try {
    for (let i = 0; i < 2; i++) {
      const error = await db.query('select 1').catch((e) => e)
      t.true(isTransientDatabaseError(error), `${error.code ?? ''} ${error.message}`)
    }
    t.is(db.breaker.state, 'open')
    const connects = pool.totalCount
    const refused = await db.query('select 1').catch((e) => e)
    t.true(isBrokenCircuitError(refused))
    t.is(pool.totalCount, connects, 'the refused call took no connection')
  } finally {
    server.start()
  }
  clock.advance('5s')
  t.deepEqual((await db.query('select 2 as two')).rows, [{ two: 2 }])
  t.is(db.breaker.state, 'closed')
})

/** Runs a fixture in a child process (a crash there is a failed assertion here, not a dead test run). */
function runFixture(name: string, args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const file = fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['--import=tsx', file, ...args], { timeout: 60_000 }, (_, stdout, stderr) =>
      resolve({ status: child.exitCode, stdout, stderr }),
    )
  })
}

for (const how of ['terminate', 'kill-backend', 'kill-server'] as const) {
  for (const call of ['query', 'transaction'] as const) {
    const what = { terminate: 'pg_terminate_backend', 'kill-backend': 'kill -9 of its backend', 'kill-server': 'kill -9 of the server' }[how]
    pgTest.serial(`${what} during a ${call}: the process lives, the call fails once (counted), its connection is discarded`, async (t) => {
      const child = await runFixture('db-killed-mid-call.ts', [server.connectionString, call, how, String(server.postmasterPid())])
      if (how === 'kill-server') {
        await server.crash() // waits until the killed cluster is gone, so it can start again
        await server.startAsync()
      }
      await server.ready()
      t.is(child.status, 0, child.stderr)
      const report = JSON.parse(child.stdout)
      t.like(report, { outcome: 'rejected', transient: true, failures: 1, unhandled: 0 }, child.stdout)
      t.deepEqual(report.released, ['with an error'], 'the connection left the pool')
    })
  }
}

test('sqlite: queries and writes, busy is a failure, syntax and constraint errors are not', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'breakwater-sqlite-'))
  const file = join(dir, 'ledger.db')
  const writer = new Sqlite(file)
  const other = new Sqlite(file, { timeout: 0 })
  try {
    writer.exec('create table fills (id integer primary key, symbol text not null unique)')
    const ledger = database(`sqlite-${next++}`, other, { registry: new Registry(), breaker: { consecutiveFailures: 1 } })
    t.like(await ledger.query("insert into fills (symbol) values ('AAPL')"), { changes: 1 })
    t.deepEqual(await ledger.query<{ symbol: string }[]>('select symbol from fills where id = ?', [1]), [{ symbol: 'AAPL' }])
    for (const sql of ['selec 1', "insert into fills (symbol) values ('AAPL')"]) {
      const error = await ledger.query(sql).catch((e) => e)
      t.false(isTransientDatabaseError(error), error.code)
    }
    t.is(ledger.breaker.state, 'closed')
    await t.throwsAsync(
      ledger.transaction((db) => {
        db.prepare("insert into fills (symbol) values ('MSFT')").run()
        throw new Error('changed my mind')
      }),
      { message: 'changed my mind' },
    )
    t.deepEqual(other.prepare('select count(*) as n from fills').get(), { n: 1 }, 'rolled back')
    writer.exec('begin immediate') // holds the write lock
    const busy = await ledger.query("insert into fills (symbol) values ('TSLA')").catch((e) => e)
    t.is(busy.code, 'SQLITE_BUSY')
    t.is(ledger.breaker.state, 'open')
    writer.exec('rollback')
  } finally {
    writer.close()
    other.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

pgTest.serial('a connection that dies in the packet completing its handshake fails the call and the process lives', async (t) => {
  const child = await runFixture('db-dies-at-handshake.ts', [String(server.port)])
  t.is(child.status, 0, child.stderr)
  const report = JSON.parse(child.stdout)
  t.like(report, { outcome: 'rejected', code: '57P01', transient: true, failures: 1, unhandled: 0 }, child.stdout)
  t.deepEqual(report.released, ['with an error'], 'the connection left the pool')
})

pgTest.serial('a pool that only knows the promise form of connect() works too', async (t) => {
  const promiseOnly = {
    query: (text: string, values?: unknown[]) => pool.query(text, values),
    connect: () => pool.connect(),
    on: (event: 'error', listener: (error: Error) => void) => pool.on(event, listener),
    listenerCount: (event: 'error') => pool.listenerCount(event),
  }
  const db = database(`db-${next++}`, promiseOnly, { registry: new Registry() })
  t.deepEqual((await db.query('select 7 as seven')).rows, [{ seven: 7 }])
  t.is(await db.transaction(async (client) => ((await client.query('select 8 as eight')) as pg.QueryResult).rows[0].eight), 8)
  t.is(pool.idleCount + pool.waitingCount, pool.totalCount, 'every connection went back')
})

/** An in-memory SQLite ledger behind its own breaker. */
const ledgerRig = (options: Parameters<typeof database>[2] = {}) => {
  const sqlite = new Sqlite(':memory:')
  sqlite.exec('create table fills (id integer primary key, symbol text not null)')
  const symbols = () => sqlite.prepare('select symbol from fills order by id').pluck().all()
  return { sqlite, symbols, ledger: database(`sqlite-${next++}`, sqlite, { registry: new Registry(), ...options }) }
}
const INSERT = 'insert into fills (symbol) values (?)'

test('sqlite: an insert acknowledged while an async transaction is open is never rolled back with it', async (t) => {
  const { ledger, symbols } = ledgerRig()
  const gate = deferred()
  const transaction = ledger.transaction(async (db) => {
    db.prepare(INSERT).run('TX')
    await gate.promise
    throw new Error('changed my mind')
  })
  const insert = ledger.query(INSERT, ['ACK'])
  gate.resolve()
  await t.throwsAsync(transaction, { message: 'changed my mind' })
  t.like(await insert, { changes: 1 })
  t.deepEqual(symbols(), ['ACK'], 'the acknowledged insert stays; the transaction left nothing')
})

test.serial('sqlite: calls wait in order for an open transaction; one that times out or aborts while waiting never runs', async (t) => {
  await withFakeTimers(async (timers) => {
    const { ledger, symbols } = ledgerRig({ timeout: '1s' })
    const gate = deferred()
    const transaction = t.throwsAsync(
      ledger.transaction(async (db) => {
        db.prepare(INSERT).run('TX')
        await gate.promise
      }),
    )
    const late = t.throwsAsync(ledger.query(INSERT, ['LATE'])) // times out at 1 s, still waiting
    await timers.tickAsync(600)
    const first = ledger.query(INSERT, ['FIRST'])
    await timers.tickAsync(50)
    const controller = new AbortController()
    const aborted = t.throwsAsync(ledger.query(INSERT, ['ABORTED'], { signal: controller.signal }), { message: 'not now' })
    const second = ledger.query(INSERT, ['SECOND'])
    await timers.tickAsync(50)
    controller.abort(new Error('not now'))
    await aborted
    await timers.tickAsync(300) // 1 s: the transaction and the first waiter time out
    t.true(isTimeoutError(await transaction))
    t.true(isTimeoutError(await late))
    gate.resolve() // the timed-out body settles: rolled back, and the connection passes on
    t.like(await first, { changes: 1 })
    t.like(await second, { changes: 1 })
    t.deepEqual(symbols(), ['FIRST', 'SECOND'])
    t.like(ledger.breaker.metrics(), { timeouts: 2 })
  })
})

test('sqlite: two adapters over one connection share its turns', async (t) => {
  const { sqlite, ledger, symbols } = ledgerRig()
  const other = database(`sqlite-${next++}`, sqlite, { registry: new Registry() })
  const gate = deferred()
  const transaction = ledger.transaction(async (db) => {
    db.prepare(INSERT).run('TX')
    await gate.promise
    throw new Error('rolled back')
  })
  const insert = other.query(INSERT, ['OTHER'])
  gate.resolve()
  await t.throwsAsync(transaction)
  t.like(await insert, { changes: 1 })
  t.deepEqual(symbols(), ['OTHER'])
})

test("sqlite: a transaction body's own queries run inside it, and transaction() inside a body is refused", async (t) => {
  const { ledger, symbols } = ledgerRig()
  const transaction = ledger.transaction(async () => {
    await ledger.query(INSERT, ['INSIDE']) // the body's own statement: part of the transaction
    const nested = await ledger.transaction(() => 'never').catch((e) => e)
    t.true(nested instanceof TypeError)
    t.is(nested.code, 'ERR_BREAKWATER_INVALID_OPTION')
    t.regex(nested.message, /nested transactions are refused/)
    t.deepEqual(symbols(), ['INSIDE'])
    throw new Error('undo')
  })
  await t.throwsAsync(transaction, { message: 'undo' })
  t.deepEqual(symbols(), [], 'rolled back with the transaction')
  t.is(await ledger.transaction(() => 'after'), 'after', 'a transaction after it runs')
})

test.serial(
  "sqlite: only what SQLite raised counts against the database: a body's own error (a failed file read, another breaker's timeout, a wrapped SQLITE_BUSY) is not a failure, SQLITE_BUSY rethrown as is is",
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'breakwater-sqlite-'))
    const file = join(dir, 'ledger.db')
    const writer = new Sqlite(file)
    const sqlite = new Sqlite(file, { timeout: 0 })
    try {
      writer.exec('create table fills (id integer primary key, symbol text not null)')
      const ledger = database(`sqlite-${next++}`, sqlite, { registry: new Registry(), breaker: { consecutiveFailures: 2 } })
      const other = new Registry().getOrCreate('other-service', { timeout: '10ms' })
      const insert = (symbol: string) => sqlite.prepare(INSERT).run(symbol)
      const noFile = await ledger
        .transaction(async () => {
          insert('A')
          await readFile('/nonexistent/breakwater-order.json')
        })
        .catch((e) => e)
      t.is(noFile.code, 'ENOENT')
      await withFakeTimers(async (timers) => {
        const caught = t.throwsAsync(
          ledger.transaction(async () => {
            insert('B')
            await other.execute(() => new Promise<never>(() => {}))
          }),
        )
        await timers.tickAsync(10)
        t.is(((await caught) as unknown as { source: string }).source, 'other-service')
      })
      writer.exec('begin immediate') // holds the write lock: SQLITE_BUSY for the ledger's writes
      const wrapped = await ledger
        .transaction(() => {
          try {
            insert('C')
          } catch (cause) {
            throw new Error('booking failed', { cause })
          }
        })
        .catch((e) => e)
      t.is(wrapped.cause.code, 'SQLITE_BUSY')
      t.like(ledger.breaker.metrics(), { failures: 0, timeouts: 0 }, "none of them is the database's")
      t.is(ledger.breaker.state, 'closed')
      const asIs = await ledger.transaction(() => insert('D')).catch((e) => e)
      t.is(asIs.code, 'SQLITE_BUSY')
      t.like(ledger.breaker.metrics(), { failures: 1 }, 'SQLite raised it: the database is busy')
      writer.exec('rollback')
      t.deepEqual(sqlite.prepare('select symbol from fills').pluck().all(), [], 'every one rolled back')
    } finally {
      writer.close()
      sqlite.close()
      rmSync(dir, { recursive: true, force: true })
    }
  },
)

test('sqlite: a query() error a transaction body rethrows counts once, by that query, not again by the transaction', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'breakwater-sqlite-'))
  const file = join(dir, 'ledger.db')
  const writer = new Sqlite(file)
  const sqlite = new Sqlite(file, { timeout: 0 })
  try {
    writer.exec('create table fills (id integer primary key, symbol text not null)')
    const ledger = database(`sqlite-${next++}`, sqlite, { registry: new Registry() })
    writer.exec('begin immediate') // holds the write lock: SQLITE_BUSY for the ledger's writes
    const busy = await ledger.transaction(() => ledger.query(INSERT, ['A'])).catch((e) => e)
    t.is(busy.code, 'SQLITE_BUSY')
    t.like(ledger.breaker.metrics(), { calls: 2, failures: 1 }, 'one busy database, one failure')
    writer.exec('rollback')
  } finally {
    writer.close()
    sqlite.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test("sqlite: a transaction whose body ended it rejects with the body's error, not ROLLBACK's", async (t) => {
  const { ledger } = ledgerRig()
  await t.throwsAsync(
    ledger.transaction((db) => {
      db.exec('ROLLBACK')
      throw new Error('the body failed')
    }),
    { message: 'the body failed' },
  )
})

pgTest.serial('database options are own properties only: unknown keys, a bad breaker or registry are refused, and nothing is made', async (t) => {
  const registry = new Registry()
  const refuse = (options: unknown, message: RegExp) =>
    t.throws(() => database('refused', pool, options as never), { instanceOf: TypeError, code: 'ERR_BREAKWATER_INVALID_OPTION', message })
  refuse({ tmeout: '1s', registry }, /^tmeout is not a database option \(known: timeout, breaker, isFailure, registry\)$/)
  refuse(null, /^database options must be an object, but was null$/)
  refuse({ registry, breaker: 'strict' }, /^database breaker must be an object of breaker options, but was "strict"$/)
  refuse({ registry, breaker: { timeout: '1s' } }, /^timeout is not a database breaker option \(the adapter sets its own timeout\)$/)
  refuse({ registry, breaker: { fallback: () => 'x' } }, /^fallback is not a database breaker option/)
  refuse({ registry: {} }, /^registry must be a Registry, but was an object$/)
  refuse({ registry, breaker: { consecutiveFailurs: 2 } }, /consecutiveFailurs/)
  t.deepEqual(registry.names(), [], 'no breaker was made for refused options')

  const inherited = database(`db-${next++}`, pool, Object.assign(Object.create({ timeout: '1ms' }), { registry }))
  const polluted = Object.prototype as Record<string, unknown>
  polluted.timeout = '1ms'
  polluted.fallback = () => 'polluted'
  let inPollution: PgDatabase<pg.Pool>
  try {
    inPollution = database(`db-${next++}`, pool, { registry })
  } finally {
    delete polluted.timeout
    delete polluted.fallback
  }
  for (const db of [inherited, inPollution]) {
    t.deepEqual((await db.query("select pg_sleep(0.05), 'slept' as done")).rows, [{ pg_sleep: '', done: 'slept' }], 'no 1 ms timeout came through a prototype')
    t.is((await db.query('selec 1').catch((e) => e)).code, '42601', 'no fallback came through a prototype')
  }
})

pgTest.serial('per-call options are own properties only: unknown keys, null and a bare signal are rejected, uncounted', async (t) => {
  const { db } = rig()
  const { ledger } = ledgerRig()
  const invalid = { instanceOf: TypeError, code: 'ERR_BREAKWATER_INVALID_OPTION' }
  for (const adapter of [db, ledger] as const) {
    const query = adapter.query.bind(adapter) as (sql: unknown, params?: unknown, options?: unknown) => Promise<unknown>
    const transaction = adapter.transaction.bind(adapter) as (fn: unknown, options?: unknown) => Promise<unknown>
    await t.throwsAsync(query('select 1', [], { tmeout: '1s' }), { ...invalid, message: 'tmeout is not a query option (known: signal, timeout)' })
    await t.throwsAsync(query('select 1', [], null), { ...invalid, message: 'query options must be an object, but was null' })
    await t.throwsAsync(query('select 1', [], new AbortController().signal), {
      ...invalid,
      message: /^query takes its signal inside the options, as \{ signal \}/,
    })
    await t.throwsAsync(query(5), { ...invalid, message: 'query needs SQL as a string, but was given 5' })
    await t.throwsAsync(query('select 1', 'x'), { ...invalid, message: 'query params must be an array, but was "x"' })
    await t.throwsAsync(
      transaction(async () => 1, Object.create({ signal: 1 }, { maxAttempts: { value: 3, enumerable: true } })),
      {
        ...invalid,
        message: /^maxAttempts is not a transaction option/,
      },
    )
    t.like(adapter.breaker.metrics(), { calls: 0 }, 'a caller mistake is not a call')
  }
})

pgTest.serial('a per-call timeout overrides the database timeout', async (t) => {
  await withFakeTimers(async (timers) => {
    const { db } = rig({ timeout: '10s' })
    const caught = t.throwsAsync(db.query("select pg_sleep(30), 'per-call timeout'", [], { timeout: '100ms' }))
    while (pool.idleCount === pool.totalCount) await new Promise((resolve) => setImmediate(resolve))
    await timers.tickAsync(100)
    t.true(isTimeoutError(await caught))
  })
  await pool.query("select pg_terminate_backend(pid) from pg_stat_activity where query like '%per-call timeout%' and pid <> pg_backend_pid()")
})

test('what is not a database client is refused with what was expected', (t) => {
  t.throws(() => database('x', {} as never), {
    instanceOf: TypeError,
    message: 'database needs a pg Pool (with query and connect) or a better-sqlite3 Database (with prepare and exec), but was given an object',
  })
  t.throws(() => database('x', null as never), { instanceOf: TypeError })
})
