// The issue's call-path targets, measured in interleaved rounds in one process (the cases of
// bench/contenders.mjs, each with its own compiled loop): every round times each case once and
// computes each target's ratio from that round alone, so the spread over rounds shows how far a
// ratio moves on this machine. The first round warms up and is dropped.
//   node bench/targets.mjs [rounds=11]    (prints JSON; part of `npm run bench`)
import { fileURLToPath } from 'node:url'
import { BATCH, contenders } from './contenders.mjs'

/** Calls per case per round, by suite: enough for ~50 ms of each on a 2-core machine. */
const CALLS = { 'closed execute': 200_000, 'closed sync path': 2_000_000, 'open rejection': 50_000 }

const pick = [
  ['closed execute', 'bare'],
  ['closed execute', 'breakwater', 'execute'],
  ['closed execute', 'cockatiel', 'ConsecutiveBreaker'],
  ['closed execute', 'minimal JS'],
  ['closed sync path', 'bare'],
  ['closed sync path', 'breakwater'],
  ['closed sync path', 'minimal JS', 'onSuccess'],
  ['closed sync path', 'minimal JS', 'shared memory'],
  ['open rejection', 'breakwater', 'execute, caught'],
  ['open rejection', 'minimal JS', 'pre-allocated'],
  ['open rejection', 'minimal JS', 'new stackless'],
  ['open rejection', 'cockatiel'],
]

/** a / b, or NaN when the bound b is not positive (a round where noise ate the floor's overhead). */
const over = (a, b) => (b > 0 ? a / b : Number.NaN)

/**
 * The call-path targets: each ratio is breakwater over its bound, computed from one round's ns.
 * `limit` is the target (ratio <= limit is met); `floor` names the case that bounds it.
 */
export const TARGETS = [
  {
    id: 1,
    target: 'closed `execute` overhead <= 0.6x cockatiel ConsecutiveBreaker',
    limit: 0.6,
    ratio: (ns) => over(ns.bwExecute - ns.bare, ns.cockatiel - ns.bare),
    floor: (ns) => `cockatiel overhead ${ns1(ns.cockatiel - ns.bare)}`,
  },
  {
    id: 1,
    target: 'closed `execute` overhead <= 1.5x the minimal JS breaker',
    limit: 1.5,
    ratio: (ns) => over(ns.bwExecute - ns.bare, ns.minimal - ns.bare),
    floor: (ns) => `minimal breaker overhead ${ns1(ns.minimal - ns.bare)} (bare \`await fn()\` ${ns1(ns.bare)})`,
  },
  {
    id: 2,
    target: '`executeSync` <= 2x the minimal sync gate `allow(); fn(); onSuccess()`',
    limit: 2,
    // Whole ns per call, not minus the bare `fn()`: the gate costs about a nanosecond, and a
    // difference of two such numbers turns negative in a noisy round.
    ratio: (ns) => ns.bwSync / ns.minimalSync,
    floor: (ns) =>
      `minimal gate ${ns1(ns.minimalSync)} per call (bare \`fn()\` ${ns1(ns.bareSync)}); the same gate over shared memory ${ns1(ns.sharedSync)}, breakwater ${(ns.bwSync / ns.sharedSync).toFixed(2)}x of it`,
  },
  {
    id: 3,
    target: 'refused `execute`, caught <= 1.2x the minimal breaker rejecting a pre-allocated error',
    limit: 1.2,
    ratio: (ns) => ns.bwRefused / ns.minimalRefused,
    floor: (ns) =>
      `minimal refusal ${ns1(ns.minimalRefused)}; with a new stackless error per refusal ${ns1(ns.freshRefused)}, breakwater ${(ns.bwRefused / ns.freshRefused).toFixed(2)}x of it`,
  },
]
/** The cases a round records, by key. */
export const KEYS = [
  'bare',
  'bwExecute',
  'cockatiel',
  'minimal',
  'bareSync',
  'bwSync',
  'minimalSync',
  'sharedSync',
  'bwRefused',
  'minimalRefused',
  'freshRefused',
  'cockatielRefused',
]

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
/** The p-th quantile (0..1) of xs, by linear interpolation. */
const quantile = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b)
  const at = (s.length - 1) * p
  const lo = Math.floor(at)
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (at - lo)
}
/** Median, interquartile range and range of a target's per-round ratios. */
const spreadOf = (ratios) => ({
  ratio: median(ratios),
  p25: quantile(ratios, 0.25),
  p75: quantile(ratios, 0.75),
  min: Math.min(...ratios),
  max: Math.max(...ratios),
  rounds: ratios.length,
})
const round1 = (x) => Math.round(x * 10) / 10
const ns1 = (x) => `${x.toFixed(1)} ns`

