import test from 'ava'
import { bulkhead, BulkheadRejectedError, isBulkheadRejectedError } from '../src/index.ts'
import { deferred, turn, until } from './timers.ts'
import { startWorker } from './worker.ts'
import { NativeBulkhead } from '../src/native.ts'

let next = 0
const fresh = () => `bulkhead-${process.pid}-${next++}`

test('runs at most maxConcurrent calls at once and starts queued ones as permits free up', async (t) => {
  const b = bulkhead(fresh(), { maxConcurrent: 2, maxQueue: 10 })
  const gates = [0, 1, 2, 3, 4].map(() => deferred<number>())
  let running = 0
  let most = 0
  const calls = gates.map((gate, i) =>
    b.execute(async () => {
      most = Math.max(most, ++running)
      await gate.promise
      running--
      return i
    }),
  )
  await turn()
  t.like(b.stats(), { inUse: 2, queued: 3 })
  for (const gate of gates) gate.resolve(0)
  t.deepEqual(await Promise.all(calls), [0, 1, 2, 3, 4])
  t.is(most, 2)
  t.like(b.stats(), { inUse: 0, queued: 0, admitted: 5 })
})

test('the queue serves higher priorities first and equal priorities in order of arrival', async (t) => {
  const b = bulkhead(fresh(), { maxConcurrent: 1, maxQueue: 10 })
  const hold = deferred()
  const holding = b.execute(() => hold.promise)
  const order: string[] = []
  const queued = (
    [
      ['low-1', 0],
      ['high-1', 5],
      ['low-2', 0],
      ['high-2', 5],
      ['urgent', 9],
    ] as const
  ).map(([label, priority]) => b.execute(async () => void order.push(label), { priority }))
  await turn()
  t.is(b.stats().queued, 5)
  hold.resolve()
  await Promise.all([holding, ...queued])
  t.deepEqual(order, ['urgent', 'high-1', 'high-2', 'low-1', 'low-2'])
})

test('refuses with a branded BulkheadRejectedError when every permit is taken and the queue is full', async (t) => {
  const name = fresh()
  const b = bulkhead(name, { maxConcurrent: 1, maxQueue: 1 })
  const hold = deferred()
  const holding = b.execute(() => hold.promise)
  const waiting = b.execute(async () => 'waited')
  let ran = false
  const error = await t.throwsAsync(
    b.execute(async () => (ran = true)),
    { instanceOf: BulkheadRejectedError },
  )
  t.true(isBulkheadRejectedError(error))
  t.like(error, { code: 'ERR_BREAKWATER_BULKHEAD_FULL', bulkhead: name, maxConcurrent: 1, maxQueue: 1 })
  t.false(ran)
  t.is(error.stack?.split('\n').length, 1, 'a refusal captures no stack frames')
  hold.resolve()
  t.is(await waiting, 'waited')
  await holding
  t.like(b.stats(), { rejected: 1, inUse: 0 })
})

test('a queued call whose signal aborts leaves the queue and the others are still served', async (t) => {
  const b = bulkhead(fresh(), { maxConcurrent: 1, maxQueue: 5 })
  const hold = deferred()
  const holding = b.execute(() => hold.promise)
  const controller = new AbortController()
  let abortedRan = false
  const aborted = b.execute(async () => (abortedRan = true), { signal: controller.signal })
  const after = b.execute(async () => 'served')
  await turn()
  controller.abort(new Error('caller left'))
  await t.throwsAsync(aborted, { message: 'caller left' })
  t.like(b.stats(), { queued: 1, cancelled: 1 })
  hold.resolve()
  t.is(await after, 'served')
  await holding
  t.false(abortedRan)
  t.like(b.stats(), { inUse: 0, queued: 0 })
})

test('a call aborted just after its permit was handed over passes the permit on', async (t) => {
  const b = bulkhead(fresh(), { maxConcurrent: 1, maxQueue: 5 })
  const hold = deferred()
  const holding = b.execute(() => hold.promise)
  const controller = new AbortController()
  let ran = false
  const queued = b.execute(async () => (ran = true), { signal: controller.signal })
  await turn()
  hold.resolve()
  await holding // released: the permit is on its way to the queued call, not yet delivered
  controller.abort(new Error('too late'))
  await t.throwsAsync(queued, { message: 'too late' })
  t.is(await b.execute(async () => 'next'), 'next', 'the permit came back')
  t.false(ran)
  t.like(b.stats(), { inUse: 0, queued: 0, cancelled: 0 })
})

