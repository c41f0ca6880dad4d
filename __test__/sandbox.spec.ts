import test from 'ava'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import {
  isBrokenCircuitError,
  isSandboxStoppedError,
  isTimeoutError,
  Registry,
  sandbox,
  SandboxStoppedError,
  type SandboxOptions,
  type SandboxPool,
} from '../src/index.ts'
import { FakeClock } from '../src/testing.ts'
import { LocalCommandSandbox, LocalSandbox, openGate } from './fixtures/local-sandbox.ts'
import { withFakeTimers } from './timers.ts'

let next = 0
const rig = (options: Parameters<typeof sandbox>[1] = {}) =>
  sandbox(LocalSandbox, { name: `box-${next++}`, registry: new Registry({ clock: new FakeClock() }), ...options })

/** Whether process `pid` still exists. */
const running = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Runs a fixture script in its own Node.js process (for faults whose failure mode is a crash). */
const runFixture = (file: string, ...args: string[]) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const script = fileURLToPath(new URL(`./fixtures/${file}`, import.meta.url))
    execFile(process.execPath, ['--import=tsx', script, ...args], { encoding: 'utf8', timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: unknown }).code as number | null) : 0, stdout, stderr })
    })
  })

test.after.always(() => {
  openGate()
})

test.serial('creates sandboxes, runs code in them for real, and stops them', async (t) => {
  const boxes = rig()
  const box = await boxes.create('base')
  t.is(boxes.live, 1)
  const execution = await boxes.execute(box.sandboxId, 'console.log("hi"); return 6 * 7')
  t.deepEqual(execution, { results: [42], logs: { stdout: ['hi'] } })
  const failing = await boxes.execute(box.sandboxId, 'throw new RangeError("bad input")')
  t.deepEqual(failing.error, { name: 'RangeError', value: 'bad input' }, "the code's own error is its result")
  await boxes.stop(box.sandboxId)
  t.is(boxes.live, 0)
  t.false(running(box.pid))
  t.like(boxes.executeBreaker.metrics(), { successes: 2, failures: 0 })
})

test.serial('without runCode, code runs as a command; a non-zero exit is not a failure of the service', async (t) => {
  const boxes = sandbox(LocalCommandSandbox, { name: `box-${next++}`, registry: new Registry() })
  const box = await boxes.create('base')
  t.like(await boxes.execute(box.sandboxId, 'echo $((6 * 7))'), { exitCode: 0, stdout: '42\n' })
  const exit = await boxes.execute(box.sandboxId, 'echo oops >&2; exit 3').catch((e) => e)
  t.like(exit, { name: 'CommandExitError', exitCode: 3, stderr: 'oops\n' })
  t.like(boxes.executeBreaker.metrics(), { successes: 2, failures: 0 })
  t.is(boxes.live, 1, 'still usable')
  await boxes.stop(box.sandboxId)
})

test.serial('code that hangs times out: a failure, and the sandbox is killed', async (t) => {
  await withFakeTimers(async (timers) => {
    const boxes = rig({ executeTimeout: '5s' })
    const box = await boxes.create('base')
    const call = boxes.execute(box.sandboxId, 'while (true) {}')
    const caught = t.throwsAsync(call)
    await timers.tickAsync(5000)
    t.true(isTimeoutError(await caught))
    t.like(boxes.executeBreaker.metrics(), { failures: 1, timeouts: 1 })
    while (running(box.pid)) await new Promise((resolve) => setImmediate(resolve))
    t.is(boxes.live, 0)
  })
})

test.serial('a crash and running out of memory are failures; the dead sandbox is forgotten', async (t) => {
  const boxes = rig({ executeBreaker: { consecutiveFailures: 2 } })
  const crashing = await boxes.create('base')
  const crash = await boxes.execute(crashing.sandboxId, 'process.exit(3)').catch((e) => e)
  t.is(crash.name, 'SandboxError')
  const small = await boxes.create('small')
  const oom = await boxes.execute(small.sandboxId, 'const hog = []; while (true) hog.push(new Array(1e6).fill(1.5))').catch((e) => e)
  t.is(oom.name, 'SandboxError', String(oom))
  t.false(running(small.pid))
  t.is(boxes.live, 0)
  t.is(boxes.executeBreaker.state, 'open')
  const fresh = await boxes.create('base')
  t.true(isBrokenCircuitError(await boxes.execute(fresh.sandboxId, 'return 1').catch((e) => e)), 'execution is refused...')
  t.is(boxes.createBreaker.state, 'closed', '...while creation has a breaker of its own')
  await boxes.stop(fresh.sandboxId)
})

/** Code that runs until its sandbox is killed. */
const FOREVER = 'await new Promise(() => {})'

