// Every benchmark case, in one place: the same `async () => 42` through each library.
// A case's `run` makes BATCH calls, so the harness's own per-op cost is spread over many calls.
import { circuitBreaker as bwBreaker, retry as bwRetry, timeout as bwTimeout, wrap as bwWrap } from '../dist/index.js'
import OpossumBreaker from 'opossum'
import {
  circuitBreaker as ckBreaker,
  ConsecutiveBreaker,
  ExponentialBackoff,
  handleAll,
  retry as ckRetry,
  SamplingBreaker,
  timeout as ckTimeout,
  TimeoutStrategy,
  wrap as ckWrap,
} from 'cockatiel'

export const BATCH = 100
const HOUR = 3_600_000
const fn = async () => 42
const syncFn = () => 42
const swallow = () => 0

/** The pure-JS lower bound: a counter and a state check, nothing else. */
class MinimalBreaker {
  failures = 0
  openUntil = 0
  async execute(f) {
    if (this.openUntil > Date.now()) throw new Error('open')
    try {
      const value = await f()
      this.failures = 0
      return value
    } catch (e) {
      if (++this.failures >= 5) this.openUntil = Date.now() + HOUR
      throw e
    }
  }
}

function batch(call) {
  return async () => {
    for (let i = 0; i < BATCH; i++) await call()
  }
}

function batchSync(call) {
  return () => {
    for (let i = 0; i < BATCH; i++) call()
  }
}

export function contenders() {
  const bw = bwBreaker('bench-closed')
  const bwTimed = bwBreaker('bench-closed-timed', { timeout: '10s' }) // like opossum's default
  const bwOpen = bwBreaker('bench-open')
  bwOpen.forceOpen()
  const opossum = new OpossumBreaker(fn)
  const opossumNoTimeout = new OpossumBreaker(fn, { timeout: false })
  const opossumOpen = new OpossumBreaker(fn, { resetTimeout: HOUR }) // must not half-open mid-run
  opossumOpen.open()
  const consecutive = ckBreaker(handleAll, { halfOpenAfter: HOUR, breaker: new ConsecutiveBreaker(5) })
  const sampling = ckBreaker(handleAll, { halfOpenAfter: HOUR, breaker: new SamplingBreaker({ threshold: 0.5, duration: 10_000 }) })
  const cockatielOpen = ckBreaker(handleAll, { halfOpenAfter: HOUR, breaker: new ConsecutiveBreaker(5) })
  cockatielOpen.isolate()
  const minimal = new MinimalBreaker()
  // The same composition in both: up to 2 retries with exponential backoff, a consecutive-failures
  // breaker, a cooperative 1 h timeout (the timer is set and cleared on every call).
  const bwComposed = bwWrap(bwRetry({ maxAttempts: 3 }), bwBreaker('bench-composed'), bwTimeout(HOUR))
  const ckComposed = ckWrap(
    ckRetry(handleAll, { maxAttempts: 2, backoff: new ExponentialBackoff() }),
    ckBreaker(handleAll, { halfOpenAfter: HOUR, breaker: new ConsecutiveBreaker(5) }),
    ckTimeout(HOUR, TimeoutStrategy.Cooperative),
  )

  return [
    { suite: 'closed execute', library: 'bare', case: 'await fn()', run: batch(fn) },
    { suite: 'closed execute', library: 'breakwater', case: 'execute', run: batch(() => bw.execute(fn)) },
    { suite: 'closed execute', library: 'breakwater', case: 'execute (timeout 10s)', run: batch(() => bwTimed.execute(fn)) },
    { suite: 'closed execute', library: 'opossum', case: 'fire (default)', run: batch(() => opossum.fire()) },
    { suite: 'closed execute', library: 'opossum', case: 'fire (timeout: false)', run: batch(() => opossumNoTimeout.fire()) },
    { suite: 'closed execute', library: 'cockatiel', case: 'execute (ConsecutiveBreaker)', run: batch(() => consecutive.execute(fn)) },
    { suite: 'closed execute', library: 'cockatiel', case: 'execute (SamplingBreaker)', run: batch(() => sampling.execute(fn)) },
    { suite: 'closed execute', library: 'minimal JS', case: 'counter + state check', run: batch(() => minimal.execute(fn)) },

    { suite: 'closed sync path', library: 'bare', case: 'fn()', run: batchSync(syncFn) },
    { suite: 'closed sync path', library: 'breakwater', case: 'executeSync (acquire, run, report)', run: batchSync(() => bw.executeSync(syncFn)) },

    { suite: 'open rejection', library: 'breakwater', case: 'execute, caught', run: batch(() => bwOpen.execute(fn).catch(swallow)) },
    { suite: 'open rejection', library: 'opossum', case: 'fire, caught', run: batch(() => opossumOpen.fire().catch(swallow)) },
    { suite: 'open rejection', library: 'cockatiel', case: 'execute, caught', run: batch(() => cockatielOpen.execute(fn).catch(swallow)) },
    { suite: 'open rejection', library: 'breakwater', case: 'isCallPermitted (sync check)', run: batchSync(() => bwOpen.isCallPermitted()) },

    { suite: 'composition', library: 'bare', case: 'await fn()', run: batch(fn) },
    { suite: 'composition', library: 'breakwater', case: 'wrap(retry, breaker, timeout)', run: batch(() => bwComposed.execute(fn)) },
    { suite: 'composition', library: 'cockatiel', case: 'wrap(retry, breaker, timeout)', run: batch(() => ckComposed.execute(fn)) },
  ]
}
