// Review of issue 15's hot-path changes: shared, lazily made listeners looked up by a version
// number, the lean path (no native call), Int32 lanes, and breakers wrapped by hand in the binding.
// Each spec asserts exact counts; a defect found is a `test.failing` with its reproduction.
import { spawnSync } from 'node:child_process'
import test from 'ava'
import { type CallEvent, type CircuitBreaker, Registry, registry } from '../src/index.ts'
import { internalsOf } from '../src/breaker.ts'
import { rig } from './helpers.ts'
import { turn, until, withFakeTimers } from './timers.ts'
import { inWorker, startWorker } from './worker.ts'

const ok = async () => 1

/** A call whose end the test decides. */
function held<R>(value: R) {
  let release!: () => void
  const gate = new Promise<void>((resolve) => (release = resolve))
  return { fn: async () => (await gate, value), release }
}

/** A small deterministic generator (xorshift32), so a failing interleaving can be replayed. */
function random(seed: number) {
  let s = seed | 0 || 1
  return (n: number) => {
    s ^= s << 13
    s ^= s >>> 17
    s ^= s << 5
    return (s >>> 0) % n
  }
}

/** Every count the metrics keep adds up: calls = successes + failures + ignored + rejections + inFlight. */
function conserved(b: CircuitBreaker) {
  const m = b.metrics()
  return { calls: m.calls, sum: m.successes + m.failures + m.ignored + m.rejections + m.inFlight }
}

// Serial: a listener added by any concurrent test bumps the module's version, which would hide a
// regression. (Fixed: each lean call compares the version it started with, not the handle's cache,
// which a second call through the handle refreshes.)
test.serial('a success listener added while a lean call runs hears it even when another call through the same handle starts before it ends', async (t) => {
  const { breakers, name } = rig()
  const a = breakers.getOrCreate(name)
  await a.execute(ok) // views made: the next call is lean
  const first = held(1)
  const running = a.execute(first.fn) // lean: no listener yet
  const heard: number[] = []
  a.onSuccess(({ durationMs }) => heard.push(durationMs)) // added while it runs
  await a.execute(ok) // a second call through the same handle, heard (a listener is there)
  first.release()
  await running
  t.is(heard.length, 2, 'the listener hears both calls: the one it was added during, and the one after')
})

test('the same, without a second call: a success listener added during a lean call hears it once', async (t) => {
  const { breakers, name } = rig()
  const a = breakers.getOrCreate(name)
  await a.execute(ok)
  const first = held(1)
  const running = a.execute(first.fn)
  const heard: number[] = []
  a.onSuccess(({ durationMs }) => heard.push(durationMs))
  first.release()
  await running
  t.deepEqual(heard, [0])
})

test('a listener added by the outer fn of a lean executeSync hears the outer call, even with an executeSync of the same handle nested in it', (t) => {
  const { breakers, name } = rig()
  const a = breakers.getOrCreate(name)
  a.executeSync(() => 0) // views made
  const heard: string[] = []
  a.executeSync(() => {
    a.onSuccess(() => heard.push('success'))
    a.executeSync(() => 0) // heard: the listener is there for all of it
    return 0
  })
  t.deepEqual(heard, ['success', 'success'])
})