test.serial(
  'an execution ended by stop() rejects with a SandboxStoppedError and counts as ignored: two stops do not open a consecutiveFailures: 2 breaker',
  async (t) => {
    const boxes = rig({ executeBreaker: { consecutiveFailures: 2 } })
    for (let i = 0; i < 2; i++) {
      const box = await boxes.create('base')
      const run = boxes.execute(box.sandboxId, FOREVER).catch((e: unknown) => e)
      await boxes.stop(box.sandboxId)
      const error = await run
      t.true(error instanceof SandboxStoppedError && isSandboxStoppedError(error), String(error))
      t.like(error, { code: 'ERR_BREAKWATER_SANDBOX_STOPPED', sandboxId: box.sandboxId, why: 'stop' })
      t.regex((error as Error).message, /was stopped: the sandbox was killed because stop\(\) was called/)
      t.false(running(box.pid))
    }
    t.is(boxes.executeBreaker.state, 'closed')
    t.like(boxes.executeBreaker.metrics(), { failures: 0, ignored: 2, inFlight: 0 })
  },
)

test.serial(
  "a caller's abort kills the sandbox: another execution on it rejects with a SandboxStoppedError (why: abort), and neither counts as a failure",
  async (t) => {
    const boxes = rig({ executeBreaker: { consecutiveFailures: 1 } })
    const box = await boxes.create('base')
    const controller = new AbortController()
    const gaveUp = new Error('A gave up')
    const a = boxes.execute(box.sandboxId, FOREVER, { signal: controller.signal }).catch((e: unknown) => e)
    const b = boxes.execute(box.sandboxId, FOREVER).catch((e: unknown) => e)
    controller.abort(gaveUp)
    t.is(await a, gaveUp, 'the aborting caller gets its own reason')
    t.like(await b, { name: 'SandboxStoppedError', code: 'ERR_BREAKWATER_SANDBOX_STOPPED', sandboxId: box.sandboxId, why: 'abort', cause: gaveUp })
    t.is(boxes.executeBreaker.state, 'closed')
    t.like(boxes.executeBreaker.metrics(), { failures: 0, ignored: 2, inFlight: 0 })
    t.is(boxes.live, 0)
    while (running(box.pid)) await new Promise((resolve) => setImmediate(resolve))
  },
)

test.serial(
  "another execution's timeout kills the sandbox: an execution on it rejects with a SandboxStoppedError (why: timeout), ignored; only the timeout counts",
  async (t) => {
    await withFakeTimers(async (timers) => {
      const boxes = rig({ executeTimeout: '5s', executeBreaker: { consecutiveFailures: 2 } })
      const box = await boxes.create('base')
      const first = t.throwsAsync(boxes.execute(box.sandboxId, FOREVER))
      await timers.tickAsync(4000)
      const second = boxes.execute(box.sandboxId, FOREVER).catch((e: unknown) => e)
      await timers.tickAsync(1000) // the first times out; the second had 4 s left
      t.true(isTimeoutError(await first))
      const stopped = await second
      t.like(stopped, { name: 'SandboxStoppedError', why: 'timeout' })
      t.true(isTimeoutError((stopped as Error).cause), "the cause is the other execution's timeout")
      t.is(boxes.executeBreaker.state, 'closed')
      t.like(boxes.executeBreaker.metrics(), { failures: 1, timeouts: 1, ignored: 1, inFlight: 0 })
      while (running(box.pid)) await new Promise((resolve) => setImmediate(resolve))
    })
  },
)

test.serial(
  'a crash under two executions counts once: the execution that hears of it first is a failure, the other is stopped (why: failure, with that error as cause) and ignored',
  async (t) => {
    const boxes = rig({ executeBreaker: { consecutiveFailures: 2 } })
    const box = await boxes.create('base')
    const runs = [boxes.execute(box.sandboxId, FOREVER), boxes.execute(box.sandboxId, 'process.exit(3)')]
    const outcomes = await Promise.all(
      runs.map((run) =>
        run.then(
          () => new Error('resolved'),
          (e: unknown) => e as Error,
        ),
      ),
    )
    const failed = outcomes.find((e) => e.name === 'SandboxError')
    const stopped = outcomes.find(isSandboxStoppedError)
    t.truthy(failed, outcomes.map(String).join('; '))
    t.like(stopped, { why: 'failure', cause: failed })
    t.regex(stopped!.message, /another execution on it failed first \(sandbox \S+ died \(3\)\)/)
    t.is(boxes.executeBreaker.state, 'closed')
    t.like(boxes.executeBreaker.metrics(), { failures: 1, ignored: 1, inFlight: 0 })
  },
)

