import test from 'ava'
import type { Worker } from 'node:worker_threads'
import * as bw from '../src/index.ts'
import { Chaos, random, type Round, type Tally } from './fixtures/bulkhead-stress.ts'
import { turn, until } from './timers.ts'
import { startWorker } from './worker.ts'

/** How long the run lasts: a few seconds in `npm test`; set BREAKWATER_STRESS_SECONDS for more. */
const SECONDS = Number(process.env.BREAKWATER_STRESS_SECONDS ?? 3)
/** The seed of every random choice (thread timing still differs between runs). */
const SEED = Number(process.env.BREAKWATER_STRESS_SEED ?? Math.floor(Math.random() * 2 ** 31))
/** Worker threads taking part at once; each terminated or departed one is replaced. */
const POOL = 3
const fixture = new URL('./fixtures/bulkhead-stress.ts', import.meta.url).href

type Message = { type: 'ready' } | { type: 'idle'; calls: Partial<Tally> | undefined }

/** A worker thread running the fixture's `serve`. */
class Side {
  gone = false
  readonly errors: unknown[] = []
  readonly exited: Promise<number>
  readonly #idle: Array<(calls: Partial<Tally> | undefined) => void> = []

  private constructor(readonly worker: Worker) {
    worker.on('error', (e) => this.errors.push(e))
    worker.on('message', (m: Message) => {
      if (m.type === 'idle') this.#idle.shift()?.(m.calls)
    })
    this.exited = new Promise((resolve) => worker.once('exit', resolve))
  }

  static async start(): Promise<Side> {
    const { worker, result } = startWorker<Message>(`const { serve } = await import('${fixture}'); serve(bw, parentPort)`)
    const side = new Side(worker)
    await result
    return side
  }

  /** Resolves with the tally the worker sends once every call of its round has settled. */
  stop(): Promise<Partial<Tally> | undefined> {
    const idle = new Promise<Partial<Tally> | undefined>((resolve) => this.#idle.push(resolve))
    this.worker.postMessage({ type: 'stop' })
    return idle
  }
}

/** Waits for `promise`, bounded in event-loop turns: a permit that never comes fails, not hangs. */
async function settled<T>(promise: Promise<T>, what: string): Promise<T> {
  let done = false
  const mark = () => void (done = true)
  promise.then(mark, mark)
  await until(() => done, 2_000_000).catch(() => {
    throw new Error(`${what} never settled`)
  })
  return promise
}

test('every bulkhead permit comes back while worker threads that hold, queue, release and abort are terminated at random', async (t) => {
  t.timeout((SECONDS + 120) * 1000)
  t.log(`seed ${SEED}: BREAKWATER_STRESS_SEED=${SEED} replays the choices, BREAKWATER_STRESS_SECONDS=${SECONDS} sets the length`)
  const rand = random(SEED)
  let unhandled = 0
  const onUnhandled = () => unhandled++
  process.on('unhandledRejection', onUnhandled)
  const totals = { rounds: 0, terminations: 0, sameTick: 0, departures: 0, calls: 0, ran: 0, refused: 0, aborted: 0 }
  const unexpected: string[] = []
  const sides: Side[] = []
  let pool = await Promise.all(Array.from({ length: POOL }, () => Side.start()))
  sides.push(...pool)
  const joining: Promise<void>[] = [] // replacements starting
  const replace = () => {
    const joined = Side.start().then(
      (side) => void (sides.push(side), pool.push(side)),
      (e: unknown) => void unexpected.push(`a worker did not start: ${String(e)}`),
    )
    joining.push(joined)
  }
  const add = (tally: Partial<Tally> | undefined) => {
    totals.calls += tally?.calls ?? 0
    totals.ran += tally?.ran ?? 0
    totals.refused += tally?.refused ?? 0
    totals.aborted += tally?.aborted ?? 0
    unexpected.push(...(tally?.unexpected ?? []))
  }
  const deadline = performance.now() + SECONDS * 1000
  try {
    while (performance.now() < deadline && unexpected.length === 0) {
      if (pool.length < 2) await settled(Promise.all(joining.splice(0)), 'replacement workers') // a round has threads to end
      const round = totals.rounds++
      const limits = { name: `stress-${process.pid}-${round}`, maxConcurrent: 1 + rand(3), maxQueue: rand(7) }
      const main = new Chaos(bw, { ...limits, seed: rand(2 ** 31) })
      const taking = pool.slice()
      for (const side of taking) side.worker.postMessage({ type: 'round', round: { ...limits, seed: rand(2 ** 31) } satisfies Round })
      const ending: Promise<unknown>[] = []
      for (let tick = 20 + rand(200); tick > 0; tick--) {
        main.step()
        const live = taking.filter((s) => !s.gone)
        const first = totals.terminations === 0 && tick === 1 // at least one, however short the run
        if (live.length > 0 && pool.length > 1 && (first || rand(1000) < 5)) {
          const victim = live[rand(live.length)]!
          victim.gone = true
          pool = pool.filter((s) => s !== victim)
          if (first || rand(5) > 0) {
            ending.push(victim.worker.terminate())
            totals.terminations++
            if (rand(2) === 0) {
              main.releaseAll() // in the same tick, as the review's reproduction does
              totals.sameTick++
            }
          } else {
            victim.worker.postMessage({ type: 'leave' }) // ends on its own, holding its permits
            ending.push(victim.exited)
            totals.departures++
          }
          replace()
        }
        await turn()
      }
      const idle = taking.filter((s) => !s.gone).map((s) => s.stop())
      add(await settled(main.stop(), `round ${round}: the main thread's calls`))
      for (const tally of await settled(Promise.all(idle), `round ${round}: the workers' calls`)) add(tally)
      await settled(Promise.all(ending), `round ${round}: the ended workers`)
      const b = bw.bulkhead(limits.name, { maxConcurrent: limits.maxConcurrent, maxQueue: limits.maxQueue })
      await until(() => b.stats().inUse === 0 && b.stats().queued === 0, 2_000_000).catch(() => {
        unexpected.push(`round ${round}: ${JSON.stringify(b.stats())} after every call settled`)
      })
      let ran = false
      const fresh = b.execute(() => void (ran = true))
      if (!ran) unexpected.push(`round ${round}: a fresh call waited (${JSON.stringify(b.stats())})`)
      await settled(fresh, `round ${round}: a fresh call`)
    }
  } finally {
    process.off('unhandledRejection', onUnhandled)
    await Promise.all(joining) // never rejects: a worker that fails to start is recorded
    await Promise.all(sides.map((s) => s.worker.terminate()))
  }
  const line = `${totals.rounds} rounds, ${totals.terminations} terminations (${totals.sameTick} with a release in the same tick), ${totals.departures} threads ended holding permits, ${totals.calls} calls (${totals.ran} ran, ${totals.refused} refused, ${totals.aborted} aborted; calls of terminated threads not counted)`
  t.log(line)
  if (process.env.BREAKWATER_STRESS_SECONDS) console.log(`bulkhead stress, seed ${SEED}: ${line}`)
  t.deepEqual(unexpected, [])
  t.deepEqual(
    sides.flatMap((s) => s.errors.map(String)),
    [],
    'no worker failed',
  )
  t.is(unhandled, 0, 'no unhandled rejection')
  t.true(totals.terminations > 0 && totals.rounds > 1)
})
