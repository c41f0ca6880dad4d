import test from 'ava'
import { circuitBreaker, isBrokenCircuitError } from '../src/index.ts'
import { inWorker } from './worker.ts'

test('a breaker opened by failures in a worker rejects in the main thread and in other workers', async (t) => {
  const name = `shared-${process.pid}`
  const main = circuitBreaker(name, { consecutiveFailures: 3, openFor: '1h' })
  t.is(main.state, 'closed')
  const opened = await inWorker<string>(`
    const b = bw.circuitBreaker('${name}', { consecutiveFailures: 3 })
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
