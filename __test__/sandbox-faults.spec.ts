// Fault injection for the sandbox adapter, against the local sandbox (real child processes).
// Several users create, execute and stop sandboxes at once while the sandboxes crash, hang, run out
// of memory, refuse to start, never finish starting, and are killed with SIGKILL at random points,
// and while kill() itself rejects, throws or hangs. Checked: the process lives (no unhandled
// rejection), every call ends exactly once within its bound, the breakers' counts match what the
// callers saw, and no child process is left running unless a warning named it or its stop() rejected.
// The adapter's timeouts are real timers here (short ones): the test waits for calls to settle and
// processes to exit, each with an upper bound, never for a clock. A few seconds by default;
// BREAKWATER_FAULT_SECONDS=60 runs longer, BREAKWATER_FAULT_SEED=n replays a run.
import test from 'ava'
import { type BreakerOptions, isBrokenCircuitError, isSandboxStoppedError, isTimeoutError, Registry, sandbox } from '../src/index.ts'
import { type KillFault, LocalSandbox } from './fixtures/local-sandbox.ts'

const SECONDS = Number(process.env.BREAKWATER_FAULT_SECONDS ?? 3)
const SEED = Number(process.env.BREAKWATER_FAULT_SEED ?? Date.now() % 100_000)
const USERS = 4
const TIMEOUTS = { create: 1500, execute: 300, kill: 300 }
/** Room for a loaded machine (2 shared cores, children starting) on top of a call's own bound. */
const SLACK_MS = 3000

let seed = SEED
const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31
const chance = (p: number) => random() < p
const pick = <T>(weighted: Array<[T, number]>): T => {
  let r = random() * weighted.reduce((sum, [, w]) => sum + w, 0)
  for (const [value, w] of weighted) if ((r -= w) < 0) return value
  return weighted[0]![0]
}
const turn = () => new Promise<void>((resolve) => setImmediate(resolve))
const now = () => performance.now()

/** Lets the event loop turn until `ready()` holds or `ms` of real time passed (waits for I/O). */
async function settle(ready: () => boolean, ms: number): Promise<boolean> {
  const end = now() + ms
  while (!ready() && now() < end) await turn()
  return ready()
}

/** Kills one of `pids()` with SIGKILL after a random number of event-loop turns. */
async function killLater(pids: () => number[], maxTurns: number): Promise<void> {
  for (let i = Math.floor(random() * maxTurns); i > 0; i--) await turn()
  const candidates = pids()
  const pid = candidates[Math.floor(random() * candidates.length)]
  if (pid === undefined) return
  try {
    process.kill(pid, 'SIGKILL')
  } catch {
    // gone already
  }
}

/** Whether the system still has process `pid`. */
const exists = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

type Kind = 'create' | 'execute' | 'stop'
type Seen = 'success' | 'failure' | 'timeout' | 'ignored' | 'rejected' | 'not-live'

