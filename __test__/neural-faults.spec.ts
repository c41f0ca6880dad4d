// Fault injection for the neural adapter, against a real onnxruntime session (the tiny model).
// Many concurrent predictions run through a runner that, at random, throws synchronously, rejects,
// hangs for good, answers (or fails) only after its caller gave up, or is fed NaN so the real model
// returns NaN; callers abort at random; one model has a fallback, one has none. Checked: no
// unhandled rejection, every call ends exactly once within its timeout, every answer is the right
// one for its own input, and the breakers' counts match what the callers saw.
// Timers are fake: the test moves time itself. A few seconds of real time by default;
// BREAKWATER_FAULT_SECONDS=60 runs longer, BREAKWATER_FAULT_SEED=n replays a run.
import test from 'ava'
import * as ort from 'onnxruntime-node'
import { type BreakerOptions, isBrokenCircuitError, isNonFiniteOutputError, isTimeoutError, neural, Registry } from '../src/index.ts'
import { BIAS, tinyModel, WEIGHTS } from './fixtures/tiny-model.ts'
import { withFakeTimers } from './timers.ts'

const SECONDS = Number(process.env.BREAKWATER_FAULT_SECONDS ?? 2)
const SEED = Number(process.env.BREAKWATER_FAULT_SEED ?? Date.now() % 100_000)
const USERS = 8
const TIMEOUT_MS = 50

let seed = SEED
const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31
const chance = (p: number) => random() < p
const turn = () => new Promise<void>((resolve) => setImmediate(resolve))
/** Real time (the fake timers do not move it). */
const realNow = () => Number(process.hrtime.bigint() / 1_000_000n)

type Feeds = { features: ort.Tensor }
type Outputs = ort.InferenceSession.OnnxValueMapType
type Seen = 'success' | 'failure' | 'timeout' | 'ignored' | 'rejected'

class InjectedError extends Error {
  override name = 'InjectedError'
}