test('listeners subscribed and removed at random through get and getOrCreate handles while calls run hear exactly the calls they saw whole', async (t) => {
  for (const seed of [1, 7, 42, 2026]) {
    const next = random(seed)
    const { breakers, name } = rig()
    const handles = [breakers.getOrCreate(name, { consecutiveFailures: false }), breakers.get(name)!, breakers.getOrCreate(name)]
    // Each listener: when it was added and removed (in steps), and what it heard.
    type Ear = { from: number; to: number; successes: number; failures: Set<number>; stop: () => void }
    const ears: Ear[] = []
    // Each call: when it started and ended (steps), and whether it failed (id in its error).
    const calls: Array<{ id: number; from: number; to: number; failed: boolean }> = []
    const running: Array<{ id: number; release: () => void; done: Promise<unknown>; failed: boolean }> = []
    let step = 0
    let id = 0
    for (; step < 400; step++) {
      const h = handles[next(3)]!
      const op = next(10)
      if (op < 2) {
        const ear: Ear = { from: step, to: Number.POSITIVE_INFINITY, successes: 0, failures: new Set(), stop: () => undefined }
        const offS = h.onSuccess(() => ear.successes++)
        const offF = h.onFailure((e: CallEvent) => ear.failures.add((e.error as { id: number }).id))
        ear.stop = () => {
          offS()
          offF()
        }
        ears.push(ear)
      } else if (op < 3) {
        const live = ears.filter((e) => e.to === Number.POSITIVE_INFINITY)
        const ear = live[next(live.length || 1)]
        if (ear) {
          ear.to = step
          ear.stop()
        }
      } else if (op < 7) {
        const callId = id++
        const failed = next(4) === 0
        let release!: () => void
        const gate = new Promise<void>((resolve) => (release = resolve))
        const record = { id: callId, from: step, to: -1, failed }
        calls.push(record)
        const done = h
          .execute(async () => {
            await gate
            if (failed) throw Object.assign(new Error('down'), { id: callId })
            return 1
          })
          .catch(() => undefined)
        running.push({ id: callId, release, done, failed })
      } else if (running.length > 0) {
        const [call] = running.splice(next(running.length), 1)
        call!.release()
        await call!.done
        calls.find((c) => c.id === call!.id)!.to = step
      } else {
        // a synchronous call, start and end at this step
        const callId = id++
        const failed = next(4) === 0
        calls.push({ id: callId, from: step, to: step, failed })
        try {
          h.executeSync(() => {
            if (failed) throw Object.assign(new Error('down'), { id: callId })
            return 1
          })
        } catch {}
      }
    }
    for (const call of running) {
      call.release()
      await call.done
      calls.find((c) => c.id === call.id)!.to = step
    }
    for (const ear of ears) ear.stop()
    // A listener present for a call's whole duration hears it; one never present never does.
    for (const ear of ears) {
      const whole = calls.filter((c) => c.from > ear.from && c.to < ear.to)
      const touching = calls.filter((c) => c.to >= ear.from && c.from <= ear.to)
      const wholeFailures = whole.filter((c) => c.failed).map((c) => c.id)
      for (const f of wholeFailures) t.true(ear.failures.has(f), `seed ${seed}: failure ${f} heard`)
      for (const f of ear.failures)
        t.true(
          touching.some((c) => c.id === f),
          `seed ${seed}: failure ${f} heard only while listening`,
        )
      t.true(ear.successes >= whole.filter((c) => !c.failed).length, `seed ${seed}: successes heard ${ear.successes}`)
      t.true(ear.successes <= touching.filter((c) => !c.failed).length, `seed ${seed}: no success heard twice`)
    }
    const m = handles[1]!.metrics()
    t.is(m.calls, calls.length)
    t.is(m.failures, calls.filter((c) => c.failed).length)
    t.is(m.successes, calls.filter((c) => !c.failed).length)
    t.is(m.inFlight, 0)
    const { calls: total, sum } = conserved(handles[0]!)
    t.is(total, sum)
  }
})

test('a listener that adds and removes others while a call event is delivered: those added hear the next call, not this one; those removed stop at once', (t) => {
  const { breakers, name } = rig()
  const a = breakers.getOrCreate(name)
  const b = breakers.get(name)!
  a.executeSync(() => 0)
  const heard: string[] = []
  let stopLater: () => void = () => undefined
  let stopVictim: () => void = () => undefined
  const stopFirst = a.onSuccess(() => {
    heard.push('first')
    stopVictim()
    stopLater = b.onSuccess(() => heard.push('late'))
  })
  stopVictim = b.onSuccess(() => heard.push('victim'))
  b.executeSync(() => 0)
  t.deepEqual(heard, ['first', 'victim'], 'the list delivering this event is the one taken when it began')
  heard.length = 0
  stopFirst()
  a.executeSync(() => 0)
  t.deepEqual(heard, ['late'])
  stopLater()
  a.executeSync(() => 0)
  b.executeSync(() => 0)
  t.deepEqual(heard, ['late'])
  t.like(a.metrics(), { calls: 5, successes: 5 })
})

