// Successes on a closed breaker are reported through native memory, without a native call: they
// must count exactly as before, in metrics read at once, in the window, and in the failures in a row.
import test from 'ava'
import { fail, rig } from './helpers.ts'

const ok = async () => 42

test('successes are in metrics read right after the calls, in calls, window and success rate', async (t) => {
  const { breakers, name } = rig()
  const b = breakers.getOrCreate(name)
  for (let i = 0; i < 150; i++) await b.execute(ok)
  for (let i = 0; i < 30; i++) b.executeSync(() => 1)
  t.like(b.metrics(), { calls: 180, successes: 180, inFlight: 0, successRate: 100, window: { calls: 100, failures: 0 } })
})

test('a success resets the failures in a row before the next failure is judged', async (t) => {
  const { breakers, name } = rig()
  const b = breakers.getOrCreate(name, { consecutiveFailures: 3 })
  for (const step of ['fail', 'fail', 'ok', 'fail', 'fail']) {
    await (step === 'ok' ? b.execute(ok) : b.execute(fail).catch(() => undefined))
  }
  t.like(b.metrics(), { state: 'closed', consecutiveFailures: 2, successes: 1, failures: 4 })
  await b.execute(fail).catch(() => undefined)
  t.is(b.state, 'open')
})

test('a failure rate sees the successes before it in its count window', async (t) => {
  const { breakers, name } = rig()
  const b = breakers.getOrCreate(name, { consecutiveFailures: false, failureRate: 50, minimumCalls: 4, windowSize: 4 })
  for (const step of ['fail', 'ok', 'ok', 'ok', 'ok', 'fail']) {
    await (step === 'ok' ? b.execute(ok) : b.execute(fail).catch(() => undefined))
  }
  t.like(b.metrics(), { state: 'closed', window: { calls: 4, failures: 1 } })
  await b.execute(ok)
  await b.execute(fail).catch(() => undefined)
  t.is(b.state, 'open')
})

test('successes of a closed period that reset() ended are counted but not in the new window', async (t) => {
  const { breakers, name } = rig()
  const b = breakers.getOrCreate(name)
  await b.execute(ok)
  b.reset()
  t.like(b.metrics(), { calls: 1, successes: 1, window: { calls: 0 } })
})