test('a permit is released when fn throws, synchronously or not', async (t) => {
  const b = bulkhead(fresh(), { maxConcurrent: 1 })
  await t.throwsAsync(
    b.execute(() => {
      throw new Error('sync')
    }),
    { message: 'sync' },
  )
  await t.throwsAsync(
    b.execute(async () => Promise.reject(new Error('async'))),
    { message: 'async' },
  )
  t.is(b.stats().inUse, 0)
  t.is(await b.execute(() => 'still usable'), 'still usable')
})

test('one bulkhead limits the whole process: a worker thread queues for the permit the main thread holds', async (t) => {
  const name = fresh()
  const main = bulkhead(name, { maxConcurrent: 1, maxQueue: 5 })
  const hold = deferred()
  const holding = main.execute(() => hold.promise)
  const { worker, result } = startWorker<string>(`
    const b = bw.bulkhead('${name}', { maxConcurrent: 1, maxQueue: 5 })
    const call = b.execute(async () => 'ran in the worker')
    parentPort.postMessage('queued ' + b.stats().queued)
    parentPort.postMessage(await call)
  `)
  t.is(await result, 'queued 1', 'the limit of 1 holds across threads')
  const ran = message(worker)
  t.like(main.stats(), { inUse: 1, queued: 1 })
  hold.resolve()
  await holding
  t.is(await ran, 'ran in the worker', 'woken from the main thread')
  t.like(main.stats(), { inUse: 0, queued: 0, admitted: 2 })
})

test('a permit released in a worker thread wakes a call queued in the main thread', async (t) => {
  const name = fresh()
  const main = bulkhead(name, { maxConcurrent: 1, maxQueue: 5 })
  const { worker, result } = startWorker<string>(`
    const b = bw.bulkhead('${name}', { maxConcurrent: 1, maxQueue: 5 })
    const held = b.execute(() => new Promise((resolve) => parentPort.once('message', resolve)))
    parentPort.postMessage('holding')
    await held
  `)
  t.is(await result, 'holding')
  const mine = main.execute(async () => 'main ran')
  t.is(main.stats().queued, 1)
  worker.postMessage('release')
  t.is(await mine, 'main ran')
  t.like(main.stats(), { inUse: 0, queued: 0 })
})

test('a permit meant for a worker thread that has ended goes to the next caller in line', async (t) => {
  const name = fresh()
  const main = bulkhead(name, { maxConcurrent: 1, maxQueue: 5 })
  const hold = deferred()
  const holding = main.execute(() => hold.promise)
  const { worker, result } = startWorker<string>(`
    const b = bw.bulkhead('${name}', { maxConcurrent: 1, maxQueue: 5 })
    b.execute(async () => 'never', { priority: 9 })
    parentPort.postMessage('queued first')
  `)
  t.is(await result, 'queued first')
  const mine = main.execute(async () => 'main served', { priority: 0 })
  await worker.terminate()
  await until(() => main.stats().queued === 1) // the ended thread left the queue
  hold.resolve()
  await holding
  t.is(await mine, 'main served')
  t.like(main.stats(), { inUse: 0, queued: 0 })
})

test('a permit held by a worker thread that is terminated mid-call is given back', async (t) => {
  const name = fresh()
  const main = bulkhead(name, { maxConcurrent: 1, maxQueue: 5 })
  const { worker, result } = startWorker<string>(`
    const b = bw.bulkhead('${name}', { maxConcurrent: 1, maxQueue: 5 })
    b.execute(() => new Promise(() => {})) // holds its permit forever
    parentPort.postMessage('holding')
    setInterval(() => {}, 1000) // stays alive until terminated
  `)
  t.is(await result, 'holding')
  const mine = main.execute(async () => 'main ran')
  t.like(main.stats(), { inUse: 1, queued: 1 })
  await worker.terminate()
  t.is(await mine, 'main ran', 'the ended thread gave its permit back')
  t.like(main.stats(), { inUse: 0, queued: 0 })
})

test('a permit handed to a worker thread that is terminated in the same tick comes back', async (t) => {
  // The review's reproduction: the wake reaches the worker's queue but never runs, as its
  // environment is torn down; the worker's handle (and lane) goes with it, holding the permit.
  for (let round = 0; round < 3; round++) {
    const name = fresh()
    const main = bulkhead(name, { maxConcurrent: 1, maxQueue: 5 })
    const hold = deferred()
    const holding = main.execute(() => hold.promise)
    const { worker, result } = startWorker<string>(`
      const b = bw.bulkhead('${name}', { maxConcurrent: 1, maxQueue: 5 })
      b.execute(async () => 'never runs')
      parentPort.postMessage('queued')
      setInterval(() => {}, 1000)
    `)
    t.is(await result, 'queued')
    const ended = worker.terminate()
    hold.resolve() // released in the same tick: handed to the worker's queued call
    await holding
    await ended
    t.like(main.stats(), { inUse: 0, queued: 0 }, `round ${round}`)
    let ran = false
    void main.execute(() => (ran = true))
    t.true(ran, 'a fresh call gets a permit at once')
  }
})

