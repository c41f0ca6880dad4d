// A real PostgreSQL server for tests: a new cluster in a temporary directory, on a free loopback
// port, that a test can stop and start again (a restart mid-run), or kill (`kill -9` of the
// postmaster, as a crash would) and start again. Runs as `postgres` when root. PostgreSQL is
// looked for on PATH and in the usual places (`findPostgres`); specs declared with
// `withPostgres(test)` are skipped where it is missing, or fail there when `CI=true`.
import { execFile, execFileSync } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join } from 'node:path'
import { setTimeout as wait } from 'node:timers/promises'
import type { TestFn } from 'ava'
import pg from 'pg'
import { needs } from './needs.ts'

export interface TestPostgres {
  port: number
  connectionString: string
  /** The data directory: every process of the cluster has it as its working directory. */
  data: string
  /** Stops the server cleanly (blocking). */
  stop(): void
  /** Starts it (blocking until it accepts connections). */
  start(): void
  /** Starts it without blocking the event loop, so calls in flight keep their timers. */
  startAsync(): Promise<void>
  /** The postmaster's pid, from `postmaster.pid`. */
  postmasterPid(): number
  /**
   * `kill -9` of the postmaster (unless it is dead already), then waits until every process of
   * the cluster is gone (backends leave when they notice; stragglers get `kill -9` after 200 ms),
   * so that `start` can follow (it recovers from the crash).
   */
  crash(): Promise<void>
  /** Resolves once the server answers a query (after a restart or a backend's crash). */
  ready(): Promise<void>
  destroy(): void
}

const exe = process.platform === 'win32' ? '.exe' : ''

/** The folders in `parent` whose names match `name`, newest version last (`17` after `9.6`). */
function versions(parent: string, name: RegExp): string[] {
  try {
    const byVersion = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true })
    return readdirSync(parent)
      .filter((d) => name.test(d))
      .sort(byVersion)
      .map((d) => join(parent, d))
  } catch {
    return []
  }
}

/**
 * Where PostgreSQL's server programs may be, most likely first: `PG_BIN` if set, `PATH`, then the
 * usual places of Debian/Ubuntu, the PGDG RPMs, a source build, Homebrew (with its versioned
 * kegs), Postgres.app and the Windows installer (newest version first in each).
 */
function candidates(): string[] {
  const newestFirst = (dirs: string[], bin: string) => dirs.reverse().map((d) => join(d, bin))
  return [
    ...(process.env.PG_BIN ? [process.env.PG_BIN] : []),
    ...(process.env.PATH ?? '').split(delimiter).filter(Boolean),
    ...newestFirst(versions('/usr/lib/postgresql', /^\d/), 'bin'),
    ...newestFirst(versions('/usr', /^pgsql-\d/), 'bin'),
    '/usr/local/pgsql/bin',
    '/opt/homebrew/bin',
    ...newestFirst(versions('/opt/homebrew/opt', /^postgresql@\d/), 'bin'),
    '/usr/local/bin',
    ...newestFirst(versions('/usr/local/opt', /^postgresql@\d/), 'bin'),
    ...newestFirst(versions('/Applications/Postgres.app/Contents/Versions', /^\d/), 'bin'),
    ...newestFirst(versions('C:\\Program Files\\PostgreSQL', /^\d/), 'bin'),
  ]
}

/** The first folder holding both `initdb` and `pg_ctl` (Debian keeps them off `PATH`), if any. */
export function findPostgres(): string | undefined {
  const dir = candidates().find((d) => ['initdb', 'pg_ctl'].every((p) => existsSync(join(d, p + exe))))
  // Where the programs really are (a link on PATH may point into a versioned folder).
  return dir && dirname(realpathSync(join(dir, `pg_ctl${exe}`)))
}

const bin = findPostgres()
const hint = 'looked in PG_BIN, PATH, /usr/lib/postgresql/*/bin, /usr/local/pgsql/bin, Homebrew; apt-get install -y postgresql, or set PG_BIN'

/**
 * ava's `test` for specs that need a PostgreSQL server: skipped with a visible reason when it is
 * not installed, failed instead when `CI=true` (see needs.ts). Takes `test` rather than importing
 * ava, since fixtures that run outside ava import this file too.
 */
export function withPostgres<Context = unknown>(ava: TestFn<Context>): TestFn<Context> {
  return needs('PostgreSQL', bin !== undefined, hint, ava)
}