test.serial('a sandbox created under a call that already timed out is killed: none leak', async (t) => {
  const before = LocalSandbox.alive()
  await withFakeTimers(async (timers) => {
    const boxes = rig({ createTimeout: '2s' })
    const call = boxes.create('gated')
    const caught = t.throwsAsync(call)
    await timers.tickAsync(2000)
    t.true(isTimeoutError(await caught))
    const made = LocalSandbox.created
    openGate()
    while (LocalSandbox.created === made) await new Promise((resolve) => setImmediate(resolve))
    while (LocalSandbox.alive() > before) await new Promise((resolve) => setImmediate(resolve))
    t.is(boxes.live, 0)
    t.like(boxes.createBreaker.metrics(), { timeouts: 1 })
  })
  t.is(LocalSandbox.alive(), before, 'the late sandbox was killed')
})

test.serial('creation failures count against the creation breaker only', async (t) => {
  const boxes = rig({ createBreaker: { consecutiveFailures: 1 } })
  t.is((await boxes.create('broken').catch((e) => e)).name, 'SandboxError')
  t.is(boxes.createBreaker.state, 'open')
  t.is(boxes.executeBreaker.state, 'closed')
  t.true(isBrokenCircuitError(await boxes.create('base').catch((e) => e)))
})

test('bad input is refused with what was expected', async (t) => {
  t.throws(() => sandbox({} as never), { instanceOf: TypeError, message: /^sandbox needs a sandbox class with create\(template\)/ })
  await t.throwsAsync(rig().execute('nope', 'return 1'), { instanceOf: TypeError, message: 'no live sandbox "nope" was created here' })
})

test('a kill() that fails after a timed-out call never crashes the process: the call times out, the sandbox is forgotten, the failure is a BREAKWATER_SANDBOX_KILL warning', async (t) => {
  const faults = ['reject', 'throw', 'reject-after-kill', 'hang']
  const child = await runFixture('sandbox-kill-fails.ts', ...faults)
  t.is(child.code, 0, `the process crashed:\n${child.stderr}`)
  const lines = child.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>)
  t.deepEqual(
    lines,
    faults.map((fault) => ({ fault, outcome: 'timeout', live: 0, warnings: 1, named: true })),
  )
})

test.serial(
  'stop() of a sandbox whose kill fails rejects with its error, one whose kill hangs rejects with a TimeoutError after killTimeout; both are forgotten',
  async (t) => {
    await withFakeTimers(async (timers) => {
      const boxes = rig({ killTimeout: '3s' })
      const failing = await boxes.create('base')
      failing.killFault = 'reject'
      await t.throwsAsync(boxes.stop(failing.sandboxId), { name: 'SandboxError', message: /failed \(injected\)/ })
      const hanging = await boxes.create('base')
      hanging.killFault = 'hang'
      const stopping = t.throwsAsync(boxes.stop(hanging.sandboxId))
      await timers.tickAsync(3000)
      const error = await stopping
      t.true(isTimeoutError(error) && error.timeoutMs === 3000, String(error))
      t.is(boxes.live, 0)
      t.true(failing.running && hanging.running, 'the kills did nothing: the test cleans them up')
    })
    await LocalSandbox.killAll()
  },
)

test('a refused sandbox() creates no breaker: a 249-byte name, a bad breaker option or timeout leaves the registry empty', (t) => {
  const registry = new Registry()
  const refusals: Array<[SandboxOptions, RegExp]> = [
    [{ name: 'x'.repeat(249) }, /^sandbox name must be at most 248 bytes of UTF-8 .* \(249 bytes\)$/],
    [{ name: 'é'.repeat(125) }, /\(250 bytes\)$/],
    [{ executeBreaker: { failureRate: 150 } }, /failureRate/],
    [{ executeBreaker: { consecutiveFailures: 'five' as never } }, /consecutiveFailures/],
    [{ executeTimeout: -1 }, /executeTimeout/],
    [{ killTimeout: '1 year' as never }, /killTimeout/],
    [{ name: '' }, /non-empty string/],
  ]
  for (const [options, message] of refusals) {
    const error = t.throws(() => sandbox(LocalSandbox, { registry, ...options }), { message }, JSON.stringify(options).slice(0, 60))
    t.is((error as { code?: string }).code, 'ERR_BREAKWATER_INVALID_OPTION')
    t.deepEqual(registry.names(), [], `nothing created by ${JSON.stringify(options).slice(0, 60)}`)
  }
  sandbox(LocalSandbox, { registry, name: 'y'.repeat(248) })
  t.deepEqual(registry.names(), [`${'y'.repeat(248)}:create`, `${'y'.repeat(248)}:execute`], 'the longest name that fits is accepted')
})

