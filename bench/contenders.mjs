// Every benchmark case, in one place: the same `async () => 42` (or `() => 42`) through each library.
// A case's `run` makes BATCH calls in a loop compiled for that case alone (new Function over its
// body), so no call site is shared between contenders: a shared `batch(call)` helper would turn
// megamorphic, slow every case by the same amount and pull every ratio towards 1.
import { circuitBreaker as bwBreaker, retry as bwRetry, timeout as bwTimeout, wrap as bwWrap } from '../dist/index.js'
import { ck, OpossumBreaker } from './peers.mjs'

export const BATCH = 100
const HOUR = 3_600_000
const fn = async () => 42
const syncFn = () => 42
const swallow = () => 0

/** The error the minimal breaker rejects with: made once, never per call. */
const OPEN = new Error('circuit open')

/**
 * The floor: a failure counter and a state flag around the call, reading the clock only when open,
 * rejecting with a pre-allocated error. `allow()` / `onSuccess()` / `onFailure()` are its
 * synchronous gate, `execute` its async call.
 */
export class MinimalBreaker {
  failures = 0
  open = false
  openUntil = 0
  allow() {
    if (!this.open) return true
    if (Date.now() < this.openUntil) return false
    this.open = false // the next call is the probe
    return true
  }
  onSuccess() {
    this.failures = 0
  }
  onFailure() {
    if (++this.failures >= 5) {
      this.open = true
      this.openUntil = Date.now() + HOUR
    }
  }
  async execute(f) {
    if (this.open && !this.allow()) throw OPEN
    try {
      const value = await f()
      this.failures = 0
      return value
    } catch (e) {
      this.onFailure()
      throw e
    }
  }
}

/**
 * The floor of a gate whose state every thread shares: the minimal gate with its state in typed
 * arrays (as any memory shared between threads is read from JavaScript): a state word checked
 * before and after the call, a started and a succeeded count.
 */
export class SharedMemoryGate {
  word = new Uint32Array(1)
  counts = new Uint32Array(2)
}

/** A new error without a stack, as breakwater makes for each refusal: every refusal its own error. */
export function stacklessError() {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  const error = new Error('circuit open')
  Error.stackTraceLimit = limit
  return error
}

/** The minimal breaker rejecting each refused call with a new (stackless) error instead of one made once. */
class FreshErrorMinimalBreaker extends MinimalBreaker {
  async execute(f) {
    if (this.open && !this.allow()) throw stacklessError()
    return super.execute(f)
  }
}

let compiled = 0
/**
 * A case's loop, compiled for it alone: `body` is one call expression over the names in `scope`.
 * The serial number in the source keeps V8 from sharing one compiled function between cases.
 */
export function loop(body, scope, { sync = false, calls = BATCH } = {}) {
  const names = Object.keys(scope)
  const step = sync ? `${body};` : `await ${body};`
  const source = `/* case ${++compiled} */ return ${sync ? '' : 'async '}() => { for (let i = 0; i < ${calls}; i++) { ${step} } }`
  return new Function(...names, source)(...names.map((n) => scope[n]))
}

