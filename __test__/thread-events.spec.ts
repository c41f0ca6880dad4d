// State changes reach every listener in every thread: made by a worker, by the main thread, by
// either module copy of the package; once each, in order, and without keeping a process alive.
import test from 'ava'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { circuitBreaker, recoveryManager, registry, type StateChange } from '../src/index.ts'
import { rig } from './helpers.ts'
import { inWorker, startWorker } from './worker.ts'
import { until, withFakeTimers } from './timers.ts'

let next = 0
const fresh = () => `thread-events-${process.pid}-${next++}`

/** Collects `registry`'s changes of `name` until `count` have come (real threads: bounded wait). */
function collect(name: string, count: number, ms = 10_000) {
  const seen: StateChange[] = []
  let done!: () => void
  const arrived = new Promise<void>((resolve) => (done = resolve))
  const stop = registry.onStateChange((c) => {
    if (c.name !== name) return
    seen.push(c)
    if (seen.length === count) done()
  })
  const timer = setTimeout(done, ms)
  return {
    seen,
    arrived: arrived.then(() => {
      clearTimeout(timer)
      stop()
    }),
  }
}

/** The changes without their wall-clock time, which the tests check separately. */
const timeless = (changes: StateChange[]) => changes.map(({ at: _, ...c }) => c)

test('a transition made in a worker thread reaches registry.onStateChange and onOpen of the main thread, with its name, reason, time and retryAfterMs', async (t) => {
  const name = fresh()
  const breaker = circuitBreaker(name)
  const opened: StateChange[] = []
  const stopOpen = breaker.onOpen((c) => opened.push(c))
  const events = collect(name, 2)
  const before = Date.now()
  await inWorker(`const b = bw.circuitBreaker(${JSON.stringify(name)}); b.forceOpen('5s'); b.reset(); parentPort.postMessage('done')`)
  await events.arrived
  stopOpen()
  t.deepEqual(timeless(events.seen), [
    { name, from: 'closed', to: 'forced_open', reason: 'manual', retryAfterMs: 5000 },
    { name, from: 'forced_open', to: 'closed', reason: 'manual' },
  ])
  for (const c of events.seen) t.true(Number.isInteger(c.at) && c.at >= before && c.at <= Date.now(), `at ${c.at}`)
  t.deepEqual(timeless(opened), [timeless(events.seen)[0]], 'onOpen of a handle in the main thread heard the worker open it')
})

test('a transition made in the main thread reaches a listener in a worker thread', async (t) => {
  const name = fresh()
  const { worker, result } = startWorker<StateChange>(`
    const seen = []
    bw.registry.onStateChange((c) => { if (c.name === ${JSON.stringify(name)}) parentPort.postMessage(c) })
    setInterval(() => {}, 60_000) // the subscription alone would let the worker end
    parentPort.postMessage('ready')`)
  const ready = await result
  t.is(ready as unknown, 'ready')
  const change = new Promise<StateChange>((resolve) => worker.once('message', resolve))
  const here: StateChange[] = []
  const stop = registry.onStateChange((c) => c.name === name && here.push(c))
  circuitBreaker(name).forceOpen()
  stop()
  const there = await change
  t.like(there, { name, from: 'closed', to: 'forced_open', reason: 'manual' })
  t.deepEqual(there, here[0], 'both threads got the same event, its time included')
  await worker.terminate()
})

test('four workers moving one breaker at once: the main thread hears every transition once, each starting where the one before ended', async (t) => {
  const name = fresh()
  const breaker = circuitBreaker(name, { consecutiveFailures: 2, openFor: '1ms', halfOpenSuccesses: 1 })
  const seen: StateChange[] = []
  let wake: (() => void) | undefined
  const stop = registry.onStateChange((c) => {
    if (c.name !== name) return
    seen.push(c)
    wake?.()
  })
  const body = `
    const b = bw.circuitBreaker(${JSON.stringify(name)})
    let x = Math.floor(Math.random() * 2 ** 31) | 1
    for (let i = 0; i < 3000; i++) {
      x ^= x << 13; x ^= x >>> 17; x ^= x << 5
      const r = (x >>> 0) % 16
      if (r === 0) b.reset()
      else if (r === 1) b.forceOpen(1)
      else if (r === 2) b.disable()
      else b.executeSync(() => { if (r % 3) throw new Error('down') }) ?? 0
    }
    parentPort.postMessage('done')`
  const guarded = body.replace(
    "b.executeSync(() => { if (r % 3) throw new Error('down') }) ?? 0",
    "try { b.executeSync(() => { if (r % 3) throw new Error('down') }) } catch {}",
  )
  await Promise.all([0, 1, 2, 3].map(() => inWorker(guarded)))
  const counted = () => breaker.metrics().transitions.reduce((sum, c) => sum + c.count, 0)
  const total = counted()
  const deadline = Date.now() + 10_000
  while (seen.length < total && Date.now() < deadline) await new Promise<void>((resolve) => (wake = resolve))
  stop()
  t.true(total > 100, `the workers moved the breaker ${total} times`)
  t.is(seen.length, total, 'every transition the breaker counted was heard, once')
  let state = 'closed'
  for (const [i, c] of seen.entries()) {
    if (c.from !== state) return t.fail(`event ${i} starts at ${c.from}, the one before ended at ${state}`)
    state = c.to
  }
  t.is(state, breaker.state, 'the last event is where the breaker is')
})

test('a listener that changes the state hears its own change after the one it was told of, in every listener', (t) => {
  const { breakers, name } = rig()
  const b = breakers.getOrCreate(name)
  const first: string[] = []
  const second: string[] = []
  breakers.onStateChange((c) => {
    first.push(c.to)
    if (c.to === 'forced_open') b.reset()
  })
  breakers.onStateChange((c) => second.push(c.to))
  b.forceOpen()
  t.deepEqual(first, ['forced_open', 'closed'])
  t.deepEqual(second, ['forced_open', 'closed'], 'the second listener heard forced_open before closed')
})