test.serial(
  'sandboxes that crash, hang, run out of memory or are killed at random, with kills that fail: the process lives, every call ends once in time, counts add up, nothing runs unnamed',
  async (t) => {
    t.timeout((4 * SECONDS + 60) * 1000)
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown) => unhandled.push(reason)
    process.on('unhandledRejection', onUnhandled)
    /** Sandboxes whose failed kill was reported: by a warning, or to the caller of stop(). */
    const reported = new Set<string>()
    const onWarning = (w: Error & { code?: string }) => {
      if (w.code === 'BREAKWATER_SANDBOX_KILL') reported.add(/sandbox (\S+) of/.exec(w.message)?.[1] ?? w.message)
    }
    // The warnings are counted here; printing dozens of them would bury the test's output.
    const printers = process.listeners('warning')
    process.removeAllListeners('warning')
    process.on('warning', onWarning)
    LocalSandbox.pickKillFault = () =>
      pick<KillFault>([
        ['none', 70],
        ['reject', 8],
        ['reject-after-kill', 8],
        ['throw', 7],
        ['hang', 7],
      ])

    const registry = new Registry()
    // Breakers that open now and then, and not for long (a run of a few seconds must see all states).
    const breaker = (consecutiveFailures: number): BreakerOptions => ({ consecutiveFailures, failureRate: false, openFor: '100ms', openMultiplier: 1 })
    const boxes = sandbox(LocalSandbox, {
      name: `faults-${SEED}`,
      registry,
      createTimeout: TIMEOUTS.create,
      executeTimeout: TIMEOUTS.execute,
      killTimeout: TIMEOUTS.kill,
      createBreaker: breaker(6),
      executeBreaker: breaker(4),
    })

    const seen: Record<Exclude<Kind, 'stop'>, Record<Seen, number>> = {
      create: { success: 0, failure: 0, timeout: 0, ignored: 0, rejected: 0, 'not-live': 0 },
      execute: { success: 0, failure: 0, timeout: 0, ignored: 0, rejected: 0, 'not-live': 0 },
    }
    const problems: string[] = []
    /** Why calls failed, for a run that saw too little to say why. */
    const failures = new Map<string, number>()
    let pending = 0
    let calls = 0
    const aborted = new Error('caller aborted')

    /** Runs one call, checks it ends once and within `bound`, and tallies what its caller saw. */
    async function track<R>(kind: Kind, bound: number, call: () => Promise<R>): Promise<R | undefined> {
      calls++
      pending++
      const started = now()
      let promise: Promise<R>
      try {
        promise = call()
      } catch (error) {
        problems.push(`${kind} threw synchronously: ${String(error)}`)
        pending--
        return undefined
      }
      let outcomes = 0
      const ended = (what: Seen | 'stopped' | 'stop-failed', value?: R) => {
        if (++outcomes > 1) problems.push(`${kind} ended twice`)
        pending--
        const took = now() - started
        if (took > bound + SLACK_MS) problems.push(`${kind} took ${Math.round(took)} ms, bound ${bound} ms`)
        if (kind !== 'stop') seen[kind][what as Seen]++
        return value
      }
      return promise.then(
        (value) => ended(kind === 'stop' ? 'stopped' : 'success', value),
        (error: unknown) => {
          if (kind === 'stop') return ended('stop-failed')
          if (isBrokenCircuitError(error)) return ended('rejected')
          if (isTimeoutError(error)) return ended('timeout')
          if (error === aborted || isSandboxStoppedError(error)) return ended('ignored') // stopped by a caller, or by a kill of ours
          if (error instanceof TypeError && /no live sandbox/.test(error.message)) return ended('not-live')
          if ((error as { name?: string }).name !== 'SandboxError') problems.push(`${kind} rejected with ${String(error)}`)
          const reason = String((error as Error).message).slice(0, 60)
          failures.set(reason, (failures.get(reason) ?? 0) + 1)
          return ended('failure')
        },
      )
    }

    /** A signal that aborts after a random number of turns, sometimes. */
    const maybeAbort = () => {
      if (!chance(0.08)) return undefined
      const controller = new AbortController()
      const turns = Math.floor(random() * 400)
      ;(async () => {
        for (let i = turns; i > 0; i--) await turn()
        controller.abort(aborted)
      })().catch((e: unknown) => problems.push(`abort helper failed: ${String(e)}`))
      return { signal: controller.signal }
    }

    const codes: Array<[string, number]> = [
      ['return 6 * 7', 50],
      ['throw new RangeError("the code\'s own error")', 10],
      ['process.exit(3)', 8],
      ['await new Promise(() => {})', 8],
      ['await new Promise((resolve) => setTimeout(resolve, 20)); return 1', 10],
      ['const t = Date.now(); while (Date.now() - t < 5000) {}', 2],
    ]
    const templates: Array<[string, number]> = [
      ['base', 70],
      ['broken', 8],
      ['crash', 8],
      ['stall', 4],
      ['small', 10],
    ]

    // A loaded machine may see little in a few seconds: go on (up to four times as long) until the
    // run has seen enough to mean something.
    const deadline = now() + SECONDS * 1000
    const hardDeadline = now() + 4 * SECONDS * 1000
    const enough = () => seen.create.success >= 10 && seen.execute.success >= 5 && seen.execute.failure + seen.execute.timeout >= 2
    const chaos: Array<Promise<void>> = []
    const user = async () => {
      while (now() < deadline || (!enough() && now() < hardDeadline)) {
        await turn() // a refused call settles at once: let I/O in between
        const template = pick(templates)
        if (chance(0.15)) chaos.push(killLater(() => LocalSandbox.alivePids('starting'), 300))
        const box = await track('create', TIMEOUTS.create, () => boxes.create(template, maybeAbort()))
        if (!box) continue
        for (let n = Math.floor(random() * 4); n > 0; n--) {
          let code = pick(codes)
          if (template === 'small' && chance(0.3)) code = 'const hog = []; while (true) hog.push(new Array(1e6).fill(1.5))'
          if (chance(0.1)) chaos.push(killLater(() => (box.running ? [box.pid] : []), 300))
          const runs: Array<Promise<unknown>> = [track('execute', TIMEOUTS.execute, () => boxes.execute(box.sandboxId, code, maybeAbort()))]
          // Now and then a second execution on the same sandbox, or a stop() while it runs: a kill of
          // ours under an execution stops it (ignored), never a failure of the service.
          if (chance(0.15)) runs.push(track('execute', TIMEOUTS.execute, () => boxes.execute(box.sandboxId, pick(codes), maybeAbort())))
          if (chance(0.08)) runs.push(stopLater(box, Math.floor(random() * 200)))
          await Promise.all(runs)
        }
        if (chance(0.05)) chaos.push(killLater(() => (box.running ? [box.pid] : []), 50))
        await stopLater(box, 0)
      }
    }
    /** Stops `box` after `turns` event-loop turns; a stop() that rejects told its caller of the sandbox. */
    async function stopLater(box: LocalSandbox, turns: number): Promise<void> {
      for (let i = turns; i > 0; i--) await turn()
      await track('stop', TIMEOUTS.kill, () =>
        boxes.stop(box.sandboxId).catch((error: unknown) => {
          reported.add(box.sandboxId) // the caller of stop() was told the kill failed
          throw error
        }),
      )
    }
    await Promise.all(Array.from({ length: USERS }, user))
    await Promise.all(chaos)

    // The provider gives up on creations that never finished; then every kill has settled in time.
    await LocalSandbox.killAll('starting')
    const quiet = await settle(() => pending === 0 && LocalSandbox.aliveIds().every((id) => reported.has(id)), TIMEOUTS.kill + SLACK_MS)
    const leaked = LocalSandbox.aliveIds().filter((id) => !reported.has(id))
    const spawned = LocalSandbox.pids.length
    const survivors = LocalSandbox.alive()
    await LocalSandbox.killAll()
    const gone = await settle(() => LocalSandbox.pids.every((pid) => !exists(pid)), SLACK_MS)
    process.off('unhandledRejection', onUnhandled)
    process.off('warning', onWarning)
    for (const printer of printers) process.on('warning', printer)
    LocalSandbox.pickKillFault = () => 'none'

    const context = `seed ${SEED}, ${calls} calls, ${spawned} processes, ${survivors} left running, reported`
    t.log(context, JSON.stringify(seen))
    t.deepEqual(unhandled, [], context)
    t.deepEqual(problems, [], context)
    t.true(quiet, `calls still pending: ${pending}; ${context}`)
    t.deepEqual(leaked, [], `child processes left running that nobody was told of; ${context}`)
    t.true(gone, `the system still has some of our child processes; ${context}`)
    t.is(boxes.live, 0, context)
    for (const kind of ['create', 'execute'] as const) {
      const m = (kind === 'create' ? boxes.createBreaker : boxes.executeBreaker).metrics()
      const s = seen[kind]
      t.like(
        m,
        { successes: s.success, failures: s.failure + s.timeout, timeouts: s.timeout, ignored: s.ignored, rejections: s.rejected, inFlight: 0 },
        `${kind}: breaker counts match what callers saw; ${context}`,
      )
    }
    const why = [...failures]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 5)
      .map(([m, n]) => `${n}x ${m}`)
      .join('; ')
    t.true(enough(), `the run exercised faults; ${context}; failures: ${why}`)
  },
)