test('refusals are heard once by each refusal listener of every handle, and the count agrees with the metrics', async (t) => {
  const { breakers, name } = rig()
  const a = breakers.getOrCreate(name, { consecutiveFailures: 1 })
  const b = breakers.get(name)!
  const heardA: string[] = []
  const heardB: string[] = []
  const stopA = a.onReject((e) => heardA.push(e.name))
  await b.execute(async () => Promise.reject(new Error('x'))).catch(() => undefined)
  await t.throwsAsync(b.execute(ok), { name: 'BrokenCircuitError' })
  const stopB = b.onReject(() => heardB.push('b'))
  t.throws(() => a.executeSync(() => 1), { name: 'BrokenCircuitError' })
  stopA()
  await t.throwsAsync(a.execute(ok), { name: 'BrokenCircuitError' })
  stopB()
  await t.throwsAsync(a.execute(ok), { name: 'BrokenCircuitError' })
  t.deepEqual(heardA, ['BrokenCircuitError', 'BrokenCircuitError'])
  t.deepEqual(heardB, ['b', 'b'])
  t.like(a.metrics(), { calls: 5, failures: 1, rejections: 4, inFlight: 0 })
})

test('a removed breaker and a new one of the same name: listeners of each hear their own breaker only, whichever handle calls', async (t) => {
  const { breakers, name } = rig()
  const old = breakers.getOrCreate(name)
  await old.execute(ok) // lean from now
  const oldHeard: number[] = []
  const stopOld = old.onSuccess(() => oldHeard.push(1))
  t.true(breakers.remove(name))
  const fresh = breakers.getOrCreate(name)
  await fresh.execute(ok)
  const freshHeard: number[] = []
  breakers.get(name)!.onSuccess(() => freshHeard.push(2))
  await fresh.execute(ok)
  fresh.executeSync(() => 0)
  await old.execute(ok)
  old.executeSync(() => 0)
  t.deepEqual(oldHeard, [1, 1])
  t.deepEqual(freshHeard, [2, 2])
  t.like(old.metrics(), { calls: 3, successes: 3 })
  t.like(fresh.metrics(), { calls: 3, successes: 3 })
  stopOld()
  // Removed and every listener gone: a new subscription through the old handle still works.
  const again: number[] = []
  old.onSuccess(() => again.push(3))
  old.executeSync(() => 0)
  t.deepEqual(again, [3])
})

test('a private registry on a fake clock and another of the same breaker name: listeners and lean calls never cross', async (t) => {
  const { breakers: one, name } = rig()
  const two = new Registry()
  const a = one.getOrCreate(name)
  const b = two.getOrCreate(name)
  await a.execute(ok)
  await b.execute(ok)
  const heard: string[] = []
  a.onSuccess(() => heard.push('one'))
  b.onFailure(() => heard.push('two-failure'))
  b.executeSync(() => 0) // lean? it has a failure listener: no; either way heard by none of one's
  await b.execute(ok)
  a.executeSync(() => 0)
  t.deepEqual(heard, ['one'])
  t.like(a.metrics(), { calls: 2, successes: 2 })
  t.like(b.metrics(), { calls: 3, successes: 3 })
  two.remove(name)
})

test('configure to a rule that reads durations in the middle of lean calls: every call counted once, slow calls counted after it', async (t) => {
  const { breakers, name, clock } = rig()
  const a = breakers.getOrCreate(name, { consecutiveFailures: false })
  const b = breakers.get(name)!
  await a.execute(ok) // lean from now
  const before = [held(1), held(1), held(1)]
  const runs = before.map((c) => a.execute(c.fn))
  a.executeSync(() => 0)
  const lane = new Int32Array(internalsOf(a as CircuitBreaker).native.startedView(), 0, 3)
  t.is(lane[2], 1)
  b.configure({ slowCallRate: 0.5, slowCallDuration: '5ms', minimumCalls: 100 })
  t.is(lane[2], 0, 'successes are no longer taken in the lane')
  // A call after configure is timed (durations are real time, not the fake clock's): a real 20 ms.
  const slow = b.execute(() => new Promise((resolve) => setTimeout(resolve, 20, 1)))
  for (const c of before) c.release()
  await Promise.all(runs) // began lean: their successes still count once
  await slow
  a.executeSync(() => 0)
  clock.advance(1)
  const m = a.metrics()
  t.like(m, { calls: 7, successes: 7, inFlight: 0, failures: 0, slowCalls: 1 })
  const { calls, sum } = conserved(b)
  t.is(calls, sum)
})