/** Targets 1-3 from per-case ns per round (samplesNs[key][round]): a ratio per round, then its spread. */
export function callPathTargets(samplesNs) {
  const rounds = samplesNs.bare.length
  const perRound = Array.from({ length: rounds }, (_, r) => Object.fromEntries(KEYS.map((k) => [k, samplesNs[k][r]])))
  const medianNs = Object.fromEntries(KEYS.map((k) => [k, round1(median(samplesNs[k]))]))
  return TARGETS.map((t) => {
    const all = perRound.map(t.ratio)
    const ratios = all.filter((x) => !Number.isNaN(x))
    const dropped = all.length - ratios.length
    const floor = `${t.floor(medianNs)}${dropped ? `; ${dropped} round(s) dropped: the bound's overhead was <= 0 in them` : ''}`
    if (!ratios.length) return { id: t.id, target: t.target, limit: t.limit, ratio: null, rounds: 0, met: false, floor }
    return { id: t.id, target: t.target, limit: t.limit, ...spreadOf(ratios), met: median(ratios) <= t.limit, floor }
  })
}

/** Times each picked case once per round; returns per-case samples and per-target ratios. */
export async function measureTargets(rounds = 11, scale = 1) {
  const all = contenders('targets')
  const cases = pick.map(([suite, library, like = '']) => {
    const c = all.find((x) => x.suite === suite && x.library === library && x.case.includes(like))
    if (!c) throw new Error(`no case ${suite} / ${library} / ${like}`)
    return { ...c, batches: Math.max(1, Math.round((CALLS[suite] * scale) / BATCH)) }
  })
  const samples = cases.map(() => [])
  for (let r = 0; r < rounds; r++) {
    for (const [i, c] of cases.entries()) {
      const start = process.hrtime.bigint()
      if (c.suite === 'closed sync path') for (let b = 0; b < c.batches; b++) c.run()
      else for (let b = 0; b < c.batches; b++) await c.run()
      samples[i].push(Number(process.hrtime.bigint() - start) / (c.batches * BATCH))
    }
  }
  const samplesNs = Object.fromEntries(KEYS.map((k, i) => [k, samples[i].slice(1)]))
  const medianNs = Object.fromEntries(KEYS.map((k) => [k, round1(median(samplesNs[k]))]))
  return { rounds: rounds - 1, callsPerRound: CALLS, medianNs, samplesNs, targets: callPathTargets(samplesNs) }
}

/**
 * Target 4 from the memory suite's records at the largest count: settled RSS per breaker (see
 * bench/memory.mjs) <= 1 KB and below cockatiel's. The spread is over the rounds of that count (one
 * process per library per round).
 */
