// The demo (`npm start`) as a user runs it: a real child process with its real services on
// loopback, read through its `--json` lines. Bounded: every run has a deadline and is killed past it.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import test from 'ava'
import Database from 'better-sqlite3'

const root = fileURLToPath(new URL('..', import.meta.url))
const MAIN = 'examples/trading-backend/main.ts'
/** How long the full run lasts: a few seconds in `npm test`; `BREAKWATER_DEMO_RUN=2m` for a longer one. */
const RUN = process.env.BREAKWATER_DEMO_RUN ?? '12s'
const RUN_MS = Number.parseFloat(RUN) * ({ ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[RUN.replace(/^[\d.]+/, '')] ?? Number.NaN)

type Line = Record<string, unknown> & { type: string }
interface Run {
  child: ChildProcess
  lines: Line[]
  stderr: string[]
  /** Resolves with the exit code (or the signal's name) once the process has exited. */
  exited: Promise<number | string>
  /** Resolves once a line of `type` has been printed. */
  seen(type: string): Promise<void>
}

/** Starts the demo with `args`; killed with SIGKILL if it is still running after `deadlineMs`. */
function demo(args: string[], deadlineMs: number): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, '--port', '0', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: Line[] = []
  const stderr: string[] = []
  const waiting: Array<{ type: string; resolve: () => void }> = []
  let rest = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n')
    rest = parts.pop()!
    for (const text of parts) {
      const line = JSON.parse(text) as Line
      lines.push(line)
      for (const w of waiting.filter((w) => w.type === line.type)) w.resolve()
    }
  })
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk))
  const deadline = setTimeout(() => child.kill('SIGKILL'), deadlineMs)
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => {
      clearTimeout(deadline)
      resolve(code ?? signal ?? 'unknown')
    }),
  )
  const seen = (type: string) => (lines.some((l) => l.type === type) ? Promise.resolve() : new Promise<void>((resolve) => waiting.push({ type, resolve })))
  return { child, lines, stderr, exited, seen }
}

interface BreakerSummary {
  state: string
  calls: number
  refusals: number
  opens: number
  recoveries: number
}
interface Summary {
  breakers: Record<string, BreakerSummary>
  orders: { placed: number; refused: number; refusedBy: Record<string, number>; unanswered: number }
  chaos: Record<string, { injected: number; stopped: string | null }>
  ledger: { acknowledged: number; lost: number; unsettled: number; integrity: string; ok: boolean; settledFromEarlierRuns: number }
}

/** Whether a process with this pid exists (signal 0 checks without sending anything). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const summaryOf = (run: Run) => run.lines.find((l) => l.type === 'summary') as unknown as Summary | undefined
const ackedIds = (run: Run) => run.lines.filter((l) => l.type === 'ack').map((l) => l.id as string)

function tempDb(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'breakwater-demo-spec-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return join(dir, 'ledger.db')
}

/** The ledger's rows by id, read with a connection of our own. */
function ledgerRows(path: string): { rows: Map<string, string>; integrity: string } {
  const db = new Database(path, { readonly: true })
  try {
    const rows = new Map((db.prepare('select id, status from orders').all() as { id: string; status: string }[]).map((r) => [r.id, r.status]))
    return { rows, integrity: String(db.pragma('integrity_check', { simple: true })) }
  } finally {
    db.close()
  }
}

test.serial('a headless run goes through every fault: breakers open and recover, orders are placed and refused, the ledger loses nothing', async (t) => {
  const db = tempDb(t)
  const run = demo(['--duration', RUN, '--json', '--db', db], RUN_MS + 60_000)
  t.is(await run.exited, 0, run.stderr.join(''))
  t.false(/unhandled/i.test(run.stderr.join('')), run.stderr.join(''))
  const summary = summaryOf(run)
  if (!summary) return t.fail('no summary line')
  // Each rehearsal was enabled in its turn and ended by itself (its safety stop, or its TTL).
  t.deepEqual(
    run.lines.filter((l) => l.type === 'chaos-start').map((l) => l.policy),
    ['marketDataLatency', 'gatewayOutage', 'databaseLock', 'sandboxCrash'],
  )
  for (const [name, c] of Object.entries(summary.chaos)) {
    t.true(c.stopped === 'breaker_open' || c.stopped === 'expired', `${name} stopped: ${c.stopped}`)
  }
  // Each breaker a rehearsal aims at opened (by the rehearsal, or for real: on a starved machine
  // quotes can be slow enough to pause trading before latency is injected) and recovered. A run
  // squeezed by other processes may end before the last one's probe: one may still be open.
  const targets = ['trading-pause', 'orders', 'trading-db', 'strategy-sandbox:execute']
  for (const name of targets) t.true(summary.breakers[name]!.opens >= 1, `${name} opened: ${JSON.stringify(summary.breakers[name])}`)
  const recovered = targets.filter((name) => summary.breakers[name]!.recoveries >= 1)
  t.true(recovered.length >= 3, `recovered: ${recovered.join(', ')}`)
  const injected = Object.entries(summary.chaos).filter(([, c]) => c.injected >= 1)
  t.true(injected.length >= 3, `injected: ${injected.map(([name]) => name).join(', ')}`)
  t.true(summary.breakers['trading-db']!.refusals >= 1, 'the open database breaker refused writes')
  t.true(summary.orders.placed > 0)
  t.true(summary.orders.refused > 0)
  t.true(summary.orders.refusedBy.ledger! > 0, 'orders refused while the database was locked')
  t.true(summary.orders.refusedBy['gateway-busy']! > 0, 'the gateway shed part of the rebalance basket with 503')
  t.true(
    run.lines.some((l) => l.type === 'transition' && l.name === 'orders' && l.reason === 'retry_after'),
    "the gateway's Retry-After held the orders breaker open",
  )
  // Nothing acknowledged is lost: the demo's own check, and ours from the file.
  const acked = ackedIds(run)
  t.is(summary.ledger.acknowledged, acked.length, "the gateway's count and the demo's agree (late answers included)")
  t.is(summary.orders.placed, acked.length)
  t.is(summary.orders.unanswered, 0, 'every order sent has an answer by the end')
  t.like(summary.ledger, { lost: 0, unsettled: 0, integrity: 'ok', ok: true })
  const { rows, integrity } = ledgerRows(db)
  t.is(integrity, 'ok')
  t.deepEqual(
    acked.filter((id) => rows.get(id) !== 'acked'),
    [],
  )
  t.false([...rows.values()].includes('new'), 'every order of the run has its answer written')
  const pids = run.lines.filter((l) => l.type === 'sandbox').map((l) => l.pid as number)
  t.true(pids.length >= 3, 'the crashed sandboxes were replaced')
  t.deepEqual(
    pids.filter((pid) => isAlive(pid)),
    [],
    'every sandbox process is gone once the demo has exited',
  )
})