test('a private registry hears only its own breakers, and a removed listener hears nothing more', (t) => {
  const { breakers, name } = rig()
  const mine: string[] = []
  const stop = breakers.onStateChange((c) => mine.push(c.name))
  circuitBreaker(fresh()).forceOpen() // the process-wide registry
  const b = breakers.getOrCreate(name)
  b.forceOpen()
  stop()
  stop() // twice is once
  b.reset()
  t.deepEqual(mine, [name])
})

test('listeners get state changes of breakers created after they subscribed, and registry.onStateChange refuses a listener that is not a function', (t) => {
  const { breakers, name } = rig()
  const seen: string[] = []
  breakers.onStateChange((c) => seen.push(`${c.name}:${c.to}`))
  breakers.getOrCreate(name).disable()
  t.deepEqual(seen, [`${name}:disabled`])
  t.throws(() => breakers.onStateChange('nope' as never), {
    instanceOf: TypeError,
    code: 'ERR_BREAKWATER_INVALID_OPTION',
    message: 'a listener must be a function, but was string',
  })
})

const fixture = (file: string) => fileURLToPath(new URL(`fixtures/${file}`, import.meta.url))

test("require('breakwater') and import('breakwater') in one process give one module: one registry, instanceof across, each transition heard once", (t) => {
  const run = spawnSync(process.execPath, [fixture('dual-copies.mjs')], { encoding: 'utf8', timeout: 60_000 })
  t.is(run.status, 0, run.stderr)
  const heard = ['cjs:forced_open', 'esm:disabled', 'esm:closed']
  t.deepEqual(JSON.parse(run.stdout), {
    sameModule: true,
    sameRegistry: true,
    stateSeenByImport: 'forced_open',
    instanceofAcross: [true, true],
    heardAtOnce: { heardByRequired: heard, heardByImported: heard },
    heardByRequired: heard,
    heardByImported: heard,
  })
  t.notRegex(run.stderr, /ExperimentalWarning/, 'require of an ES module is not experimental on the Node versions the package supports')
})

test('a subscribed thread whose work is done exits: the subscription never keeps a process alive', (t) => {
  const code = `
    import { registry, circuitBreaker } from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)}
    registry.onStateChange(() => {})
    circuitBreaker('keeps-nothing-alive').forceOpen()
    console.log('end of script')`
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 20_000 })
  t.is(run.signal, null, 'it exited by itself, before the 20 s timeout')
  t.is(run.status, 0, run.stderr)
  t.is(run.stdout.trim(), 'end of script')
})

test('workers terminated while subscribed, and while moving a breaker, leave the main thread hearing every later change', async (t) => {
  const name = fresh()
  const started = [0, 1, 2].map(() =>
    startWorker<string>(`
      bw.registry.onStateChange(() => {})
      const b = bw.circuitBreaker(${JSON.stringify(name)})
      parentPort.postMessage('subscribed')
      for (;;) { b.forceOpen(); b.reset() }`),
  )
  for (const w of started) t.is(await w.result, 'subscribed')
  await Promise.all(started.map((w) => w.worker.terminate()))
  const b = circuitBreaker(name)
  b.reset() // the workers may have left it forced open
  const events = collect(name, 2)
  b.forceOpen()
  b.reset()
  await events.arrived
  t.deepEqual(
    events.seen.map((c) => c.to),
    ['forced_open', 'closed'],
  )
})

test.serial('a recovery manager in the main thread starts checking when a worker opens the breaker, and sets no timer before that (no polling)', async (t) => {
  await withFakeTimers(async (timers) => {
    const name = fresh()
    const b = circuitBreaker(name, { consecutiveFailures: 1, openFor: '1h' })
    let checks = 0
    const manager = recoveryManager(b, () => ++checks > 0, { base: 50, jitter: 0 })
    t.is(timers.countTimers(), 0, 'a manager of a closed breaker waits for an event, not a timer')
    const opened = new Promise<void>((resolve) => {
      const stop = b.onOpen(() => (stop(), resolve()))
    })
    await inWorker(`try { bw.circuitBreaker(${JSON.stringify(name)}).executeSync(() => { throw new Error('down') }) } catch {} parentPort.postMessage('done')`)
    await opened
    t.is(b.state, 'open')
    await timers.tickAsync(50)
    await until(() => checks === 1 && b.state === 'half_open')
    t.is(b.state, 'half_open', 'the check passed and half-opened the breaker the worker opened')
    manager.stop()
  })
})

test("a removed breaker's handles keep hearing their own breaker, and a new breaker of the same name is heard apart", (t) => {
  const { breakers, name } = rig()
  const old = breakers.getOrCreate(name)
  const seenOld: string[] = []
  old.onStateChange((c) => seenOld.push(c.to))
  t.true(breakers.remove(name))
  t.false(breakers.remove(name))
  old.forceOpen()
  const fresh = breakers.getOrCreate(name)
  const seenNew: string[] = []
  fresh.onStateChange((c) => seenNew.push(c.to))
  old.reset()
  fresh.disable()
  t.deepEqual(seenOld, ['forced_open', 'closed'], 'the old handle heard its breaker, and only it')
  t.deepEqual(seenNew, ['disabled'], "the new breaker's listener heard only the new breaker")
  const unheard = breakers.getOrCreate(`${name}-quiet`)
  breakers.remove(`${name}-quiet`)
  const late: string[] = []
  unheard.onStateChange((c) => late.push(c.to)) // a removed breaker's handle that starts listening later
  unheard.forceOpen()
  t.deepEqual(late, ['forced_open'])
})
