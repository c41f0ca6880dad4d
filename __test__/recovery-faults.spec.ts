// Issue 10, item 12 and part of 21: a recovery manager survives a check that never settles, a
// breaker that throws, and a `base` that would poll every millisecond.
import test from 'ava'
import { type HealthCheckEvent, isTimeoutError, recoveryManager } from '../src/index.ts'
import { rig } from './helpers.ts'
import { withFakeTimers } from './timers.ts'

test.serial('a health check that never settles times out, counts as unhealthy, and the next check still runs', async (t) => {
  await withFakeTimers(async (timers) => {
    const { breakers, name } = rig()
    const breaker = breakers.getOrCreate(name, { consecutiveFailures: 1, openFor: '1h' })
    let calls = 0
    const aborted: unknown[] = []
    const events: HealthCheckEvent[] = []
    const manager = recoveryManager(
      breaker,
      (signal) => {
        calls++
        signal.addEventListener('abort', () => aborted.push(signal.reason))
        return calls === 1 ? new Promise<boolean>(() => {}) : true // the first check hangs for good
      },
      { jitter: 0, checkTimeout: '5s' },
    )
    manager.onCheck((e) => events.push(e))
    await breaker.execute(() => Promise.reject(new Error('down'))).catch(() => undefined)
    await timers.tickAsync(1000 + 5000)
    t.is(events.length, 1)
    t.like(events[0], { attempt: 1, healthy: false, nextDelayMs: 2000 })
    t.true(isTimeoutError(events[0]!.error))
    t.true(isTimeoutError(aborted[0]), 'the hung check is told to stop through its signal')
    await timers.tickAsync(2000)
    t.is(calls, 2)
    t.is(breaker.state, 'half_open', 'recovery went on after the hung check')
    manager.stop()
  })
})

test.serial('stop() and start() revive a manager whose check never settles', async (t) => {
  await withFakeTimers(async (timers) => {
    const { breakers, name } = rig()
    const breaker = breakers.getOrCreate(name, { consecutiveFailures: 1, openFor: '1h' })
    let calls = 0
    const manager = recoveryManager(breaker, () => (++calls === 1 ? new Promise<boolean>(() => {}) : true), { jitter: 0, checkTimeout: '1h' })
    await breaker.execute(() => Promise.reject(new Error('down'))).catch(() => undefined)
    await timers.tickAsync(1000)
    t.is(calls, 1, 'the first check is running and will never answer')
    manager.stop()
    manager.start()
    await timers.tickAsync(1000)
    t.is(calls, 2, 'a restarted manager checks again without waiting for the hung check')
    t.is(breaker.state, 'half_open')
    manager.stop()
    t.is(timers.countTimers(), 0, "stopping leaves no timer, not even the hung check's timeout")
  })
})

test.serial('a breaker whose halfOpen throws is reported as a warning, never an unhandled rejection, and watching goes on', async (t) => {
  await withFakeTimers(async (timers) => {
    let unhandled = 0
    const onUnhandled = () => unhandled++
    process.on('unhandledRejection', onUnhandled)
    const warnings: string[] = []
    const onWarning = (w: Error) => warnings.push(w.message)
    process.on('warning', onWarning)
    let halfOpens = 0
    const broken = {
      state: 'open' as const,
      onOpen: () => () => {},
      halfOpen: () => {
        halfOpens++
        throw new Error('halfOpen exploded')
      },
    }
    const manager = recoveryManager(broken, () => true, { jitter: 0 })
    await timers.tickAsync(1000)
    await timers.tickAsync(1000 + 1000)
    manager.stop()
    await new Promise((resolve) => setImmediate(resolve))
    process.off('unhandledRejection', onUnhandled)
    process.off('warning', onWarning)
    t.is(unhandled, 0)
    t.true(halfOpens >= 2, `the manager kept watching (${halfOpens} tries)`)
    t.true(warnings.some((w) => w === 'a breakwater recovery manager failed: Error: halfOpen exploded'))
  })
})

test('a base under 10 ms is refused: checks that often would be a busy loop', (t) => {
  const { breakers, name } = rig()
  const breaker = breakers.getOrCreate(name)
  for (const base of [0, 1, '5ms'] as const) {
    t.throws(() => recoveryManager(breaker, () => true, { base }), {
      instanceOf: RangeError,
      code: 'ERR_BREAKWATER_INVALID_OPTION',
      message: /^base must be at least 10 ms \(checks that often would be a busy loop\), but was /,
    })
  }
  t.throws(() => recoveryManager(breaker, () => true, { checkTimeout: 0 }), {
    instanceOf: RangeError,
    message: 'checkTimeout must be more than 0 ms, but was 0',
  })
  t.throws(() => recoveryManager(breaker, () => true, { bse: '1s' } as never), {
    instanceOf: TypeError,
    message: /^bse is not a recovery option \(known: base, /,
  })
  t.throws(() => recoveryManager(breaker, () => true, null as never), { instanceOf: TypeError, message: 'recovery options must be an object, but was null' })
  recoveryManager(breaker, () => true, { base: 10 }).stop()
})

test.serial('a random option that throws on a later call is a warning, never an uncaught exception, and the manager keeps watching', async (t) => {
  await withFakeTimers(async (timers) => {
    const { breakers, name } = rig()
    const breaker = breakers.getOrCreate(name, { consecutiveFailures: 1, openFor: '1h' })
    let draws = 0
    const warnings: string[] = []
    const onWarning = (w: Error) => warnings.push(w.message)
    process.on('warning', onWarning)
    const manager = recoveryManager(breaker, () => true, {
      base: 10,
      random: () => {
        if (++draws === 1) throw new Error('no entropy today')
        return 0.5
      },
    })
    await breaker.execute(() => Promise.reject(new Error('down'))).catch(() => undefined)
    await timers.tickAsync(10) // the first schedule throws
    await timers.tickAsync(10 + 20) // the next look finds the breaker open and checks
    await new Promise((resolve) => setImmediate(resolve))
    process.off('warning', onWarning)
    manager.stop()
    t.true(
      warnings.some(
        (w) => w === 'a breakwater listener threw: Error: no entropy today' || w === 'a breakwater recovery manager failed: Error: no entropy today',
      ),
      warnings.join('; '),
    )
    t.is(breaker.state, 'half_open', 'the manager went on and half-opened the breaker')
  })
})