export function memoryTargets(memory) {
  const count = Math.max(...memory.map((m) => m.count))
  const at = (library) => memory.filter((m) => m.count === count && m.library === library)
  const rss = (library) => at(library).map((m) => m.settledRssBytesPerBreaker ?? m.rssBytesPerBreaker)
  const unsettled = at('breakwater').map((m) => m.rssBytesPerBreaker)
  const heap = memory.filter((m) => m.count === count && m.library === 'breakwater').map((m) => m.heapBytesPerBreaker)
  const bw = rss('breakwater')
  const ckRss = rss('cockatiel')
  if (!bw.length || !ckRss.length) return []
  const row = (target, limit, ratios, floor) => ({
    id: 4,
    target,
    limit,
    ...spreadOf(ratios),
    met: median(ratios) <= limit,
    floor,
  })
  const heapNote = `of which breakwater's JS heap ${median(heap).toFixed(0)} B; ${median(unsettled).toFixed(0)} B right after they were made, before V8 gave back its grown young generation`
  return [
    row(
      `RSS per breaker at ${count} breakers <= 1 KB`,
      1,
      bw.map((b) => b / 1024),
      `1,024 B; breakwater ${median(bw).toFixed(0)} B (${heapNote})`,
    ),
    row(
      `RSS per breaker at ${count} breakers below cockatiel's`,
      1,
      bw.map((b, i) => b / ckRss[i % ckRss.length]),
      `cockatiel ${median(ckRss).toFixed(0)} B per breaker`,
    ),
  ]
}

/** Target 5 from criterion's medians; the spread is the ratio of criterion's 95% confidence bounds. */
export function rustTargets(rust) {
  const find = (suite, name, parameter = null) =>
    rust.find((r) => r.suite === suite && r.case === name && (parameter === null || String(r.parameter) === String(parameter)))
  const closed = (name) => find('closed acquire + success', name)
  const open = (name) => find('open rejection', name)
  const threads = (n) => find('threads on one breaker (time per call, all threads)', 'breakwater', n)
  const lo = (r) => r.lowNs ?? r.nsPerOp
  const hi = (r) => r.highNs ?? r.nsPerOp
  const rows = []
  const bwClosed = closed('breakwater')
  const failsafe = closed('failsafe')
  if (bwClosed && failsafe) {
    rows.push({
      id: 5,
      target: 'Rust closed acquire + success no slower than failsafe',
      limit: 1,
      ratio: bwClosed.nsPerOp / failsafe.nsPerOp,
      min: lo(bwClosed) / hi(failsafe),
      max: hi(bwClosed) / lo(failsafe),
      met: bwClosed.nsPerOp <= failsafe.nsPerOp,
      floor: `failsafe ${failsafe.nsPerOp.toFixed(1)} ns`,
    })
  }
  const bwOpen = open('breakwater')
  const permitted = open('breakwater is_call_permitted')
  if (bwOpen && permitted) {
    const bound = permitted.nsPerOp + 2
    rows.push({
      id: 5,
      target: 'Rust open rejection no slower than `is_call_permitted` + 2 ns',
      limit: 1,
      ratio: bwOpen.nsPerOp / bound,
      min: lo(bwOpen) / (hi(permitted) + 2),
      max: hi(bwOpen) / (lo(permitted) + 2),
      met: bwOpen.nsPerOp <= bound,
      floor: `is_call_permitted ${permitted.nsPerOp.toFixed(1)} ns + 2 ns`,
    })
  }
  const one = threads(1)
  const two = threads(2)
  if (one && two) {
    // Speed-up = time per call with 1 thread / with 2 (all threads): a lower bound, met at >= 1.5.
    const speedup = one.nsPerOp / two.nsPerOp
    rows.push({
      id: 5,
      target: 'Rust 2 threads on one breaker >= 1.5x the calls per second of one',
      limit: 1.5,
      atLeast: true,
      ratio: speedup,
      min: lo(one) / hi(two),
      max: hi(one) / lo(two),
      met: speedup >= 1.5,
      floor: `1 thread ${one.nsPerOp.toFixed(1)} ns, 2 threads ${two.nsPerOp.toFixed(1)} ns per call`,
    })
  }
  return rows
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(await measureTargets(Number(process.argv[2] ?? 11))))
}
