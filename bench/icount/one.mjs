// One case run n times, for bench/icount/icount.sh: node one.mjs <dist index.js> <case> <n>
const [dist, kase, nArg] = process.argv.slice(2)
const { circuitBreaker } = await import(dist)
const { stacklessError } = await import('../contenders.mjs')
const ck = await import('cockatiel')
const cockatiel = ck.circuitBreaker(ck.handleAll, { halfOpenAfter: 3600000, breaker: new ck.ConsecutiveBreaker(5) })
const n = Number(nArg)
const fn = async () => 42,
  syncFn = () => 42,
  swallow = () => 0
const b = circuitBreaker('one')
if (kase === 'reject') b.forceOpen()
let failures = 0
const premade = new Error('premade')
const minimal = async (f) => {
  if (failures >= 5) throw premade
  const v = await f()
  failures = 0
  return v
}
const allow = () => failures < 5,
  onSuccess = () => {
    failures = 0
  }
const bodies = {
  bare: 'await fn()',
  signal: 'await b.execute(fn, opts)',
  timeout: 'await t.execute(fn)',
  cockatiel: 'await c.execute(fn)',
  minimal: 'await m(fn)',
  execute: 'await b.execute(fn)',
  baresync: 'fn()',
  gate: 'if (allow()) { fn(); onSuccess() }',
  sync: 'b.executeSync(fn)',
  premade: 'await Promise.reject(premade).catch(swallow)',
  newerr: 'await Promise.reject(mk()).catch(swallow)',
  minreject: 'await m(fn).catch(swallow)',
  reject: 'await b.execute(fn).catch(swallow)',
}
const sync = ['baresync', 'gate', 'sync'].includes(kase)
const mk = stacklessError
if (kase === 'minreject') failures = 5
const run = new Function(
  'b',
  'm',
  'fn',
  'allow',
  'onSuccess',
  'premade',
  'swallow',
  'mk',
  'c',
  'opts',
  't',
  'n',
  `return (async () => { for (let i = 0; i < n; i++) ${bodies[kase]} })()`,
)
await run(
  b,
  minimal,
  sync ? syncFn : fn,
  allow,
  onSuccess,
  premade,
  swallow,
  mk,
  cockatiel,
  { signal: new AbortController().signal },
  circuitBreaker('one-t', { timeout: 10000 }),
  n,
)