function binDir(): string {
  if (bin === undefined) throw new Error(`PostgreSQL not found (${hint})`)
  return bin
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number }
      probe.close(() => resolve(port))
    })
  })
}

/** The pids of the processes whose working directory is `dir` (every process of a cluster). */
function processesIn(dir: string): number[] {
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (readlinkSync(`/proc/${entry}/cwd`) === dir) pids.push(Number(entry))
    } catch {
      // gone, or not ours to read
    }
  }
  return pids
}

/** A process's state letter (`Z` for a zombie), or undefined once it is gone. */
function stateOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').at(-1)![0]
  } catch {
    return undefined
  }
}

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL')
  } catch {
    // already gone
  }
}

export async function startPostgres(): Promise<TestPostgres> {
  const bin = binDir()
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'breakwater-pg-')))
  const asRoot = process.getuid?.() === 0
  if (asRoot) {
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }))
    chownSync(dir, id('-u'), id('-g'))
  }
  const command = (program: string, args: string[]): [string, string[]] => {
    const quoted = [join(bin, program), ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ')
    return asRoot ? ['su', ['postgres', '-c', quoted]] : [join(bin, program), args]
  }
  const run = (program: string, args: string[]) => execFileSync(...command(program, args), { stdio: 'pipe' })
  const runAsync = (program: string, args: string[]) =>
    new Promise<void>((resolve, reject) => execFile(...command(program, args), (error) => (error ? reject(error) : resolve())))
  const data = join(dir, 'data')
  run('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-instructions', '-E', 'UTF8'])
  const port = await freePort()
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`
  const startArgs = ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '30', '-o', options, 'start']
  const start = () => run('pg_ctl', startArgs)
  const stop = () => run('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop'])
  const connectionString = `postgres://postgres@127.0.0.1:${port}/postgres`
  const postmasterPid = () => Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0])
  start()
  return {
    port,
    connectionString,
    data,
    start,
    startAsync: () =>
      runAsync('pg_ctl', startArgs).catch((error: Error) => {
        const log = readFileSync(join(dir, 'server.log'), 'utf8').split('\n').slice(-15).join('\n')
        throw new Error(`${error.message}\nserver.log ends with:\n${log}`)
      }),
    stop,
    postmasterPid,
    async crash() {
      let pid = 0
      try {
        pid = postmasterPid()
      } catch {
        // no pid file: not running
      }
      if (processesIn(data).includes(pid)) kill(pid) // never a stale pid that some other process reuses now
      for (let i = 0; i < 10 && processesIn(data).length > 0; i++) await wait(20)
      processesIn(data).forEach(kill) // what did not leave by itself at once goes too, as in a crash
      for (let i = 0; i < 100 && processesIn(data).length > 0; i++) await wait(20)
      // A process loses its working directory early in its exit, before it is a zombie.
      for (let i = 0; i < 250 && pid > 0 && stateOf(pid) !== 'Z' && stateOf(pid) !== undefined; i++) await wait(20)
      // Every process of the cluster is dead, but the postmaster stays a zombie until init reaps
      // it (a second or more here), and PostgreSQL will not start while the pid in its lock
      // files exists. So remove the stale lock files, and the shared memory segment they name,
      // as PostgreSQL itself does when it finds stale ones.
      if (pid > 0 && stateOf(pid) === 'Z') {
        const lock = join(data, 'postmaster.pid')
        const segment = readFileSync(lock, 'utf8').split('\n')[6]?.trim().split(/\s+/)[1]
        try {
          if (segment) execFileSync('ipcrm', ['-m', segment], { stdio: 'ignore' })
        } catch {
          // gone already
        }
        rmSync(lock, { force: true })
        rmSync(join(dir, `.s.PGSQL.${port}.lock`), { force: true })
      }
    },
    async ready() {
      for (let attempt = 0; ; attempt++) {
        const client = new pg.Client({ connectionString, connectionTimeoutMillis: 2000 })
        client.on('error', () => undefined)
        try {
          await client.connect()
          await client.query('select 1')
          return
        } catch (error) {
          if (attempt >= 300) throw error
          await wait(50)
        } finally {
          await client.end().catch(() => undefined)
        }
      }
    },
    destroy() {
      try {
        stop()
      } catch {
        // already stopped
      }
      processesIn(data).forEach(kill)
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
