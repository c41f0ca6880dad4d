import test from 'ava'
import { circuitBreaker } from '../src/index.ts'
import { deferred } from './timers.ts'
import { rig } from './helpers.ts'
import { startWorker } from './worker.ts'

test('with 10 calls running on a closed breaker, metrics count them in calls and in flight', async (t) => {
  const { breakers, name } = rig()
  const b = breakers.getOrCreate(name)
  const release = deferred()
  const calls = Array.from({ length: 10 }, () => b.execute(() => release.promise))
  t.like(b.metrics(), { state: 'closed', calls: 10, inFlight: 10, successes: 0 })
  release.resolve()
  await Promise.all(calls)
  const m = b.metrics()
  t.like(m, { calls: 10, inFlight: 0, successes: 10 })
  t.is(m.calls, m.successes + m.failures + m.ignored + m.rejections + m.inFlight)
})

test('a call running in executeSync is in flight while it runs', (t) => {
  const { breakers, name } = rig()
  const b = breakers.getOrCreate(name)
  t.is(
    b.executeSync(() => b.metrics().inFlight),
    1,
  )
  t.like(b.metrics(), { calls: 1, inFlight: 0, successes: 1 })
})

test('calls running in a worker are in flight everywhere, and a worker terminated mid-call leaves none behind', async (t) => {
  const name = `in-flight-${process.pid}`
  const main = circuitBreaker(name)
  const { worker, result } = startWorker<string>(`
    const b = bw.circuitBreaker('${name}')
    for (let i = 0; i < 5; i++) b.execute(() => new Promise(() => {}))
    await b.execute(async () => 'done')
    parentPort.postMessage('running')
  `)
  t.is(await result, 'running')
  t.like(main.metrics(), { calls: 6, successes: 1, inFlight: 5 })
  await worker.terminate()
  const m = main.metrics()
  t.like(m, { calls: 6, successes: 1, ignored: 5, inFlight: 0 }, 'the calls the worker never reported count as ignored')
  t.is(m.calls, m.successes + m.failures + m.ignored + m.rejections + m.inFlight)
})