test.serial('bad options are refused before anything starts, with what was wrong, and exit code 2', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['--duration', 'abc'], /--duration must be a number with a unit \(ms, s, m or h\), like 30s or 2m, but was "abc"/],
    [['--duration', '1s'], /--duration must be at least 4s/],
    [['--port', 'http'], /--port must be a whole number from 0 to 65535, but was "http"/],
    [['--duration'], /--duration needs a value/],
    [['--headles'], /unknown option "--headles"/],
  ]
  const runs = cases.map(([args]) => demo(args, 30_000))
  for (const [i, [args, message]] of cases.entries()) {
    const run = runs[i]!
    t.is(await run.exited, 2, args.join(' '))
    t.regex(run.stderr.join(''), message)
    t.regex(run.stderr.join(''), /Usage: npm start --/)
    t.deepEqual(run.lines, [], 'nothing started')
  }
})

// Windows has no SIGTERM to catch: a child's kill() ends it outright (the SIGKILL spec covers that).
const onPosix = process.platform === 'win32' ? test.skip : test.serial

onPosix('SIGTERM mid-run stops the demo cleanly: a summary, a consistent ledger, exit code 0', async (t) => {
  const db = tempDb(t)
  const run = demo(['--duration', '8s', '--json', '--db', db], 60_000)
  await run.seen('ack')
  await new Promise((resolve) => setTimeout(resolve, Math.random() * 4_000)) // anywhere in the first faults
  run.child.kill('SIGTERM')
  t.is(await run.exited, 0, run.stderr.join(''))
  const summary = summaryOf(run)
  t.like(summary?.ledger, { lost: 0, unsettled: 0, integrity: 'ok', ok: true })
  t.is(summary?.ledger.acknowledged, ackedIds(run).length)
})

test.serial('SIGKILL mid-run leaves a ledger holding every acknowledged order, settled on the next start', async (t) => {
  const db = tempDb(t)
  const killed = demo(['--duration', '8s', '--json', '--db', db], 60_000)
  await killed.seen('ack')
  await new Promise((resolve) => setTimeout(resolve, Math.random() * 4_000)) // anywhere in the first faults
  killed.child.kill('SIGKILL')
  t.is(await killed.exited, 'SIGKILL')
  const acked = ackedIds(killed)
  t.true(acked.length > 0)
  const before = ledgerRows(db)
  t.is(before.integrity, 'ok')
  t.deepEqual(
    acked.filter((id) => !before.rows.has(id)),
    [],
    'an order printed as acknowledged has its row: it was written before it was sent',
  )
  const unanswered = [...before.rows.values()].filter((s) => s === 'new').length
  // The sandboxes' processes end with their owner (they leave when their IPC channel closes).
  const pids = killed.lines.filter((l) => l.type === 'sandbox').map((l) => l.pid as number)
  t.true(pids.length > 0)
  const alive = () => pids.filter((pid) => isAlive(pid))
  for (let waited = 0; alive().length > 0 && waited < 5_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50))
  t.deepEqual(alive(), [], 'no sandbox process outlives the killed demo')

  const next = demo(['--duration', '4s', '--json', '--db', db], 60_000)
  t.is(await next.exited, 0, next.stderr.join(''))
  const summary = summaryOf(next)
  t.like(summary?.ledger, { settledFromEarlierRuns: unanswered, lost: 0, integrity: 'ok', ok: true })
  const after = ledgerRows(db)
  t.deepEqual(
    acked.filter((id) => !['acked', 'unknown'].includes(after.rows.get(id)!)),
    [],
    "the killed run's acknowledged orders: acked, or unknown (its answer died with it), never lost",
  )
  t.false([...after.rows.values()].includes('new'))
})
