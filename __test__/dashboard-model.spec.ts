// What the dashboard page knows of each breaker (src/ops/dashboard/client/model.ts, no DOM): reads
// and heard transitions merged in the right order, rates from two reads, removals, the timeline.
import test from 'ava'
import type { BreakerView } from '../src/ops/http.ts'
import { Model, NOT_HEARD, SAMPLES } from '../src/ops/dashboard/client/model.ts'

const T0 = Date.parse('2026-01-01T00:00:00.000Z')

function view(name: string, state: BreakerView['state'], calls = 0, failures = 0, sinceMs = T0): BreakerView {
  return {
    name,
    state,
    since: new Date(sinceMs).toISOString(),
    retryAfterMs: null,
    calls,
    successes: calls - failures,
    failures,
    timeouts: 0,
    ignored: 0,
    rejections: 0,
    inFlight: 0,
    failureRate: calls === 0 ? 0 : (100 * failures) / calls,
    slowCallRate: 0,
    latency: null,
  }
}

const event = (name: string, from: BreakerView['state'], to: BreakerView['state'], at: number, reason = 'manual') => ({
  name,
  from,
  to,
  reason,
  at,
  retryAfterMs: null,
})

test('calls/s and failures/s come from two reads and the time between them; the sparkline keeps the last five minutes', (t) => {
  const model = new Model()
  model.applyPoll([view('orders', 'closed', 100, 10)], 0, 0, T0)
  const orders = model.entries.get('orders')!
  t.is(orders.callsPerSecond, null, 'one read: no rate yet')
  model.applyPoll([view('orders', 'closed', 300, 50)], 1000, 2000, T0 + 2000)
  t.is(orders.callsPerSecond, 100)
  t.deepEqual(orders.samples, [[(T0 + 2000) / 1000], [100], [20]])
  for (let i = 0; i < SAMPLES + 10; i++) model.applyPoll([view('orders', 'closed', 300 + i, 50)], 0, 3000 + i * 1000, T0 + 3000 + i * 1000)
  t.is(orders.samples[0].length, SAMPLES)
  t.is(orders.samples[1].at(-1), 1)
})

test('a read asked for before a transition was heard does not undo it; one asked for after it applies', (t) => {
  const model = new Model()
  model.applyPoll([view('orders', 'closed')], 0, 10, T0)
  model.applyEvent(event('orders', 'closed', 'forced_open', T0 + 100), 50)
  model.applyPoll([view('orders', 'closed')], 40, 60, T0 + 120) // asked at 40, before the event (50)
  const orders = model.entries.get('orders')!
  t.is(orders.state, 'forced_open')
  t.is(orders.since, T0 + 100)
  model.applyPoll([view('orders', 'forced_open', 0, 0, T0 + 100)], 70, 80, T0 + 200)
  t.is(orders.state, 'forced_open')
  t.deepEqual(
    orders.timeline.map((e) => [e.from, e.to, e.reason]),
    [['closed', 'forced_open', 'manual']],
    'one transition, heard',
  )
})

test('a transition only a read saw is in the timeline as not heard live, and the event that comes after replaces it', (t) => {
  const model = new Model()
  model.applyPoll([view('orders', 'closed')], 0, 0, T0)
  model.applyPoll([view('orders', 'open', 5, 5, T0 + 500)], 900, 1000, T0 + 1000)
  const orders = model.entries.get('orders')!
  t.deepEqual(orders.timeline, [{ at: T0 + 500, from: 'closed', to: 'open', reason: NOT_HEARD, read: true }])
  model.applyEvent(event('orders', 'closed', 'open', T0 + 500, 'consecutive_failures'), 1100)
  t.deepEqual(orders.timeline, [{ at: T0 + 500, from: 'closed', to: 'open', reason: 'consecutive_failures' }])
})

test('a breaker missing from a read is removed, unless it was heard of after the read was asked for', (t) => {
  const model = new Model()
  model.applyPoll([view('orders', 'closed'), view('quotes', 'closed')], 0, 0, T0)
  model.applyEvent(event('fresh', 'closed', 'open', T0 + 10), 20) // made after the next read was asked for
  const changed = model.applyPoll([view('orders', 'closed')], 15, 30, T0 + 1000)
  t.deepEqual(changed.sort(), ['orders', 'quotes'])
  t.is(model.entries.get('quotes')!.state, 'removed')
  t.is(model.entries.get('fresh')!.state, 'open')
  model.applyPoll([view('orders', 'closed')], 40, 50, T0 + 2000)
  t.is(model.entries.get('fresh')!.state, 'removed', 'a later read without it: removed')
})

test('the timeline keeps the eight newest transitions, newest first', (t) => {
  const model = new Model()
  for (let i = 0; i < 12; i++) model.applyEvent(event('orders', i % 2 ? 'forced_open' : 'closed', i % 2 ? 'closed' : 'forced_open', T0 + i), i)
  const { timeline } = model.entries.get('orders')!
  t.is(timeline.length, 8)
  t.deepEqual(
    timeline.map((e) => e.at - T0),
    [11, 10, 9, 8, 7, 6, 5, 4],
  )
})
