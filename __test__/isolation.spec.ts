import test from 'ava'
import { circuitBreaker, type StateChange } from '../src/index.ts'
import { rig } from './helpers.ts'
import { once } from 'node:events'
import { startWorker } from './worker.ts'

test('isolate() is counted: disposing one of two handles keeps the breaker forced open, the last closes it', (t) => {
  const { breakers, name } = rig()
  const b = breakers.getOrCreate(name)
  const changes: StateChange[] = []
  b.onStateChange((c) => changes.push(c))
  const first = b.isolate()
  const second = b.isolate()
  first.dispose()
  first.dispose() // twice is once
  t.is(b.state, 'forced_open')
  t.false(b.isCallPermitted())
  second.dispose()
  t.is(b.state, 'closed')
  t.deepEqual(
    changes.map(({ at: _, ...c }) => c),
    [
      { name, from: 'closed', to: 'forced_open', reason: 'manual' },
      { name, from: 'forced_open', to: 'closed', reason: 'manual' },
    ],
  )
})

test("an old isolate() handle does not end someone else's later forceOpen()", (t) => {
  const { breakers, name } = rig()
  const b = breakers.getOrCreate(name)
  const old = b.isolate()
  b.forceOpen()
  old.dispose()
  t.is(b.state, 'forced_open')
  b.reset()
  const again = b.isolate()
  old.dispose()
  t.is(b.state, 'forced_open', 'a disposed handle cannot end a later isolation either')
  again.dispose()
  t.is(b.state, 'closed')
})

test('a reset ends an isolation, and its handles then change nothing', (t) => {
  const { breakers, name } = rig()
  const b = breakers.getOrCreate(name)
  const a = b.isolate()
  const c = b.isolate()
  b.reset()
  const later = b.isolate()
  a.dispose()
  c.dispose()
  t.is(b.state, 'forced_open', 'the new isolation is held')
  later.dispose()
  t.is(b.state, 'closed')
})

test('an isolation of a breaker already forced open until reset leaves it forced open', (t) => {
  const { breakers, name } = rig()
  const b = breakers.getOrCreate(name)
  b.forceOpen()
  b.isolate().dispose()
  t.is(b.state, 'forced_open')
})

test('halfOpen() leaves an isolated breaker alone', (t) => {
  const { breakers, name } = rig()
  const b = breakers.getOrCreate(name)
  const maintenance = b.isolate()
  t.false(b.halfOpen())
  t.is(b.state, 'forced_open')
  maintenance.dispose()
  t.is(b.state, 'closed')
})

test('isolations held in a worker thread count, and a worker that ends releases its own', async (t) => {
  const name = `isolated-${process.pid}`
  const main = circuitBreaker(name)
  const mine = main.isolate()
  const { worker, result } = startWorker<string>(`
    const b = bw.circuitBreaker('${name}')
    const hold = b.isolate()
    parentPort.postMessage(b.state)
    parentPort.on('message', (m) => { if (m === 'dispose') { hold.dispose(); parentPort.postMessage(b.state) } })
  `)
  t.is(await result, 'forced_open')
  mine.dispose()
  t.is(main.state, 'forced_open', "the worker's handle is still held")
  const disposed = new Promise((resolve) => worker.once('message', resolve))
  worker.postMessage('dispose')
  t.is(await disposed, 'closed', "the worker's dispose was the last")
  await worker.terminate()

  const ended = startWorker<string>(`
    bw.circuitBreaker('${name}').isolate()
    parentPort.postMessage(bw.circuitBreaker('${name}').state)
  `)
  const exited = once(ended.worker, 'exit')
  t.is(await ended.result, 'forced_open')
  await exited // the worker ends without disposing: its isolation ends with it
  t.is(main.state, 'closed')
})