test('a zero killTimeout, executeTimeout or createTimeout is refused with a RangeError naming it (a zero killTimeout made every stop() reject)', (t) => {
  const registry = new Registry()
  for (const option of ['killTimeout', 'executeTimeout', 'createTimeout'] as const) {
    for (const zero of [0, '0s', '0ms'] as const) {
      t.throws(() => sandbox(LocalSandbox, { registry, [option]: zero }), {
        instanceOf: RangeError,
        code: 'ERR_BREAKWATER_INVALID_OPTION',
        message: `${option} must be more than 0 ms, but was 0`,
      })
    }
  }
  t.deepEqual(registry.names(), [], 'nothing created')
})

test('sandbox options are own properties only: typos, null, call policies in breaker options and a wrong registry are refused', (t) => {
  const registry = new Registry()
  const invalid = { code: 'ERR_BREAKWATER_INVALID_OPTION', instanceOf: TypeError }
  t.throws(() => sandbox(LocalSandbox, { registry, executeTimout: '1s' } as never), { ...invalid, message: /^executeTimout is not a sandbox option \(known: / })
  t.throws(() => sandbox(LocalSandbox, null as never), { ...invalid, message: 'sandbox options must be an object, but was null' })
  t.throws(() => sandbox(LocalSandbox, { registry, createBreaker: null as never }), {
    ...invalid,
    message: 'createBreaker must not be null: leave it out for its default',
  })
  t.throws(() => sandbox(LocalSandbox, { registry, createBreaker: { fallback: () => 1 } as never }), {
    ...invalid,
    message: 'fallback is not a createBreaker option (the adapter sets its own fallback)',
  })
  t.throws(() => sandbox(LocalSandbox, { registry, executeBreaker: { tmeout: 5 } as never }), { instanceOf: TypeError, message: /tmeout/ })
  // A breaker timeout would be replaced by executeTimeout without a word: refused instead.
  t.throws(() => sandbox(LocalSandbox, { registry, executeBreaker: { timeout: '1s' } }), {
    ...invalid,
    message: 'timeout is not an executeBreaker option (the adapter sets its own timeout)',
  })
  t.throws(() => sandbox(LocalSandbox, { registry: {} as never }), { ...invalid, message: 'registry must be a Registry, but was an object' })
  t.throws(() => sandbox(LocalSandbox, { registry, isFailure: 'yes' as never }), { ...invalid, message: 'isFailure must be a function, but was "yes"' })
  sandbox(LocalSandbox, Object.assign(Object.create({ name: 'inherited' }) as SandboxOptions, { registry }))
  t.deepEqual(registry.names(), ['sandbox:create', 'sandbox:execute'], 'an inherited name is not read')
})

test.serial('a polluted Object.prototype changes no sandbox option, nor the breakers it makes', async (t) => {
  const registry = new Registry()
  const proto = Object.prototype as Record<string, unknown>
  const pollution = { name: 'polluted', createBreaker: { consecutiveFailures: 'bad' }, fallback: () => 'polluted', latency: { threshold: 1 }, timeout: -1 }
  Object.assign(proto, pollution)
  let boxes: SandboxPool<LocalSandbox>
  try {
    boxes = sandbox(LocalSandbox, { registry })
    const failed = await boxes.create('broken').catch((e: unknown) => e)
    t.is((failed as Error).name, 'SandboxError', 'no fallback was read through the prototype')
  } finally {
    for (const key of Object.keys(pollution)) delete proto[key]
  }
  t.deepEqual(registry.names(), ['sandbox:create', 'sandbox:execute'])
  t.is(boxes.createBreaker.metrics().latency, undefined, 'no latency rule was read through the prototype')
})

test('per-call options are own properties only and arguments are checked: a typo, null, a bare AbortSignal, a non-string template or code reject the call, counted nowhere', async (t) => {
  const boxes = rig()
  const invalid = { code: 'ERR_BREAKWATER_INVALID_OPTION', instanceOf: TypeError }
  await t.throwsAsync(boxes.create('base', { tmeout: 1 } as never), { ...invalid, message: /^tmeout is not a sandbox create option/ })
  await t.throwsAsync(boxes.create('base', null as never), { ...invalid, message: 'sandbox create options must be an object, but was null' })
  await t.throwsAsync(boxes.execute('nope', 'return 1', new AbortController().signal as never), {
    ...invalid,
    message: /^sandbox execute takes its signal inside the options, as \{ signal \}/,
  })
  await t.throwsAsync(boxes.execute('nope', 42 as never), { ...invalid, message: 'code must be a string, but was 42' })
  await t.throwsAsync(boxes.create({ template: 'base' } as never), { ...invalid, message: 'template must be a string, but was an object' })
  t.is(LocalSandbox.alive(), 0, 'no sandbox was created by a refused call')
  t.like(boxes.createBreaker.metrics(), { calls: 0 })
})