/** The cases; `prefix` names their breakwater breakers (`<prefix>-closed`, ...) so two sets never share one. */
export function contenders(prefix = 'bench') {
  const {
    circuitBreaker: ckBreaker,
    ConsecutiveBreaker,
    ExponentialBackoff,
    handleAll,
    retry: ckRetry,
    SamplingBreaker,
    timeout: ckTimeout,
    TimeoutStrategy,
    wrap: ckWrap,
  } = ck
  const bw = bwBreaker(`${prefix}-closed`)
  const bwTimed = bwBreaker(`${prefix}-closed-timed`, { timeout: '10s' }) // like opossum's default
  const bwOpen = bwBreaker(`${prefix}-open`)
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
  const gate = new MinimalBreaker()
  const minimalOpen = new MinimalBreaker()
  for (let i = 0; i < 5; i++) minimalOpen.onFailure()
  const sharedGate = new SharedMemoryGate()
  const freshOpen = new FreshErrorMinimalBreaker()
  for (let i = 0; i < 5; i++) freshOpen.onFailure()
  // The same composition in both: up to 2 retries with exponential backoff, a consecutive-failures
  // breaker, a cooperative 1 h timeout (the timer is set and cleared on every call).
  const bwComposed = bwWrap(bwRetry({ maxAttempts: 3 }), bwBreaker(`${prefix}-composed`), bwTimeout(HOUR))
  const ckComposed = ckWrap(
    ckRetry(handleAll, { maxAttempts: 2, backoff: new ExponentialBackoff() }),
    ckBreaker(handleAll, { halfOpenAfter: HOUR, breaker: new ConsecutiveBreaker(5) }),
    ckTimeout(HOUR, TimeoutStrategy.Cooperative),
  )
  const s = { fn, syncFn, swallow, OPEN }
  const async = (body, scope) => loop(body, { ...s, ...scope })
  const sync = (body, scope) => loop(body, { ...s, ...scope }, { sync: true })

  return [
    { suite: 'closed execute', library: 'bare', case: 'await fn()', run: async('fn()') },
    { suite: 'closed execute', library: 'breakwater', case: 'execute', run: async('bw.execute(fn)', { bw }) },
    { suite: 'closed execute', library: 'breakwater', case: 'execute (timeout 10s)', run: async('bw.execute(fn)', { bw: bwTimed }) },
    { suite: 'closed execute', library: 'opossum', case: 'fire (default)', run: async('o.fire()', { o: opossum }) },
    { suite: 'closed execute', library: 'opossum', case: 'fire (timeout: false)', run: async('o.fire()', { o: opossumNoTimeout }) },
    { suite: 'closed execute', library: 'cockatiel', case: 'execute (ConsecutiveBreaker)', run: async('c.execute(fn)', { c: consecutive }) },
    { suite: 'closed execute', library: 'cockatiel', case: 'execute (SamplingBreaker)', run: async('c.execute(fn)', { c: sampling }) },
    { suite: 'closed execute', library: 'minimal JS', case: 'counter + state flag', run: async('m.execute(fn)', { m: minimal }) },

    { suite: 'closed sync path', library: 'bare', case: 'fn()', run: sync('syncFn()') },
    { suite: 'closed sync path', library: 'breakwater', case: 'executeSync (acquire, run, report)', run: sync('bw.executeSync(syncFn)', { bw }) },
    {
      suite: 'closed sync path',
      library: 'minimal JS',
      case: 'allow(); fn(); onSuccess()',
      run: sync('if (!g.allow()) throw OPEN; syncFn(); g.onSuccess()', { g: gate }),
    },
    {
      suite: 'closed sync path',
      library: 'minimal JS',
      case: 'the same gate over shared memory (typed arrays)',
      run: sync('if (g.word[0] !== 0) throw OPEN; g.counts[0]++; syncFn(); if (g.word[0] === 0) g.counts[1]++', { g: sharedGate }),
    },

    { suite: 'open rejection', library: 'breakwater', case: 'execute, caught', run: async('bw.execute(fn).catch(swallow)', { bw: bwOpen }) },
    { suite: 'open rejection', library: 'opossum', case: 'fire, caught', run: async('o.fire().catch(swallow)', { o: opossumOpen }) },
    { suite: 'open rejection', library: 'cockatiel', case: 'execute, caught', run: async('c.execute(fn).catch(swallow)', { c: cockatielOpen }) },
    {
      suite: 'open rejection',
      library: 'minimal JS',
      case: 'execute, pre-allocated error, caught',
      run: async('m.execute(fn).catch(swallow)', { m: minimalOpen }),
    },
    {
      suite: 'open rejection',
      library: 'minimal JS',
      case: 'execute, a new stackless error each, caught',
      run: async('m.execute(fn).catch(swallow)', { m: freshOpen }),
    },
    { suite: 'open rejection', library: 'breakwater', case: 'isCallPermitted (sync check)', run: sync('bw.isCallPermitted()', { bw: bwOpen }) },

    { suite: 'composition', library: 'bare', case: 'await fn()', run: async('fn()') },
    { suite: 'composition', library: 'breakwater', case: 'wrap(retry, breaker, timeout)', run: async('c.execute(fn)', { c: bwComposed }) },
    { suite: 'composition', library: 'cockatiel', case: 'wrap(retry, breaker, timeout)', run: async('c.execute(fn)', { c: ckComposed }) },
  ]
}