test('lanes past 2^31: a lane whose started and succeeded counts cross the int32 sign keeps exact metrics', (t) => {
  const { breakers, name } = rig()
  const a = breakers.getOrCreate(name)
  a.executeSync(() => 0) // views made, lane handed out
  const native = internalsOf(a as CircuitBreaker).native
  const lane = new Int32Array(native.startedView(), 0, 3)
  t.is(lane[2], 1, 'the breaker takes successes through the lane')
  // Jump the lane forward by 2^31 - 2 finished calls in two steps the core accepts (< 2^31
  // pending each), reading the metrics between them so each is folded.
  const step = 2 ** 30
  for (let i = 0; i < 2; i++) {
    lane[0] = (lane[0]! + step) | 0
    lane[1] = (lane[1]! + step) | 0
    t.is(a.metrics().inFlight, 0)
  }
  t.true(lane[0]! < 0, 'the lane now reads negative as an int32')
  for (let i = 0; i < 10; i++) a.executeSync(() => 0)
  const m = a.metrics()
  t.is(m.calls, 2 * step + 11)
  t.is(m.successes, 2 * step + 11)
  t.is(m.inFlight, 0)
  // and past 2^32: two more steps wrap the lane to where it began
  for (let i = 0; i < 2; i++) {
    lane[0] = (lane[0]! + step) | 0
    lane[1] = (lane[1]! + step) | 0
    a.metrics()
  }
  for (let i = 0; i < 5; i++) a.executeSync(() => 0)
  t.like(a.metrics(), { calls: 4 * step + 16, successes: 4 * step + 16, inFlight: 0 })
})

/** Runs `code` (CommonJS, the built addon) in a child process: its exit code and output. */
function child(code: string) {
  const r = spawnSync(process.execPath, ['--expose-gc', '-e', code], { cwd: process.cwd(), encoding: 'utf8', timeout: 15_000 })
  return { status: r.status, signal: r.signal, stdout: r.stdout.trim(), stderr: r.stderr.trim() }
}

test('NativeBreaker methods and getters called on anything but a NativeBreaker throw, never crash: methods a TypeError, getters an Error', (t) => {
  const r = child(`
    const { NativeBreaker, NativeBulkhead, NativeRegistry, NativeFakeClock } = require('./index.js')
    const reg = new NativeRegistry()
    const real = reg.getOrCreate('x')
    const wrongs = [{}, Object.create(NativeBreaker.prototype), NativeBulkhead.named('perf-review', 1, 1), new NativeFakeClock(), reg, real.startedView()]
    const methods = Object.getOwnPropertyNames(NativeBreaker.prototype).filter((k) => k !== 'constructor')
    const out = []
    for (const w of wrongs) for (const m of methods) {
      const d = Object.getOwnPropertyDescriptor(NativeBreaker.prototype, m)
      const f = d.value ?? d.get
      if (typeof f !== 'function') continue
      try { f.call(w, 1, 1, 1); out.push(m + ':returned') } catch (e) { out.push(e instanceof TypeError ? 'TypeError' : d.get ? 'getter:' + e.constructor.name : m + ':' + e.message) }
    }
    let ctor
    try { new NativeBreaker(); ctor = 'made' } catch (e) { ctor = 'threw' }
    console.log(JSON.stringify({ out: [...new Set(out)], count: out.length, ctor, real: real.metrics().length > 0 }))
  `)
  t.is(r.status, 0, r.stderr)
  t.is(r.stderr, '')
  const { out, count, ctor, real } = JSON.parse(r.stdout) as { out: string[]; count: number; ctor: string; real: boolean }
  t.deepEqual(out.sort(), ['TypeError', 'getter:Error'])
  t.true(count > 20)
  t.is(ctor, 'threw')
  t.true(real)
})