test('a worker thread terminated while holding several permits and waiting for another gives every one back', async (t) => {
  const name = fresh()
  const main = bulkhead(name, { maxConcurrent: 3, maxQueue: 5 })
  const hold = deferred()
  const holding = main.execute(() => hold.promise)
  const { worker, result } = startWorker<string>(`
    const b = bw.bulkhead('${name}', { maxConcurrent: 3, maxQueue: 5 })
    b.execute(() => new Promise(() => {}))
    b.execute(() => new Promise(() => {}))
    b.execute(async () => 'never runs', { priority: 9 })
    parentPort.postMessage(JSON.stringify(b.stats()))
    setInterval(() => {}, 1000)
  `)
  t.like(JSON.parse(await result), { inUse: 3, queued: 1 })
  const mine = main.execute(async () => 'main served')
  const ended = worker.terminate()
  hold.resolve() // goes to the worker's queued call, first by priority
  await holding
  await ended
  t.is(await mine, 'main served')
  t.like(main.stats(), { inUse: 0, queued: 0 })
})

test('a worker thread that runs out of work while holding permits gives them back when it exits', async (t) => {
  const name = fresh()
  const main = bulkhead(name, { maxConcurrent: 2, maxQueue: 5 })
  const { worker, result } = startWorker<string>(`
    const b = bw.bulkhead('${name}', { maxConcurrent: 2, maxQueue: 5 })
    b.execute(() => new Promise(() => {})) // pending for ever, but keeps nothing alive
    b.execute(() => new Promise(() => {}))
    parentPort.postMessage('holding ' + b.stats().inUse)
    parentPort.unref()
  `)
  t.is(await result, 'holding 2')
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve))
  const mine = main.execute(async () => 'main ran')
  t.is(await exited, 0, 'the worker ended on its own')
  t.is(await mine, 'main ran')
  t.like(main.stats(), { inUse: 0, queued: 0 })
})

test('two handles of one bulkhead in a terminated worker thread both give back what they owned', async (t) => {
  const name = fresh()
  const main = bulkhead(name, { maxConcurrent: 2, maxQueue: 5 })
  const hold = deferred()
  const holding = main.execute(() => hold.promise)
  const native = new URL('../src/native.ts', import.meta.url).href
  const { worker, result } = startWorker<string>(`
    const { NativeBulkhead } = await import('${native}')
    const other = NativeBulkhead.named('${name}', 2, 5) // a second handle, as a second copy of the library has
    const b = bw.bulkhead('${name}', { maxConcurrent: 2, maxQueue: 5 })
    const permit = other.tryAcquire()
    b.execute(async () => 'never runs')
    parentPort.postMessage(permit >= 0 ? 'one held, one queued' : 'no permit')
    setInterval(() => {}, 1000)
  `)
  t.is(await result, 'one held, one queued')
  const ended = worker.terminate()
  hold.resolve()
  await holding
  await ended
  t.like(main.stats(), { inUse: 0, queued: 0 })
})

test('a permit is given back only through the handle that holds it, so never twice', (t) => {
  const name = fresh()
  const b = bulkhead(name, { maxConcurrent: 1 })
  const first = NativeBulkhead.named(name, 1, 0)
  const second = NativeBulkhead.named(name, 1, 0)
  const permit = first.tryAcquire()
  t.true(permit >= 0)
  t.false(second.release(permit), 'not held by this handle')
  t.is(b.stats().inUse, 1)
  t.true(first.release(permit))
  t.false(first.release(permit), 'released already')
  t.is(b.stats().inUse, 0)
})

test('bad bulkhead options name the option and the value', (t) => {
  t.throws(() => bulkhead(fresh(), { maxConcurrent: 0 }), { instanceOf: RangeError, message: 'maxConcurrent must be a whole number of at least 1, but was 0' })
  t.throws(() => bulkhead(fresh(), { maxConcurrent: Number.NaN }), { message: 'maxConcurrent must be a whole number of at least 1, but was NaN' })
  t.throws(() => bulkhead(fresh(), { maxConcurrent: 2, maxQueue: -1 }), {
    instanceOf: RangeError,
    message: 'maxQueue must be a whole number of at least 0, but was -1',
  })
  t.throws(() => bulkhead(fresh(), { maxConcurrent: 2 ** 21 }), {
    instanceOf: RangeError,
    message: 'maxConcurrent must be a whole number from 1 to 1048576, but was 2097152',
  })
  t.throws(() => bulkhead(fresh(), undefined as unknown as { maxConcurrent: number }), {
    instanceOf: TypeError,
    message: /^bulkhead options must be an object/,
  })
  const b = bulkhead(fresh(), { maxConcurrent: 1 })
  return t.throwsAsync(
    b.execute(async () => 1, { priority: 'high' as unknown as number }),
    { instanceOf: TypeError, message: 'priority must be a number, but was "high"' },
  )
})

