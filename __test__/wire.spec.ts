import { readFileSync } from 'node:fs'
import test from 'ava'
import { BrokenCircuitError, type StateChange, type StateName } from '../src/index.ts'
import {
  acquireMoved,
  acquireTransition,
  decodeTransition,
  permitOf,
  refusalRetryAfterMs,
  refusalState,
  refusalTransition,
  STATES,
  wordIsClosed,
  wordPermit,
} from '../src/wire.ts'
import { rig } from './helpers.ts'

type Move = [string, string, string] | null
interface Cases {
  transitions: [number, [string, string, string]][]
  permits: [number, number, Move][]
  refusals: [number, string, number | null, Move][]
}
/** Numbers the binding's packing made (written by `cargo test -p breakwater-node`), with what they pack. */
const cases = JSON.parse(readFileSync(new URL('fixtures/wire-cases.json', import.meta.url), 'utf8')) as Cases

const asMove = (code: number): Move => {
  if (code === 0) return null
  const { from, to, reason } = decodeTransition(code)
  return [from, to, reason]
}

test('every transition code the binding makes decodes to its from, to and reason', (t) => {
  t.is(cases.transitions.length, 5 * 5 * 15)
  for (const [code, move] of cases.transitions) t.deepEqual(asMove(code), move, `code ${code}`)
})

test('every permit shape the binding makes decodes to its permit and the transition it carries', (t) => {
  t.true(cases.permits.length > 350)
  for (const [code, permit, move] of cases.permits) {
    t.true(code >= 0)
    const moved = acquireMoved(code)
    t.is(moved, move !== null, `code ${code}`)
    t.is(moved ? permitOf(code) : code, permit, `code ${code}`)
    t.deepEqual(moved ? asMove(acquireTransition(code)) : null, move, `code ${code}`)
  }
})

test('every refusal the binding makes decodes to its state, retry-after and transition', (t) => {
  t.true(cases.refusals.length > 350)
  for (const [code, state, retryAfterMs, move] of cases.refusals) {
    t.true(code < 0 && Number.isSafeInteger(code))
    t.is(refusalState(code) as string, state, `code ${code}`)
    t.is(refusalRetryAfterMs(code), retryAfterMs ?? undefined, `code ${code}`)
    t.deepEqual(asMove(refusalTransition(code)), move, `code ${code}`)
  }
})

test('a closed state word gives a permit marked as taken on the word; any other state does not pass', (t) => {
  for (const [i, state] of STATES.entries()) {
    const word = (8191 << 11) | i
    t.is(wordIsClosed(word), state === 'closed', state)
  }
  t.is(wordPermit((8191 << 11) | (0xff << 3)), 2 ** 24 + (8191 << 11), 'probe counts are not permit bits')
  t.is(wordPermit(0xff00_0000 | (5 << 11)), 2 ** 24 + (5 << 11), 'deadline bits are not permit bits')
})

/**
 * The real binding, moved through every state and every reason a JavaScript caller can cause
 * (all but `remote`, the fleet's): each change as listeners get it (transition codes from the
 * inbox and from the calls that moved it), each refusal as callers get it (refusal codes), and
 * the metrics record's transition counts.
 */