test.serial(
  'a real model whose runner throws, hangs, answers late or returns NaN at random, under concurrent calls and aborts: every call ends once within its timeout with its own answer, counts add up',
  async (t) => {
    t.timeout((4 * SECONDS + 60) * 1000)
    const session = await ort.InferenceSession.create(tinyModel(), { executionProviders: ['cpu'] })
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown) => unhandled.push(reason)
    process.on('unhandledRejection', onUnhandled)

    /** Runs the runner held back, to settle after their callers gave up. */
    const held: Array<{ feeds: Feeds; resolve: (o: Outputs) => void; reject: (e: unknown) => void }> = []
    const settleHeld = async (count: number) => {
      for (const run of held.splice(0, count)) {
        if (chance(0.5)) run.reject(new InjectedError('late failure'))
        else run.resolve(await session.run(run.feeds))
      }
    }
    const faulty = {
      run(feeds: Feeds): Promise<Outputs> {
        const r = random()
        if (r < 0.08) throw new InjectedError('thrown synchronously')
        if (r < 0.16)
          return (async () => {
            await turn()
            throw new InjectedError('rejected')
          })()
        if (r < 0.22) return new Promise<Outputs>(() => undefined) // hangs for good
        if (r < 0.3) return new Promise<Outputs>((resolve, reject) => held.push({ feeds, resolve, reject }))
        return session.run(feeds)
      },
    }

    const registry = new Registry()
    const breaker: BreakerOptions = { consecutiveFailures: 6, failureRate: false, openFor: '20ms', openMultiplier: 1 }
    const seen = {
      plain: { success: 0, failure: 0, timeout: 0, ignored: 0, rejected: 0 } as Record<Seen, number>,
      fallback: { success: 0, failure: 0, timeout: 0, ignored: 0, rejected: 0 } as Record<Seen, number>,
    }
    const FALLBACK = { prediction: new ort.Tensor('float32', [0], [1, 1]) }
    const aborted = new Error('caller aborted')
    const classify = (error: unknown): Exclude<Seen, 'success'> | undefined => {
      if (isBrokenCircuitError(error)) return 'rejected'
      if (isTimeoutError(error)) return 'timeout'
      if (error === aborted) return 'ignored'
      if (error instanceof InjectedError || isNonFiniteOutputError(error)) return 'failure'
      return undefined
    }
    const problems: string[] = []
    const models = {
      plain: neural(`faults-plain-${SEED}`, faulty, { registry, timeout: TIMEOUT_MS, breaker }),
      fallback: neural(`faults-fallback-${SEED}`, faulty, {
        registry,
        timeout: TIMEOUT_MS,
        breaker,
        fallback: (error: unknown) => {
          const kind = classify(error)
          if (kind === undefined || kind === 'ignored') problems.push(`the fallback was given ${String(error)}`)
          else seen.fallback[kind]++
          return FALLBACK
        },
      }),
    }

    let calls = 0
    let pending = 0
    const enough = () => seen.plain.success >= 20 && seen.plain.timeout >= 5 && seen.plain.failure >= 5 && seen.fallback.timeout >= 5
    /** One prediction: checks it ends once, within its timeout, with its own answer. */
    const predict = async (which: keyof typeof models) => {
      const values = [random() * 10, random() * 10, random() * 10]
      if (chance(0.08)) values[Math.floor(random() * 3)] = Number.NaN
      const controller = chance(0.1) ? new AbortController() : undefined
      if (controller) {
        const turns = Math.floor(random() * 20)
        ;(async () => {
          for (let i = turns; i > 0; i--) await turn()
          controller.abort(aborted)
        })().catch((e: unknown) => problems.push(`abort helper: ${String(e)}`))
      }
      calls++
      pending++
      const started = performance.now() // fake: moves only with the fake timers
      let outcomes = 0
      const ended = () => {
        if (++outcomes > 1) problems.push('a call ended twice')
        pending--
        const took = performance.now() - started
        if (took > TIMEOUT_MS + 1) problems.push(`a call took ${took} ms of fake time, timeout ${TIMEOUT_MS} ms`)
      }
      try {
        const outputs = await models[which].predict({ features: new ort.Tensor('float32', values, [1, 3]) }, controller && { signal: controller.signal })
        ended()
        if (outputs === FALLBACK) return // counted by the fallback
        const got = (outputs.prediction!.data as Float32Array)[0]!
        const want = values.reduce((sum, v, i) => sum + v * WEIGHTS[i]!, BIAS)
        if (Math.abs(got - want) > 1e-3) problems.push(`a call got ${got} for ${values.join(',')}, expected ${want}`)
        seen[which].success++
      } catch (error) {
        ended()
        const kind = classify(error)
        if (kind === undefined) problems.push(`a call rejected with ${String(error)}`)
        else if (which === 'fallback' && kind !== 'ignored') problems.push(`the fallback model rejected with ${String(error)}`)
        else seen[which][kind]++
      }
    }

    await withFakeTimers(async (timers) => {
      // A loaded machine may see little in a few seconds: go on (up to four times as long) until the
      // run has seen enough to mean something.
      const deadline = realNow() + SECONDS * 1000
      const hardDeadline = realNow() + 4 * SECONDS * 1000
      const user = async () => {
        while (realNow() < deadline || (!enough() && realNow() < hardDeadline)) {
          await turn()
          const which = chance(0.5) ? 'plain' : 'fallback'
          if (chance(0.1)) await Promise.all(Array.from({ length: 5 }, () => predict(which)))
          else await predict(which)
          if (chance(0.05)) await settleHeld(Math.floor(random() * 3))
        }
      }
      const users = Promise.all(Array.from({ length: USERS }, user))
      let running = true
      const stop = () => (running = false)
      users.then(stop, stop) // its rejection, if any, is awaited below
      while (running) {
        await timers.tickAsync(1)
        await turn()
      }
      await users
      await settleHeld(held.length)
      for (let i = 0; i < 100 && pending > 0; i++) await turn()
    })
    for (let i = 0; i < 10; i++) await turn() // late rejections of abandoned runs surface here, if unhandled
    process.off('unhandledRejection', onUnhandled)

    const context = `seed ${SEED}, ${calls} calls`
    t.log(context, JSON.stringify(seen))
    t.deepEqual(unhandled, [], context)
    t.deepEqual(problems, [], context)
    t.is(pending, 0, context)
    for (const which of ['plain', 'fallback'] as const) {
      const s = seen[which]
      t.like(
        models[which].breaker.metrics(),
        { successes: s.success, failures: s.failure + s.timeout, timeouts: s.timeout, ignored: s.ignored, rejections: s.rejected, inFlight: 0 },
        `${which}: breaker counts match what callers saw; ${context}`,
      )
    }
    t.true(enough(), `the run exercised faults; ${context}`)
  },
)