test('handles made and collected in worker threads while other threads call: no crash, every breaker counts its own calls', (t) => {
  const r = child(`
    const { Worker } = require('node:worker_threads')
    const src = \`
      const { NativeRegistry } = require(\${JSON.stringify(process.cwd() + '/index.js')})
      const { workerData, parentPort } = require('node:worker_threads')
      const reg = NativeRegistry.global()
      const mine = reg.getOrCreate('perf-review-w' + workerData)
      for (let round = 0; round < 20; round++) {
        for (let i = 0; i < 500; i++) { const b = reg.getOrCreate('perf-review-many-' + i); b.isCallPermitted() }
        globalThis.gc()
      }
      parentPort.postMessage('done')
    \`
    const { NativeRegistry } = require('./index.js')
    const reg = NativeRegistry.global()
    const workers = [0, 1, 2].map((i) => new Worker(src, { eval: true, workerData: i }))
    let ended = 0
    const b = reg.getOrCreate('perf-review-main')
    const tick = () => { for (let i = 0; i < 200; i++) b.isCallPermitted(); if (ended < 3) setImmediate(tick) }
    tick()
    for (const w of workers) w.on('exit', (code) => { if (code !== 0) { console.error('worker exit ' + code) } if (++ended === 3) { console.log('ok ' + reg.names().length) } })
  `)
  t.is(r.signal, null)
  t.is(r.status, 0, r.stderr)
  t.is(r.stderr, '')
  t.regex(r.stdout, /^ok \d+$/)
})

test('each thread hears only its own calls through a shared breaker, and every thread hears a transition made in a worker', async (t) => {
  const name = `perf-review-threads-${process.pid}`
  const main = registry.getOrCreate(name, { consecutiveFailures: 3 })
  await main.execute(ok) // lean from now
  const heard: string[] = []
  main.onSuccess(() => heard.push('main'))
  const opened: string[] = []
  main.onOpen((c) => opened.push(`${c.from}->${c.to}`))
  const worker = await inWorker<{ successes: number; opened: string[] }>(`
    const b = bw.registry.get(${JSON.stringify(name)})
    let successes = 0
    const opened = []
    b.onSuccess(() => successes++)
    b.onOpen((c) => opened.push(c.from + '->' + c.to))
    for (let i = 0; i < 50; i++) b.executeSync(() => 0)
    for (let i = 0; i < 20; i++) await b.execute(async () => 1)
    for (let i = 0; i < 3; i++) await b.execute(async () => { throw new Error('down') }).catch(() => undefined)
    parentPort.postMessage({ successes, opened })
  `)
  t.deepEqual(worker, { successes: 70, opened: ['closed->open'] })
  await until(() => opened.length === 1)
  t.deepEqual(opened, ['closed->open'])
  t.deepEqual(heard, [], "the main thread's success listener heard none of the worker's calls")
  t.like(main.metrics(), { calls: 74, successes: 71, failures: 3, inFlight: 0 })
  registry.remove(name)
})

test('worker threads terminated at random while calling lean and not: their calls in flight end as ignored, nothing stays in flight', async (t) => {
  const name = `perf-review-terminate-${process.pid}`
  const b = registry.getOrCreate(name, { consecutiveFailures: false, failureRate: false })
  const starts = [0, 1, 2, 3, 4, 5].map((i) =>
    startWorker<string>(`
      const b = bw.registry.get(${JSON.stringify(name)})
      parentPort.postMessage('ready')
      // lean sync calls, lean async calls left pending, and general calls (a listener makes them so)
      ${i % 3 === 1 ? 'b.onSuccess(() => undefined)' : ''}
      const pending = []
      for (;;) {
        for (let k = 0; k < 1000; k++) b.executeSync(() => k)
        ${i % 3 === 2 ? 'pending.push(b.execute(() => new Promise(() => undefined)))' : ''}
        await b.execute(async () => 1)
      }
    `),
  )
  await Promise.all(starts.map((s) => s.result))
  const next = random(15)
  for (const s of starts) {
    // It has been calling since it said ready: stop it after a random number of turns, wherever it is.
    for (let k = next(200); k > 0; k--) await turn()
    await s.worker.terminate()
  }
  await until(() => b.metrics().inFlight === 0)
  const m = b.metrics()
  t.is(m.inFlight, 0)
  t.is(m.calls, m.successes + m.failures + m.ignored + m.rejections)
  t.true(m.successes > 0, `${m.successes} successes`)
  t.is(m.failures, 0)
  t.is(b.state, 'closed')
  registry.remove(name)
})

