import test from 'ava'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Registry, type RegistrySnapshot } from '../src/index.ts'
import { FakeClock } from '../src/testing.ts'
import { withFakeTimers } from './timers.ts'

const fail = async () => {
  throw new Error('down')
}

function tripped() {
  const clock = new FakeClock()
  const breakers = new Registry({ clock })
  const orders = breakers.getOrCreate('orders', { consecutiveFailures: 1, openFor: '30s' })
  const quotes = breakers.getOrCreate('quotes', { consecutiveFailures: 5, failureRate: false })
  return { clock, breakers, orders, quotes }
}

test.serial(
  'registry.snapshot() is versioned, JSON-serialisable and keeps state, open-until as wall time, backoff, generation, counters and window',
  async (t) => {
    await withFakeTimers(async (timers) => {
      const { clock, breakers, orders, quotes } = tripped()
      await orders.execute(fail).catch(() => {})
      await quotes.execute(fail).catch(() => {})
      await quotes.execute(async () => 1)
      clock.advance('10s')
      timers.tick(10_000)
      const snapshot = breakers.snapshot()
      t.deepEqual(JSON.parse(JSON.stringify(snapshot)), snapshot, 'a JSON round trip changes nothing')
      t.is(snapshot.version, 1)
      t.is(snapshot.takenAt, Date.now())
      const [o, q] = snapshot.breakers
      t.like(o, { name: 'orders', state: 'open', openUntil: Date.now() + 20_000, backoffAttempt: 1, consecutiveFailures: 1 })
      t.is(o!.generation, 1)
      t.like(o!.counters, { calls: 1, failures: 1, timesOpened: 1 })
      t.like(q, { name: 'quotes', state: 'closed', openUntil: null, consecutiveFailures: 0, window: { calls: 2, failures: 1, slowCalls: 0, overLatency: 0 } })
      t.deepEqual(JSON.parse(JSON.stringify(orders)), o, 'breaker.toJSON() is its record')
    })
  },
)

test.serial('restore: an open breaker stays open for the rest of its time, a closed one gets its window and failures in a row back', async (t) => {
  await withFakeTimers(async (timers) => {
    const old = tripped()
    await old.orders.execute(fail).catch(() => {})
    for (let i = 0; i < 3; i++) await old.quotes.execute(fail).catch(() => {})
    old.clock.advance('10s')
    timers.tick(10_000)
    const snapshot = JSON.parse(JSON.stringify(old.breakers.snapshot())) as RegistrySnapshot
    timers.tick(5_000) // the restart took 5 s
    const fresh = tripped()
    t.deepEqual(fresh.breakers.restore(snapshot), { restored: ['orders', 'quotes'], unknown: [] })
    t.is(fresh.orders.state, 'open')
    const refused = (await fresh.orders.execute(async () => 1).catch((e: unknown) => e)) as { retryAfterMs: number }
    t.is(refused.retryAfterMs, 15_000, '30 s open, 10 s before the snapshot, 5 s of restart')
    t.like(fresh.quotes.metrics(), { consecutiveFailures: 3, window: { calls: 3, failures: 3 }, calls: 0 })
    await fresh.quotes.execute(fail).catch(() => {})
    await fresh.quotes.execute(fail).catch(() => {})
    t.is(fresh.quotes.state, 'open', '3 in a row before the restart + 2 after')
    fresh.clock.advance('15s')
    await fresh.orders.execute(fail).catch(() => {}) // the probe fails: open for the second attempt of the backoff
    const again = (await fresh.orders.execute(async () => 1).catch((e: unknown) => e)) as { retryAfterMs: number }
    t.is(again.retryAfterMs, 60_000, 'the backoff attempt survived the restart: 30 s x 2')
  })
})

