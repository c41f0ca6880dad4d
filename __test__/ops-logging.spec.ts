import test from 'ava'
import { pino } from 'pino'
import { registry } from '../src/index.ts'
import { logTransitions } from '../src/ops/logging.ts'
import { failTimes, rig } from './helpers.ts'
import { until } from './timers.ts'
import { inWorker } from './worker.ts'

/** A real pino logger writing JSON lines to an in-memory stream, and the lines parsed. */
function pinoLines() {
  const lines: Record<string, unknown>[] = []
  let partial = ''
  const stream = {
    write(chunk: string) {
      partial += chunk
      const parts = partial.split('\n')
      partial = parts.pop()!
      for (const line of parts) lines.push(JSON.parse(line) as Record<string, unknown>)
    },
  }
  return { logger: pino({ base: undefined }, stream), lines }
}

/** pino's numeric levels. */
const INFO = 30
const WARN = 40

/** The fields of a line that the integration writes (pino adds `time`). */
const fieldsOf = ({ level, breaker, from, to, reason, retryAfterMs, msg }: Record<string, unknown>) =>
  Object.fromEntries(Object.entries({ level, breaker, from, to, reason, retryAfterMs, msg }).filter(([, v]) => v !== undefined))

let warnings = 0
process.on('warning', () => warnings++)
let unhandled = 0
process.on('unhandledRejection', () => unhandled++)

test('a breaker that opens writes one warn line, before the call that opened it returns', async (t) => {
  const { breakers, name } = rig()
  const { logger, lines } = pinoLines()
  logTransitions(breakers, logger)
  const b = breakers.getOrCreate(name, { consecutiveFailures: 2, openFor: '30s' })
  await failTimes(b, 2)
  t.is(lines.length, 1)
  t.deepEqual(fieldsOf(lines[0]!), {
    level: WARN,
    breaker: name,
    from: 'closed',
    to: 'open',
    reason: 'consecutive_failures',
    retryAfterMs: 30_000,
    msg: `circuit breaker "${name}" closed -> open (consecutive_failures)`,
  })
  t.is(typeof lines[0]!.at, 'number')
  t.true(Math.abs((lines[0]!.at as number) - Date.now()) < 60_000, 'at is wall-clock milliseconds')
  t.is(typeof lines[0]!.time, 'number')
})

test('half-opening and closing are info lines, in the order they happened', async (t) => {
  const { clock, breakers, name } = rig()
  const { logger, lines } = pinoLines()
  logTransitions(breakers, logger)
  const b = breakers.getOrCreate(name, { consecutiveFailures: 1, openFor: '10s', halfOpenSuccesses: 1 })
  await failTimes(b, 1)
  clock.advance('10s')
  await b.execute(async () => 'ok')
  t.deepEqual(
    lines.map((l) => [l.level, l.from, l.to, l.reason]),
    [
      [WARN, 'closed', 'open', 'consecutive_failures'],
      [INFO, 'open', 'half_open', 'open_elapsed'],
      [INFO, 'half_open', 'closed', 'probes_succeeded'],
    ],
  )
  t.false('retryAfterMs' in lines[1]!, 'no retryAfterMs on a move that admits calls')
})

test('forcing open is a warn line with retryAfterMs when it has a deadline; isolating one without', async (t) => {
  const { breakers, name } = rig()
  const { logger, lines } = pinoLines()
  logTransitions(breakers, logger)
  const b = breakers.getOrCreate(name)
  b.forceOpen('5m')
  b.reset()
  const isolation = b.isolate()
  isolation.dispose()
  b.disable()
  t.deepEqual(lines.map(fieldsOf), [
    {
      level: WARN,
      breaker: name,
      from: 'closed',
      to: 'forced_open',
      reason: 'manual',
      retryAfterMs: 300_000,
      msg: `circuit breaker "${name}" closed -> forced_open (manual)`,
    },
    { level: INFO, breaker: name, from: 'forced_open', to: 'closed', reason: 'manual', msg: `circuit breaker "${name}" forced_open -> closed (manual)` },
    { level: WARN, breaker: name, from: 'closed', to: 'forced_open', reason: 'manual', msg: `circuit breaker "${name}" closed -> forced_open (manual)` },
    { level: INFO, breaker: name, from: 'forced_open', to: 'closed', reason: 'manual', msg: `circuit breaker "${name}" forced_open -> closed (manual)` },
    { level: INFO, breaker: name, from: 'closed', to: 'disabled', reason: 'manual', msg: `circuit breaker "${name}" closed -> disabled (manual)` },
  ])
})

