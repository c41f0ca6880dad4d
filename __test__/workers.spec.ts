import test from 'ava'
import { circuitBreaker, isBrokenCircuitError } from '../src/index.ts'
import { inWorker } from './worker.ts'

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