test('restore refuses a snapshot that is too old, of an unknown version or malformed, whole, before applying anything', async (t) => {
  const old = tripped()
  await old.orders.execute(fail).catch(() => {})
  const good = old.breakers.snapshot()
  const fresh = tripped()
  const refused = (snapshot: unknown, options?: unknown) =>
    t.throws(() => fresh.breakers.restore(snapshot as RegistrySnapshot, options as never), { code: 'ERR_BREAKWATER_INVALID_OPTION' })
  t.regex(
    refused({ ...good, takenAt: Date.now() - 3_600_000 })!.message,
    /snapshot\.takenAt must be within maxAge \(300000 ms\) of now, but the snapshot is 36\d{5} ms old/,
  )
  t.regex(refused({ ...good, takenAt: Date.now() - 20_000 }, { maxAge: '10s' })!.message, /within maxAge \(10000 ms\)/)
  t.regex(refused({ ...good, version: 2 })!.message, /snapshot\.version must be 1 \(the version this build reads\), but was 2/)
  t.true(refused(null) instanceof TypeError)
  t.true(refused('{}') instanceof TypeError)
  t.regex(refused({ ...good, extra: 1 })!.message, /extra/)
  const [orders, quotes] = good.breakers
  const bad = (record: object) => ({ ...good, breakers: [orders, { ...quotes, ...record }] })
  t.regex(
    refused(bad({ state: 'opne' }))!.message,
    /snapshot\.breakers\[1\]\.state must be one of closed, open, half_open, forced_open, disabled, but was "opne"/,
  )
  t.regex(refused(bad({ backoffAttempt: -1 }))!.message, /snapshot\.breakers\[1\]\.backoffAttempt must be a whole number/)
  t.regex(
    refused(bad({ window: { calls: 1, failures: 2, slowCalls: 0, overLatency: 0 } }))!.message,
    /window\.failures must be at most window\.calls \(1\), but was 2/,
  )
  t.regex(refused(bad({ openUntil: Date.now() }))!.message, /openUntil must be null unless the state is open/)
  t.regex(refused({ ...good, breakers: [orders, orders] })!.message, /must be unique/)
  t.regex(refused(good, { maxAge: -1 })!.message, /maxAge/)
  t.regex(refused(good, { maxAgee: 1 })!.message, /maxAgee/)
  t.is(fresh.orders.state, 'closed', 'the valid first record of each refused snapshot was not applied')
})

test('breakers the registry does not have are skipped and listed; options never come from the snapshot', async (t) => {
  const old = tripped()
  old.breakers.getOrCreate('legacy').forceOpen()
  const fresh = new Registry({ clock: new FakeClock() })
  const orders = fresh.getOrCreate('orders', { consecutiveFailures: 9 })
  t.deepEqual(fresh.restore(old.breakers.snapshot()), { restored: ['orders'], unknown: ['legacy', 'quotes'] })
  t.deepEqual(fresh.names(), ['orders'], 'no breaker is created by restore')
  t.is(orders.options().consecutiveFailures, 9)
})

test('across a real process restart: one process writes its snapshot, a new one restores it', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'breakwater-snapshot-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'breakers.json')
  const child = fileURLToPath(new URL('./fixtures/snapshot-child.ts', import.meta.url))
  const run = (mode: string) => spawnSync(process.execPath, ['--import=tsx', child, mode, file], { encoding: 'utf8', timeout: 60_000 })
  const writer = run('write')
  t.is(writer.status, 0, writer.stderr)
  const written = JSON.parse(readFileSync(file, 'utf8')) as RegistrySnapshot
  t.deepEqual(
    written.breakers.map((b) => [b.name, b.state]),
    [
      ['gone', 'forced_open'],
      ['orders', 'open'],
      ['quotes', 'closed'],
    ],
  )
  const reader = run('restore')
  t.is(reader.status, 0, reader.stderr)
  const seen = JSON.parse(reader.stdout) as {
    result: { restored: string[]; unknown: string[] }
    orders: { state: string; retryAfterMs: number; record: { backoffAttempt: number; openUntil: number } }
    quotes: { consecutiveFailures: number; window: number; afterFour: string }
  }
  t.deepEqual(seen.result, { restored: ['orders', 'quotes'], unknown: ['gone'] })
  t.is(seen.orders.state, 'open')
  t.true(seen.orders.retryAfterMs > 3_500_000 && seen.orders.retryAfterMs <= 3_600_000, `${seen.orders.retryAfterMs}`)
  t.is(seen.orders.record.backoffAttempt, 1)
  const drift = Math.abs(seen.orders.record.openUntil - written.breakers[1]!.openUntil!)
  t.true(drift <= 20, `the same wall-clock deadline, to the rounding of two clocks in two processes (${drift} ms)`)
  t.like(seen.quotes, { consecutiveFailures: 1, window: 5, afterFour: 'open' })
})