test('a native view in a transfer list is copied, not moved: it stays attached, and the worker writes to its copy only', (t) => {
  // The views' finalize hint is an Rc of the thread that made them: they must never move.
  const r = child(`
    const { NativeRegistry } = require('./index.js')
    const { Worker } = require('node:worker_threads')
    const b = new NativeRegistry().getOrCreate('x')
    const view = b.startedView()
    const lane = new Int32Array(view)
    const w = new Worker("require('node:worker_threads').parentPort.once('message', (m) => { new Int32Array(m)[0] += 1000; process.exit(0) })", { eval: true })
    w.postMessage(view, [view])
    w.on('exit', () => console.log(JSON.stringify({ length: view.byteLength, started: lane[0] })))
  `)
  t.is(r.status, 0, r.stderr)
  t.deepEqual(JSON.parse(r.stdout), { length: 12, started: 0 })
})

test('a handle keeps the name it was asked for, the same the registry, its refusals and its transitions give, for any well-formed name', async (t) => {
  const { breakers, name } = rig()
  for (const odd of [`${name}-\u0000nul`, `${name}-🧯-é-\u200d`, `${name}-${'x'.repeat(200)}`, ` ${name} `]) {
    const a = breakers.getOrCreate(odd, { consecutiveFailures: 1 })
    const b = breakers.get(odd)!
    const changes: string[] = []
    b.onStateChange((c) => changes.push(c.name))
    await a.execute(async () => Promise.reject(new Error('x'))).catch(() => undefined)
    const refusal = await b.execute(ok).catch((e: unknown) => e)
    t.is(a.name, odd)
    t.is(b.name, odd)
    t.true(breakers.names().includes(odd))
    t.is((refusal as { breaker?: string }).breaker, odd)
    t.deepEqual(changes, [odd])
  }
})

test('configure refusing trackLatency in the middle of lean calls changes nothing: the lane stays fast, every call counted once', async (t) => {
  const { breakers, name } = rig()
  const a = breakers.getOrCreate(name)
  for (let i = 0; i < 10; i++) a.executeSync(() => i) // lean
  const lane = new Int32Array(internalsOf(a as CircuitBreaker).native.startedView(), 0, 3)
  const running = held(1)
  const during = a.execute(running.fn) // lean, started before configure
  t.throws(() => breakers.get(name)!.configure({ trackLatency: true, consecutiveFailures: 2 }), {
    instanceOf: RangeError,
    code: 'ERR_BREAKWATER_INVALID_OPTION',
  })
  t.is(lane[2], 1, 'still fast')
  for (let i = 0; i < 7; i++) a.executeSync(() => i)
  await a.execute(ok)
  running.release()
  await during
  for (let i = 0; i < 3; i++) await a.execute(async () => Promise.reject(new Error('x'))).catch(() => undefined)
  t.like(a.metrics(), { calls: 22, successes: 19, failures: 3, inFlight: 0, state: 'closed' }) // consecutiveFailures 2 was not applied
  t.is(a.metrics().latency, undefined)
})