test('every breaker of the registry is logged, ones created after the call included; other registries are not', async (t) => {
  const { breakers, name } = rig()
  const other = rig()
  const { logger, lines } = pinoLines()
  logTransitions(breakers, logger)
  breakers.getOrCreate(`${name}-a`).forceOpen()
  breakers.getOrCreate(`${name}-b`).forceOpen()
  other.breakers.getOrCreate(`${other.name}-elsewhere`).forceOpen()
  t.deepEqual(
    lines.map((l) => l.breaker),
    [`${name}-a`, `${name}-b`],
  )
})

test('a transition made in a worker thread is logged in the main thread', async (t) => {
  const { logger, lines } = pinoLines()
  const stop = logTransitions(registry, logger)
  try {
    const name = `logged-from-worker-${process.pid}`
    const posted = await inWorker<string>(`
      const b = bw.circuitBreaker(${JSON.stringify(name)}, { consecutiveFailures: 1, openFor: '1m' })
      await b.execute(async () => { throw new Error('down') }).catch(() => {})
      parentPort.postMessage(b.state)`)
    t.is(posted, 'open')
    await until(() => lines.some((l) => l.breaker === name))
    const line = lines.find((l) => l.breaker === name)!
    t.like(line, { level: WARN, from: 'closed', to: 'open', reason: 'consecutive_failures' })
    t.true((line.retryAfterMs as number) > 0 && (line.retryAfterMs as number) <= 60_000, String(line.retryAfterMs))
    registry.remove(name)
  } finally {
    stop()
  }
})

test('a logger that throws never reaches the breaker, the call, other listeners or the process', async (t) => {
  const { breakers, name } = rig()
  const before = { warnings, unhandled }
  const throwing = {
    info() {
      throw new Error('log sink full')
    },
    warn() {
      throw new Error('log sink full')
    },
  }
  const rejecting = { info: () => Promise.reject(new Error('async sink down')), warn: () => Promise.reject(new Error('async sink down')) }
  logTransitions(breakers, throwing)
  logTransitions(breakers, rejecting)
  const { logger, lines } = pinoLines()
  logTransitions(breakers, logger)
  const b = breakers.getOrCreate(name, { consecutiveFailures: 1 })
  const error = await b
    .execute(async () => {
      throw new Error('the dependency failed')
    })
    .catch((e: unknown) => e)
  t.is((error as Error).message, 'the dependency failed')
  t.is(b.state, 'open')
  b.reset()
  t.deepEqual(
    lines.map((l) => l.to),
    ['open', 'closed'],
  )
  await new Promise((resolve) => setImmediate(resolve))
  t.deepEqual({ warnings, unhandled }, before, 'no process warning, no unhandled rejection')
})

test('the disposer stops the lines at once', async (t) => {
  const { breakers, name } = rig()
  const { logger, lines } = pinoLines()
  const stop = logTransitions(breakers, logger)
  const b = breakers.getOrCreate(name)
  b.forceOpen()
  stop()
  stop()
  b.reset()
  t.deepEqual(
    lines.map((l) => l.to),
    ['forced_open'],
  )
})

test('a registry without onStateChange or a logger without info and warn is a TypeError naming it', (t) => {
  const { breakers } = rig()
  const { logger } = pinoLines()
  const code = 'ERR_BREAKWATER_INVALID_OPTION'
  t.throws(() => logTransitions({} as never, logger), {
    instanceOf: TypeError,
    code,
    message: 'registry must be an object with onStateChange(), but was an object',
  })
  t.throws(() => logTransitions(breakers, undefined as never), {
    instanceOf: TypeError,
    code,
    message: 'logger must be an object with info(), warn(), but was undefined',
  })
  t.throws(() => logTransitions(breakers, { info() {} } as never), {
    instanceOf: TypeError,
    code,
    message: 'logger must be an object with info(), warn(), but was an object',
  })
  t.throws(() => logTransitions(breakers, console.log as never), {
    instanceOf: TypeError,
    code,
    message: 'logger must be an object with info(), warn(), but was a function',
  })
})
