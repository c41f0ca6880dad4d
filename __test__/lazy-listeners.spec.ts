// A handle keeps no listeners of its own: its breaker's listeners in this thread are made at the
// first subscription and shared by every handle of the breaker. Calls through any handle, on the
// lean path (no native call) or not, must reach listeners added through any other.
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import test from 'ava'
import { fail, rig } from './helpers.ts'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
const ok = async () => 42

test('listeners added through one handle hear calls made through another handle made before them', async (t) => {
  const { breakers, name } = rig()
  const a = breakers.getOrCreate(name)
  const b = breakers.get(name)!
  for (let i = 0; i < 3; i++) await b.execute(ok) // lean calls, before anyone listens
  b.executeSync(() => 1)
  const heard: string[] = []
  const stops = [a.onSuccess(() => heard.push('success')), a.onFailure(() => heard.push('failure')), a.onReject(() => heard.push('reject'))]
  await b.execute(ok)
  b.executeSync(() => 1)
  await b.execute(fail).catch(() => undefined)
  b.forceOpen()
  await b.execute(ok).catch(() => undefined)
  t.deepEqual(heard, ['success', 'success', 'failure', 'reject'])
  for (const stop of stops) stop()
  b.reset()
  await b.execute(ok)
  b.executeSync(() => 1)
  t.deepEqual(heard, ['success', 'success', 'failure', 'reject'], 'nothing heard once every listener is gone')
  t.like(b.metrics(), { successes: 8, failures: 1, rejections: 1 })
})

test('a success listener added while a lean call runs hears that call, through this handle or another', async (t) => {
  const { breakers, name } = rig()
  const a = breakers.getOrCreate(name)
  const b = breakers.get(name)!
  await a.execute(ok) // views made: the next calls are lean
  const heard: number[] = []
  a.executeSync(() => b.onSuccess(({ durationMs }) => heard.push(durationMs)))
  t.deepEqual(heard, [0])
  let release!: () => void
  const running = a.execute(() => new Promise<number>((resolve) => (release = () => resolve(1))))
  const stop = b.onFailure(() => heard.push(-1)) // a change of listeners while the call runs
  release()
  await running // timed: a listener was there when it started
  t.is(heard.length, 2)
  t.true(heard[1]! >= 0)
  stop()
})

test('a result filter on one handle does not make another handle of the breaker judge results', async (t) => {
  const { breakers, name } = rig()
  const judging = breakers.getOrCreate<number>(name, { isResultFailure: (n) => n < 0 })
  const plain = breakers.get<number>(name)!
  await judging.execute(async () => -1)
  await plain.execute(async () => -1)
  t.like(plain.metrics(), { failures: 1, successes: 1 })
})

test('a removed breaker keeps the listeners its handles added, and its handles still reach them', async (t) => {
  const { breakers, name } = rig()
  const a = breakers.getOrCreate(name)
  const b = breakers.get(name)!
  const heard: string[] = []
  a.onSuccess(() => heard.push('a'))
  t.true(breakers.remove(name))
  await b.execute(ok)
  b.onFailure(() => heard.push('b'))
  await a.execute(fail).catch(() => undefined)
  t.deepEqual(heard, ['a', 'b'])
  const fresh = breakers.getOrCreate(name) // a new breaker of the same name: none of the old listeners
  await fresh.execute(ok)
  t.deepEqual(heard, ['a', 'b'])
})

test('10,000 handles never listened to hold under 400 bytes of JavaScript heap each', (t) => {
  const { breakers, name } = rig()
  gc()
  const before = process.memoryUsage().heapUsed
  const names = Array.from({ length: 10_000 }, (_, i) => `${name}-${i}`) // names are the caller's, not counted
  gc()
  const start = process.memoryUsage().heapUsed
  const kept = names.map((n) => breakers.getOrCreate(n))
  gc()
  const perHandle = (process.memoryUsage().heapUsed - start) / kept.length
  t.true(perHandle < 400, `${perHandle.toFixed(0)} B per handle (heap before the names: ${before})`)
  t.is(kept.length, 10_000)
})
