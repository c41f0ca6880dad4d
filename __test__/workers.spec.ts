import test from 'ava'
import { circuitBreaker, isBrokenCircuitError } from '../src/index.ts'
import { inWorker, startWorker } from './worker.ts'

test('a breaker opened by failures in a worker rejects in the main thread and in other workers', async (t) => {
  const name = `shared-${process.pid}`
  const main = circuitBreaker(name, { consecutiveFailures: 3, openFor: '1h' })
  t.is(main.state, 'closed')
  const opened = await inWorker<string>(`
    const b = bw.circuitBreaker('${name}', { consecutiveFailures: 3, openFor: '1h' })
    for (let i = 0; i < 3; i++) await b.execute(async () => { throw new Error('down') }).catch(() => {})
    parentPort.postMessage(b.state)
  `)
  t.is(opened, 'open')
  t.is(main.state, 'open', 'the main thread sees the same breaker')
  const error = await t.throwsAsync(main.execute(async () => 1))
  t.true(isBrokenCircuitError(error))
  const elsewhere = await inWorker<{ rejected: boolean; failures: number }>(`
    const b = bw.circuitBreaker('${name}')
    const rejected = await b.execute(async () => 1).then(() => false, (e) => bw.isBrokenCircuitError(e))
    parentPort.postMessage({ rejected, failures: b.metrics().failures })
  `)
  t.deepEqual(elsewhere, { rejected: true, failures: 3 })
})

test('calls from several workers are all counted in the one breaker', async (t) => {
  const name = `counted-${process.pid}`
  const calls = 2_000
  await Promise.all(
    [1, 2, 3].map(() =>
      inWorker(`
        const b = bw.circuitBreaker('${name}')
        for (let i = 0; i < ${calls}; i++) await b.execute(() => i)
        parentPort.postMessage('done')
      `),
    ),
  )
  t.like(circuitBreaker(name).metrics(), { calls: 3 * calls, successes: 3 * calls, inFlight: 0 })
})

test('the same options from two workers give one breaker; different options are refused', async (t) => {
  const name = `agreed-${process.pid}`
  const options = `{ consecutiveFailures: 2, openFor: '5s', trackLatency: true }`
  const made = await Promise.all(
    [1, 2].map(() =>
      inWorker<string>(`
        const b = bw.circuitBreaker('${name}', ${options})
        await b.execute(async () => 1)
        parentPort.postMessage(b.name)
      `),
    ),
  )
  t.deepEqual(made, [name, name])
  t.like(circuitBreaker(name).metrics(), { calls: 2, successes: 2 })
  const refused = await inWorker<{ code: string; message: string }>(`
    try {
      bw.circuitBreaker('${name}', { consecutiveFailures: 3, openFor: '5s', trackLatency: true })
      parentPort.postMessage({ code: 'accepted', message: '' })
    } catch (e) { parentPort.postMessage({ code: e.code, message: e.message }) }
  `)
  t.is(refused.code, 'ERR_BREAKWATER_OPTIONS_DIFFER')
  t.regex(refused.message, /consecutiveFailures is 2, given 3/)
})

test('a worker terminated while holding the only half-open probe frees it at once: the next call in the main thread probes', async (t) => {
  const name = `held-probe-${process.pid}`
  // A probe expiry of an hour: the spec cannot pass by waiting for it.
  const main = circuitBreaker(name, { consecutiveFailures: 1, halfOpenProbes: 1, halfOpenSuccesses: 1, maxProbeTime: '1h' })
  main.forceOpen()
  t.true(main.halfOpen())
  const { worker, result } = startWorker<string>(`
    const b = bw.circuitBreaker('${name}')
    b.execute(() => { parentPort.postMessage(b.state); return new Promise(() => {}) })
  `)
  t.is(await result, 'half_open', 'the worker runs the only probe, which never ends')
  const refused = await main
    .execute(() => 'ok')
    .then(
      () => undefined,
      (e: unknown) => e,
    )
  t.true(isBrokenCircuitError(refused), 'while the worker holds the probe, the main thread is refused')
  await worker.terminate()
  t.is(await main.execute(() => 'ok'), 'ok', 'the probe slot came back with the worker: this call probed')
  t.is(main.state, 'closed')
  const m = main.metrics()
  t.like(m, { calls: 3, successes: 1, rejections: 1, ignored: 1, inFlight: 0 }, "the worker's probe counts as ignored")
  t.is(m.calls, m.successes + m.failures + m.ignored + m.rejections + m.inFlight)
})

test('a worker that reported its probe before it was terminated frees no probe slot a second time', async (t) => {
  const name = `reported-probe-${process.pid}`
  const main = circuitBreaker(name, { consecutiveFailures: 1, halfOpenProbes: 1, halfOpenSuccesses: 2, maxProbeTime: '1h' })
  main.forceOpen()
  t.true(main.halfOpen())
  const { worker, result } = startWorker<string>(`
    const b = bw.circuitBreaker('${name}')
    await b.execute(() => 'ok')
    parentPort.postMessage(b.state)
  `)
  t.is(await result, 'half_open', 'one probe succeeded; one more closes the breaker')
  let release!: () => void
  const probing = main.execute(() => new Promise<string>((resolve) => (release = () => resolve('closed it'))))
  await worker.terminate()
  const refused = await main
    .execute(() => 'ok')
    .then(
      () => undefined,
      (e: unknown) => e,
    )
  t.true(isBrokenCircuitError(refused), 'the main thread still holds the only probe slot')
  release()
  t.is(await probing, 'closed it')
  t.is(main.state, 'closed')
})