test('bulkhead options are own properties: a typo like maxQeue, null and inherited keys are refused by name and create nothing', (t) => {
  const code = 'ERR_BREAKWATER_INVALID_OPTION'
  const name = fresh()
  t.throws(() => bulkhead(name, { maxConcurrent: 1, maxQeue: 5 } as never), {
    instanceOf: TypeError,
    code,
    message: /^maxQeue is not a bulkhead option \(known: maxConcurrent, maxQueue\)/,
  })
  t.throws(() => bulkhead(name, null as never), { instanceOf: TypeError, code, message: 'bulkhead options must be an object, but was null' })
  t.throws(() => bulkhead(name, Object.create({ maxConcurrent: 4 }) as never), {
    instanceOf: TypeError,
    code,
    message: 'maxConcurrent must be a number, but was undefined',
  })
  t.throws(() => bulkhead(name, { maxConcurrent: 1, constructor: 1 } as never), {
    instanceOf: TypeError,
    code,
    message: /^constructor is not a bulkhead option/,
  })
  t.is(bulkhead(name, { maxConcurrent: 3 }).stats().maxConcurrent, 3, 'the refused calls created nothing')
  const polluted = Object.prototype as { maxQueue?: number }
  polluted.maxQueue = 7
  try {
    t.is(bulkhead(fresh(), { maxConcurrent: 1 }).stats().maxQueue, 0, 'a polluted Object.prototype changes nothing')
  } finally {
    delete polluted.maxQueue
  }
})

test('per-call options refuse unknown keys, null, a fractional priority and a signal passed in their place', async (t) => {
  const code = 'ERR_BREAKWATER_INVALID_OPTION'
  const b = bulkhead(fresh(), { maxConcurrent: 1, maxQueue: 5 })
  let ran = 0
  const run = () => ran++
  await t.throwsAsync(b.execute(run, { priorty: 1 } as never), {
    instanceOf: TypeError,
    code,
    message: /^priorty is not an execute option \(known: signal, priority\)/,
  })
  await t.throwsAsync(b.execute(run, null as never), { instanceOf: TypeError, code, message: 'execute options must be an object, but was null' })
  await t.throwsAsync(b.execute(run, new AbortController().signal as never), {
    instanceOf: TypeError,
    code,
    message: 'execute takes its signal inside the options, as { signal }, but was given an AbortSignal',
  })
  await t.throwsAsync(b.execute(run, { priority: 1.5 }), {
    instanceOf: RangeError,
    code,
    message: 'priority must be a whole number within -2147483648..2147483647, but was 1.5',
  })
  await t.throwsAsync(b.execute(run, { priority: 2 ** 31 }), { instanceOf: RangeError, code })
  t.is(ran, 0, 'nothing ran')
  t.like(b.stats(), { inUse: 0, queued: 0, admitted: 0 }, 'and no permit was taken')
  t.is(await b.execute(() => 'fine', { priority: -(2 ** 31) }), 'fine')
})

test('limits that differ from the existing bulkhead throw ERR_BREAKWATER_OPTIONS_DIFFER naming each with both values, in any thread', async (t) => {
  const name = fresh()
  const first = bulkhead(name, { maxConcurrent: 1, maxQueue: 5 })
  const error = t.throws(() => bulkhead(name, { maxConcurrent: 99, maxQueue: 5 }))
  t.like(error, {
    code: 'ERR_BREAKWATER_OPTIONS_DIFFER',
    message: `bulkhead "${name}" exists with other options: maxConcurrent is 1, given 99; give the same options`,
  })
  t.like(first.stats(), { maxConcurrent: 1, maxQueue: 5 }, 'the existing bulkhead is unchanged')
  const inWorker = await startWorker<string>(`
    try {
      bw.bulkhead('${name}', { maxConcurrent: 1 })
      parentPort.postMessage('accepted')
    } catch (e) {
      parentPort.postMessage(e.code + ': ' + e.message)
    }
  `).result
  t.is(inWorker, `ERR_BREAKWATER_OPTIONS_DIFFER: bulkhead "${name}" exists with other options: maxQueue is 5, given 0; give the same options`)
  t.is(bulkhead(name, { maxConcurrent: 1, maxQueue: 5 }).name, name, 'the same limits are fine')
})

/** The next message `worker` posts. */
function message<T>(worker: import('node:worker_threads').Worker): Promise<T> {
  return new Promise((resolve) => worker.once('message', resolve))
}
