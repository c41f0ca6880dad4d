// Every breaker handle of a thread calls the same native functions with its slot number: slots of
// collected handles are reused, and no handle ever reaches another's breaker.
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import test from 'ava'
import { fail, rig } from './helpers.ts'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

test('handles collected by the garbage collector free their slots, and every live handle still reaches its own breaker', async (t) => {
  const { breakers, name } = rig()
  const kept = breakers.getOrCreate(`${name}-kept`, { consecutiveFailures: 1 })
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 2000; i++) {
      const b = breakers.getOrCreate(`${name}-${i}`)
      t.true(b.isCallPermitted()) // takes its slot
    }
    gc()
    await new Promise((resolve) => setImmediate(resolve)) // finalizers may run after the collection
  }
  // New handles (slots reused) and the old one each count in their own breaker only.
  const fresh = Array.from({ length: 100 }, (_, i) => breakers.getOrCreate(`${name}-fresh-${i}`))
  for (const b of fresh) await b.execute(async () => 1)
  await kept.execute(fail).catch(() => undefined)
  t.is(kept.state, 'open')
  t.like(kept.metrics(), { calls: 1, failures: 1 })
  for (const b of fresh) t.like(b.metrics(), { state: 'closed', calls: 1, successes: 1 })
  t.false(kept.isCallPermitted())
  t.true(fresh.every((b) => b.isCallPermitted()))
})