test.serial(
  'a storm of successes, failures, timeouts, aborts and refusals through two handles with listeners coming and going: every call ends once, every count adds up, each refusal heard by exactly the listeners present',
  async (t) => {
    await withFakeTimers(async (timers) => {
      for (const seed of [3, 99, 1234]) {
        const next = random(seed)
        const { breakers, name, clock } = rig()
        const handles = [breakers.getOrCreate(name, { consecutiveFailures: 3, openFor: '1s' }), breakers.get(name)!]
        const ended = { ok: 0, failed: 0, timedOut: 0, refused: 0, aborted: 0, twice: 0 }
        const pending: Array<{ release: (fail: boolean) => void }> = []
        const rejectEars: Array<{ heard: number; expected: number; stop: () => void; live: boolean }> = []
        const callEars: Array<() => void> = []
        const running: Promise<void>[] = []
        for (let step = 0; step < 300; step++) {
          const h = handles[next(2)]!
          const op = next(20)
          if (op === 0) {
            const ear: { heard: number; expected: number; stop: () => void; live: boolean } = { heard: 0, expected: 0, stop: () => undefined, live: true }
            ear.stop = h.onReject(() => ear.heard++)
            rejectEars.push(ear)
          } else if (op === 1) {
            const live = rejectEars.filter((e) => e.live)
            const ear = live[next(live.length || 1)]
            if (ear) {
              ear.live = false
              ear.stop()
            }
          } else if (op === 2) {
            callEars.push(
              h.onSuccess(() => undefined),
              h.onFailure(() => undefined),
            )
          } else if (op === 3 && callEars.length > 0) {
            callEars.splice(next(callEars.length), 1)[0]!()
          } else if (op === 4) {
            clock.advance(1000) // an open breaker may probe
          } else if (op === 5 && pending.length > 0) {
            pending.splice(next(pending.length), 1)[0]!.release(next(3) === 0)
            await Promise.resolve()
          } else if (op === 6) {
            await timers.tickAsync(60) // calls with a 50 ms timeout time out
          } else {
            const kind = next(4) // 0: held, 1: with a timeout, 2: aborted by the caller, 3: sync
            const before = h.metrics().rejections
            let settled = 0
            const settle = (how: keyof typeof ended) => {
              if (settled++ > 0) ended.twice++
              ended[how]++
            }
            const classify = (e: unknown) => {
              const name = (e as Error).name
              settle(name === 'BrokenCircuitError' ? 'refused' : name === 'TimeoutError' ? 'timedOut' : name === 'AbortError' ? 'aborted' : 'failed')
            }
            if (kind === 3) {
              try {
                h.executeSync(() => {
                  if (next(4) === 0) throw new Error('down')
                  return 1
                })
                settle('ok')
              } catch (e) {
                classify(e)
              }
            } else {
              let release!: (fail: boolean) => void
              const gate = new Promise<void>((resolve, reject) => (release = (fail) => (fail ? reject(new Error('down')) : resolve())))
              gate.catch(() => undefined)
              const controller = new AbortController()
              const options = kind === 1 ? { timeout: 50 } : kind === 2 ? { signal: controller.signal } : undefined
              running.push(
                h
                  .execute(() => gate, options)
                  .then(
                    () => settle('ok'),
                    (e) => classify(e),
                  ),
              )
              pending.push({ release })
              if (kind === 2) controller.abort(Object.assign(new Error('caller gave up'), { name: 'AbortError' }))
            }
            if (h.metrics().rejections > before) for (const ear of rejectEars) if (ear.live) ear.expected++
          }
        }
        for (const p of pending) p.release(false)
        await timers.tickAsync(60)
        await Promise.all(running)
        for (const stop of callEars) stop()
        const m = handles[0]!.metrics()
        const total = ended.ok + ended.failed + ended.timedOut + ended.refused + ended.aborted
        t.is(ended.twice, 0, `seed ${seed}: no call ends twice`)
        t.is(m.inFlight, 0, `seed ${seed}`)
        t.is(m.calls, total, `seed ${seed}: every call counted once`)
        t.is(m.calls, m.successes + m.failures + m.ignored + m.rejections, `seed ${seed}`)
        t.is(m.rejections, ended.refused, `seed ${seed}`)
        t.is(m.timeouts, ended.timedOut, `seed ${seed}`)
        t.is(m.failures, ended.failed + ended.timedOut, `seed ${seed}`)
        t.is(m.ignored, ended.aborted, `seed ${seed}`)
        t.true(ended.refused > 0 && ended.timedOut > 0 && ended.aborted > 0, `seed ${seed}: ${JSON.stringify(ended)}`)
        for (const ear of rejectEars) t.is(ear.heard, ear.expected, `seed ${seed}: refusals heard by a listener`)
        for (const ear of rejectEars) ear.stop()
      }
    })
  },
)