test('the binding and the facade agree on every state and reason a caller can reach', async (t) => {
  const { clock, breakers, name } = rig()
  const changes: Omit<StateChange, 'at' | 'name'>[] = []
  const refusals: [StateName, number | undefined][] = []
  const track = (b: ReturnType<typeof breakers.getOrCreate>) => {
    b.onStateChange(({ at: _, name: __, ...c }) => changes.push(c))
    b.onReject((e) => refusals.push([e.state, e.retryAfterMs]))
    return b
  }
  const fail = async () => {
    throw new Error('down')
  }
  const ok = async () => 1
  // Call durations are real time (performance.now()), not the fake clock's: a call that takes 10 µs.
  const tenMicroseconds = () => {
    const end = performance.now() + 0.01
    while (performance.now() < end);
  }
  const failing = (b: { execute(fn: () => Promise<unknown>): Promise<unknown> }, n: number) =>
    Promise.all(Array.from({ length: n }, () => b.execute(fail).catch(() => undefined)))

  const b = track(breakers.getOrCreate(name, { consecutiveFailures: 2, openFor: '1s', halfOpenProbes: 1, halfOpenSuccesses: 1, maxProbeTime: '2s' }))
  await failing(b, 2) // closed -> open: consecutive_failures
  await t.throwsAsync(b.execute(ok), { instanceOf: BrokenCircuitError }) // open, 1000 ms to wait
  clock.advance('1s')
  await b.execute(ok) // open -> half_open: open_elapsed (acquire carries it); -> closed: probes_succeeded
  await failing(b, 2)
  clock.advance('1s')
  let report!: () => void
  const probe = b.execute(() => new Promise<void>((resolve) => (report = resolve))) // a probe that reports late
  t.throws(() => b.executeSync(() => 1), { instanceOf: BrokenCircuitError }) // half-open, every probe slot taken
  clock.advance('2s')
  t.throws(() => b.executeSync(() => 1)) // the probe expired: half_open -> open: probe_timed_out, in a refusal
  report()
  await probe // too late: counted as stale
  clock.advance('1h')
  await b.execute(fail).catch(() => undefined) // open -> half_open, then half_open -> open: probe_failed
  t.true(b.halfOpen()) // open -> half_open: health_check
  b.forceOpen() // half_open -> forced_open: manual
  t.throws(() => b.executeSync(() => 1)) // forced open, no deadline
  b.reset() // forced_open -> closed: manual
  b.forceOpen('5s') // closed -> forced_open: manual
  clock.advance('5s')
  b.executeSync(() => 1) // forced_open -> half_open: forced_open_elapsed; -> closed
  t.true(b.holdOff('3s')) // closed -> forced_open: retry_after
  b.disable() // forced_open -> disabled: manual
  b.executeSync(() => 1)
  const isolation = b.isolate() // disabled -> forced_open: manual
  isolation.dispose() // forced_open -> closed: manual

  const rate = track(
    breakers.getOrCreate(`${name}-rate`, {
      consecutiveFailures: false,
      failureRate: 50,
      minimumCalls: 4,
      windowSize: 4,
      halfOpenProbes: 1,
      halfOpenSuccesses: 1,
    }),
  )
  await Promise.all([rate.execute(ok), rate.execute(ok), failing(rate, 2)]) // failure_rate
  const count = track(breakers.getOrCreate(`${name}-count`, { consecutiveFailures: false, failureRate: false, failuresInWindow: 3 }))
  for (let i = 0; i < 3; i++) await Promise.all([count.execute(ok), failing(count, 1)]) // failures_in_window
  const slow = track(
    breakers.getOrCreate(`${name}-slow`, {
      consecutiveFailures: false,
      slowCallRate: 50,
      slowCallDuration: 0.001,
      minimumCalls: 2,
      windowSize: 2,
      halfOpenProbes: 1,
      halfOpenSuccesses: 1,
    }),
  )
  for (let i = 0; i < 2; i++) slow.executeSync(tenMicroseconds) // slow_call_rate: slow from 1 µs
  const latency = track(breakers.getOrCreate(`${name}-latency`, { consecutiveFailures: false, latency: { threshold: 0.001 }, minimumCalls: 2 }))
  for (let i = 0; i < 2; i++) latency.executeSync(tenMicroseconds) // latency_percentile: over 1 µs

  t.deepEqual(changes, [
    { from: 'closed', to: 'open', reason: 'consecutive_failures', retryAfterMs: 1000 },
    { from: 'open', to: 'half_open', reason: 'open_elapsed' },
    { from: 'half_open', to: 'closed', reason: 'probes_succeeded' },
    { from: 'closed', to: 'open', reason: 'consecutive_failures', retryAfterMs: 1000 }, // a full recovery reset the backoff
    { from: 'open', to: 'half_open', reason: 'open_elapsed' },
    { from: 'half_open', to: 'open', reason: 'probe_timed_out', retryAfterMs: 2000 },
    { from: 'open', to: 'half_open', reason: 'open_elapsed' },
    { from: 'half_open', to: 'open', reason: 'probe_failed', retryAfterMs: 4000 },
    { from: 'open', to: 'half_open', reason: 'health_check' },
    { from: 'half_open', to: 'forced_open', reason: 'manual' },
    { from: 'forced_open', to: 'closed', reason: 'manual' },
    { from: 'closed', to: 'forced_open', reason: 'manual', retryAfterMs: 5000 },
    { from: 'forced_open', to: 'half_open', reason: 'forced_open_elapsed' },
    { from: 'half_open', to: 'closed', reason: 'probes_succeeded' },
    { from: 'closed', to: 'forced_open', reason: 'retry_after', retryAfterMs: 3000 },
    { from: 'forced_open', to: 'disabled', reason: 'manual' },
    { from: 'disabled', to: 'forced_open', reason: 'manual' },
    { from: 'forced_open', to: 'closed', reason: 'manual' },
    { from: 'closed', to: 'open', reason: 'failure_rate', retryAfterMs: 30_000 },
    { from: 'closed', to: 'open', reason: 'failures_in_window', retryAfterMs: 30_000 },
    { from: 'closed', to: 'open', reason: 'slow_call_rate', retryAfterMs: 30_000 },
    { from: 'closed', to: 'open', reason: 'latency_percentile', retryAfterMs: 30_000 },
  ])
  t.deepEqual(refusals, [
    ['open', 1000],
    ['half_open', 1000],
    ['open', 2000],
    ['forced_open', undefined],
  ])
  const reached = new Set(changes.flatMap((c) => [c.from, c.to]))
  t.deepEqual([...reached].sort(), [...STATES].sort(), 'every state reached')
  t.deepEqual(
    b.metrics().transitions.map(({ from, to, count }) => `${from}->${to} ${count}`),
    [
      'closed->open 2',
      'closed->forced_open 2',
      'open->half_open 4',
      'half_open->closed 2',
      'half_open->open 2',
      'half_open->forced_open 1',
      'forced_open->closed 2',
      'forced_open->half_open 1',
      'forced_open->disabled 1',
      'disabled->forced_open 1',
    ],
  )
})
