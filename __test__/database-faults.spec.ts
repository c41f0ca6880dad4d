// Fault injection for the database adapter: real PostgreSQL killed and broken at random points of
// queries and transactions, and SQLite under concurrent transactions and queries with locks taken
// by another connection. Each run happens in a child process (a crash there is a failed
// assertion here) and is judged on its report. A few seconds each by default;
// BREAKWATER_FAULT_SECONDS makes them longer, BREAKWATER_FAULT_SEED repeats a run's choices.
import test from 'ava'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { withPostgres } from './servers/postgres.ts'

const seconds = Number(process.env.BREAKWATER_FAULT_SECONDS ?? 3)
const seed = Number(process.env.BREAKWATER_FAULT_SEED ?? Math.floor(Math.random() * 2 ** 31))

interface Report {
  calls: number
  resolved: number
  rejected: number
  hung: number
  settledTwice: number
  overBound: string[]
  lostInserts: number[]
  lostTransactions: number[]
  committedAfterRejection: string[]
  partialTransactions: number[]
  bodyErrorReplaced: string[]
  commitUnknown: number
  counted: number
  unhandled: number
  faults: Record<string, number>
  leftInTransaction?: boolean
}

function run(mode: 'pg' | 'sqlite', seed: number): Promise<{ status: number | null; report: Report | undefined; stderr: string }> {
  const fixture = fileURLToPath(new URL('./fixtures/db-faults.ts', import.meta.url))
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ['--import=tsx', fixture, mode, String(seed), String(seconds)],
      { timeout: (seconds + 60) * 1000, maxBuffer: 64 * 1024 * 1024 },
      (_, stdout, stderr) => {
        const last = stdout.trim().split('\n').at(-1)
        resolve({ status: child.exitCode, report: last?.startsWith('{') ? (JSON.parse(last) as Report) : undefined, stderr })
      },
    )
  })
}

/** What every run must show, whatever the faults hit. */
function holds(t: import('ava').ExecutionContext, report: Report) {
  t.is(report.unhandled, 0, 'no unhandled rejection')
  t.is(report.hung, 0, 'every call ended')
  t.is(report.settledTwice, 0, 'in exactly one outcome')
  t.deepEqual(report.overBound, [], 'within its timeout and a margin')
  t.deepEqual(report.lostInserts, [], 'every insert that resolved is in the table')
  t.deepEqual(report.lostTransactions, [], 'every transaction that resolved committed whole')
  t.deepEqual(report.committedAfterRejection, [], 'no transaction that rejected (other than "commit unknown") committed')
  t.deepEqual(report.partialTransactions, [], 'no transaction committed in part')
  t.deepEqual(report.bodyErrorReplaced, [], "a body's own error reaches its caller, unless a timeout or an abort stopped the call first")
  t.is(report.counted, report.calls, 'the breaker counted every call once')
  t.true(report.resolved > 0 && report.rejected > 0, `${report.resolved} resolved, ${report.rejected} rejected`)
}

withPostgres(test)(
  'PostgreSQL killed, restarted and its backends terminated at random: the process lives, every call ends once, nothing acknowledged is lost',
  async (t) => {
    t.log(`seed ${seed}, ${seconds} s`)
    const { status, report, stderr } = await run('pg', seed)
    t.is(status, 0, stderr)
    if (!report) return t.fail(`no report (seed ${seed}): ${stderr}`)
    t.log(JSON.stringify({ calls: report.calls, commitUnknown: report.commitUnknown, faults: report.faults }))
    holds(t, report)
    t.true(report.faults.killServer! > 0 && report.faults.terminate! + report.faults.killBackend! > 0, JSON.stringify(report.faults))
  },
)

test('SQLite under concurrent transactions and queries, timeouts, aborts and locks taken at random: nothing acknowledged is lost', async (t) => {
  t.log(`seed ${seed}, ${seconds} s`)
  const { status, report, stderr } = await run('sqlite', seed)
  t.is(status, 0, stderr)
  if (!report) return t.fail(`no report (seed ${seed}): ${stderr}`)
  t.log(JSON.stringify({ calls: report.calls, faults: report.faults }))
  holds(t, report)
  t.is(report.commitUnknown, 0, 'a SQLite COMMIT is never in doubt')
  t.false(report.leftInTransaction, 'no transaction is left open')
})
