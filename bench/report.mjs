// latest.json -> REPORT.md (tables with ratios) and overhead.svg (the chart the README shows).
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const fmt = (n, digits = 0) => (n === null || n === undefined ? '' : Number(n).toFixed(digits))
const ratio = (a, b) => (a && b ? (a / b).toFixed(2) : '')

/** The best (lowest) value of a library's cases in a suite whose case name contains `like`. */
function best(records, suite, library, field = 'nsPerOp', like = '') {
  const mine = records.filter((r) => r.suite === suite && r.library === library && r[field] !== null && r.case.includes(like))
  return mine.length ? Math.min(...mine.map((r) => r[field])) : undefined
}

function chart(records) {
  const bars = records.filter((r) => r.suite === 'closed execute' && r.overheadNs !== null)
  const max = Math.max(...bars.map((r) => r.overheadNs))
  const row = 28
  const width = 720
  const label = 300
  const body = bars
    .map((r, i) => {
      const w = Math.max(2, ((width - label - 90) * r.overheadNs) / max)
      const y = 40 + i * row
      const color = r.library === 'breakwater' ? '#1f77b4' : '#9aa5b1'
      return `<text x="${label - 8}" y="${y + 17}" text-anchor="end">${r.library}: ${r.case}</text>
<rect x="${label}" y="${y + 4}" width="${w.toFixed(1)}" height="18" fill="${color}"/>
<text x="${label + w + 6}" y="${y + 17}">${fmt(r.overheadNs)} ns</text>`
    })
    .join('\n')
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${60 + bars.length * row}" font-family="sans-serif" font-size="13">
<rect width="100%" height="100%" fill="white"/>
<text x="12" y="24" font-size="15" font-weight="bold">Overhead of a closed execute over await fn() (ns per call, lower is better)</text>
${body}
</svg>
`
}

const spread = (min, max, digits = 2) => `${fmt(min, digits)}–${fmt(max, digits)}`

/** The issue's targets: ratio (median), spread over rounds, met or missed, and the floor. */
export function targetsTable(targets) {
  const lines = [
    '## Targets (issue 15)',
    '',
    `Ratios are breakwater over the bound. The call-path rows come from ${targets.rounds} interleaved rounds in one process: the ratio of each round, its median, the middle half of the rounds (p25–p75) and all of them (min–max). Memory comes from separate processes per round, Rust from criterion (its 95% confidence interval).`,
    '',
    '| # | target | ratio (median) | spread: p25–p75 (min–max) | met | floor |',
    '|---|---|---|---|---|---|',
  ]
  for (const t of targets.targets) {
    const bound = t.atLeast ? `>= ${t.limit}` : `<= ${t.limit}`
    lines.push(
      `| ${t.id} | ${t.target} | ${fmt(t.ratio, 2)} (${bound}) | ${t.p25 === undefined ? spread(t.min, t.max) : `${spread(t.p25, t.p75)} (${spread(t.min, t.max)})`}${t.rounds ? `, ${t.rounds} round${t.rounds === 1 ? '' : 's'}` : ''} | ${t.met ? 'met' : '**missed**'} | ${t.floor} |`,
    )
  }
  lines.push(
    '',
    `Median ns per call: ${Object.entries(targets.medianNs)
      .map(([k, v]) => `${k} ${fmt(v, 1)}`)
      .join(', ')}.`,
    '',
  )
  return lines
}

const cell = (ns, min, max) => {
  if (ns === undefined) return ''
  const digits = ns < 100 ? 1 : 0
  return min === undefined ? fmt(ns, digits) : `${fmt(ns, digits)} (${fmt(min, digits)}–${fmt(max, digits)})`
}

/** One table across languages: breakwater (Node, Rust) next to every cross-language entry. */
export function crossTable(run) {
  const lines = [
    '## Across languages (same workload)',
    '',
    'ns per call: median (min–max over the harness samples). A closed call of a no-op; a refused call, caught; one breaker shared by 2 threads (wall time per call over both threads) and the speed-up over one thread.',
    '',
    '| language | library | harness | closed call | refused call | 2 threads, one breaker | 2-thread speed-up |',
    '|---|---|---|---|---|---|---|',
  ]
  const t = run.targets
  const samples = t?.samplesNs ?? {}
  const range = (k) => [t?.medianNs?.[k], samples[k] && Math.min(...samples[k]), samples[k] && Math.max(...samples[k])]
  const perCall = (w) => (w ? 1e9 / w.callsPerSecond : undefined)
  const w1 = run.workers?.throughput.find((w) => w.workers === 1)
  const w2 = run.workers?.throughput.find((w) => w.workers === 2)
  const node = `Node ${run.versions.node}`
  if (t) {
    lines.push(
      `| javascript (${node}) | breakwater ${run.versions.breakwater} | \`await execute(async fn)\`, interleaved rounds | ${cell(...range('bwExecute'))} | ${cell(...range('bwRefused'))} | ${cell(perCall(w2))} (2 worker threads) | ${w1 && w2 ? fmt(w2.callsPerSecond / w1.callsPerSecond, 2) : ''} |`,
      `| javascript (${node}) | breakwater ${run.versions.breakwater} | \`executeSync(fn)\`, interleaved rounds | ${cell(...range('bwSync'))} |  |  |  |`,
      `| javascript (${node}) | cockatiel ${run.versions.cockatiel} | \`await execute(async fn)\` | ${cell(...range('cockatiel'))} | ${cell(...range('cockatielRefused'))} |  |  |`,
    )
  }
  const rust = (suite, name, parameter = null) =>
    run.rust.find((r) => r.suite === suite && r.case === name && (parameter === null || String(r.parameter) === String(parameter)))
  const rc = rust('closed acquire + success', 'breakwater')
  const ro = rust('open rejection', 'breakwater')
  const r1 = rust('threads on one breaker (time per call, all threads)', 'breakwater', 1)
  const r2 = rust('threads on one breaker (time per call, all threads)', 'breakwater', 2)
  if (rc) {
    const c = (r) => (r ? cell(r.nsPerOp, r.lowNs, r.highNs) : '')
    lines.push(
      `| rust | breakwater core | criterion (acquire + record) | ${c(rc)} | ${c(ro)} | ${c(r2)} | ${r1 && r2 ? fmt(r1.nsPerOp / r2.nsPerOp, 2) : ''} |`,
    )
  }
  const skipped = []
  for (const lang of run.cross?.languages ?? []) {
    if (lang.skipped || lang.failed) {
      skipped.push(`${lang.language} (${lang.library}) ${lang.skipped ? `skipped: ${lang.skipped}` : `failed: ${lang.failed}`}`)
      continue
    }
    const by = (name) => lang.records.find((r) => r.case === name)
    const [closed, refused, shared] = ['closed call', 'refused call', '2 threads, one breaker'].map(by)
    const c = (r) => (r ? cell(r.nsPerOp, r.minNs, r.maxNs) : '')
    lines.push(
      `| ${lang.language} (${lang.toolchain}) | ${lang.library} ${lang.version} | ${lang.harness} | ${c(closed)} | ${c(refused)} | ${c(shared)} | ${closed && shared ? fmt(closed.nsPerOp / shared.nsPerOp, 2) : ''} |`,
    )
  }
  lines.push('')
  if (!run.cross) lines.push('Other languages: not run (`npm run bench:cross`).', '')
  if (skipped.length) lines.push(...skipped.map((x) => `- ${x}`), '')
  lines.push(
    "Node's closed call awaits a promise (the microtask is most of the bare call's cost); `executeSync` is the like-for-like row for the other languages' synchronous calls. Python: the GIL lets one thread run Python code at a time, so 2 threads on one breaker cannot beat one; the row measures the cost of sharing (GIL hand-offs, pybreaker's lock).",
    '',
  )
  return lines
}

export function writeReport(run, dir) {
  const r = run.records
  const lines = [
    '# Benchmark report',
    '',
    `${run.date}${run.quick ? ' (quick run: short timings, noisy)' : ''}; Node ${run.versions.node}, breakwater ${run.versions.breakwater}, opossum ${run.versions.opossum}, cockatiel ${run.versions.cockatiel}${run.versions.peersFrom && run.versions.peersFrom !== 'devDependencies' ? ` (peers from ${run.versions.peersFrom})` : ''}; ${run.machine.cpus} x ${run.machine.model}.`,
    'Ratios are what transfers between machines; absolute times do not.',
    '',
    '![overhead](overhead.svg)',
    '',
    ...(run.targets ? targetsTable(run.targets) : []),
    ...crossTable(run),
  ]
  for (const suite of [...new Set(r.map((x) => x.suite))]) {
    lines.push(`## ${suite}`, '', '| library | case | ns per call | overhead ns | ±% | samples |', '|---|---|---|---|---|---|')
    for (const x of r.filter((y) => y.suite === suite)) {
      lines.push(`| ${x.library} | ${x.case} | ${fmt(x.nsPerOp)} | ${fmt(x.overheadNs)} | ${fmt(x.rme, 1)} | ${x.samples} |`)
    }
    lines.push('')
  }
  const bwClosed = best(r, 'closed execute', 'breakwater', 'overheadNs')
  const bwReject = best(r, 'open rejection', 'breakwater', 'nsPerOp', 'caught')
  const bwSync = best(r, 'closed sync path', 'breakwater', 'overheadNs')
  lines.push(
    '## Ratios (breakwater / peer; below 1 is faster)',
    '',
    '| comparison | vs opossum | vs cockatiel | vs minimal JS |',
    '|---|---|---|---|',
    `| closed execute overhead | ${ratio(bwClosed, best(r, 'closed execute', 'opossum', 'overheadNs'))} | ${ratio(bwClosed, best(r, 'closed execute', 'cockatiel', 'overheadNs'))} | ${ratio(bwClosed, best(r, 'closed execute', 'minimal JS', 'overheadNs'))} |`,
    `| rejected execute, caught | ${ratio(bwReject, best(r, 'open rejection', 'opossum', 'nsPerOp', 'caught'))} | ${ratio(bwReject, best(r, 'open rejection', 'cockatiel', 'nsPerOp', 'caught'))} | ${ratio(bwReject, best(r, 'open rejection', 'minimal JS', 'nsPerOp', 'caught'))} |`,
    `| executeSync overhead (vs the minimal sync gate) | | | ${ratio(bwSync, best(r, 'closed sync path', 'minimal JS', 'overheadNs'))} |`,
    `| closed execute with a 10 s timeout, overhead | ${ratio(best(r, 'closed execute', 'breakwater', 'overheadNs', 'timeout'), best(r, 'closed execute', 'opossum', 'overheadNs', 'default'))} | | |`,
    `| wrap(retry, breaker, timeout) overhead | | ${ratio(best(r, 'composition', 'breakwater', 'overheadNs'), best(r, 'composition', 'cockatiel', 'overheadNs'))} | |`,
    '',
    "(The best case of each peer: opossum with `timeout: false`, cockatiel with the faster of its two breakers; with a timeout, opossum's default, which has one.)",
    '',
    '## Memory and idle CPU',
    '',
    "RSS right after the breakers are made, and settled: once a full collection after a few idle seconds has given back the young generation the burst grew (a process's cost, up to 32 MB, not a breaker's). Target 4 reads the settled one.",
    '',
    '| breakers | library | JS heap bytes each | RSS bytes each (heap + native) | settled RSS bytes each | idle CPU % |',
    '|---|---|---|---|---|---|',
    ...run.memory.map(
      (m) =>
        `| ${m.count}${m.round > 1 ? ` (round ${m.round})` : ''} | ${m.library} | ${fmt(m.heapBytesPerBreaker)} | ${fmt(m.rssBytesPerBreaker)} | ${fmt(m.settledRssBytesPerBreaker)} | ${fmt(m.idleCpuPercent, 2)} |`,
    ),
    '',
    '## Worker threads on one breaker',
    '',
    '| workers | calls per second, all workers | every call counted by the breaker |',
    '|---|---|---|',
    ...run.workers.throughput.map((w) => `| ${w.workers} | ${fmt(w.callsPerSecond)} | ${w.countedByBreaker} |`),
    '',
    `Opened in one worker (state there: ${run.workers.propagation.stateThere}); the next call in another worker refused: ${run.workers.propagation.nextCallInWorker2Refused}.`,
    '',
  )
  if (run.ops) {
    lines.push(
      '## Operations attached (same process, interleaved rounds)',
      '',
      `Closed \`execute\`: ${fmt(run.ops.ab.plainNs, 1)} ns with nothing attached, ${fmt(run.ops.ab.attachedNs, 1)} ns with Prometheus, OpenTelemetry, transition logging and an HTTP \`/events\` client attached (ratio ${ratio(run.ops.ab.attachedNs, run.ops.ab.plainNs)}).`,
      '',
      '| breakers | Prometheus scrape, ms (median) | samples | of which registry.health(), ms | OpenTelemetry collect, ms |',
      '|---|---|---|---|---|',
      ...run.ops.rows.map(
        (o) => `| ${o.breakers} | ${fmt(o.scrapeMs.median, 1)} | ${o.lines} | ${fmt(o.healthMs.median, 1)} | ${fmt(o.otelCollectMs.median, 1)} |`,
      ),
      '',
    )
  }
  if (run.fleet?.skipped) lines.push('## Fleet over Redis', '', `Skipped: ${run.fleet.skipped}.`, '')
  else if (run.fleet) {
    const { propagation: p, closedExecute: c } = run.fleet
    lines.push(
      `## Fleet over Redis (redis-server ${run.fleet.redis} on loopback)`,
      '',
      `Propagation, from a breaker opening in one instance to another applying the fleet's open, over ${p.transitions} transitions: p50 ${fmt(p.p50Ms, 2)} ms, p99 ${fmt(p.p99Ms, 2)} ms (target p99 <= ${p.targetP99Ms} ms: ${p.p99Ms <= p.targetP99Ms ? 'met' : 'missed'}).`,
      '',
      `Closed \`execute\`, interleaved rounds in one process: ${fmt(c.fleetOffNsPerCall, 1)} ns without a fleet, ${fmt(c.fleetOnNsPerCall, 1)} ns with the breaker in a fleet (ratio ${fmt(c.ratioOnOff, 2)}; a closed call never touches Redis).`,
      '',
    )
  }
  if (run.rust.length) {
    const stale = run.rustFresh === false ? ' (from the last criterion run: this run had --no-rust)' : ''
    lines.push(`## Rust core (criterion medians${stale})`, '', '| group | case | ns | 95% interval |', '|---|---|---|---|')
    for (const x of run.rust) {
      lines.push(
        `| ${x.suite} | ${x.case}${x.parameter ? ` (${x.parameter})` : ''} | ${fmt(x.nsPerOp, 1)} | ${x.lowNs === undefined ? '' : spread(x.lowNs, x.highNs, 1)} |`,
      )
    }
    lines.push('')
  }
  const report = lines.join('\n')
  writeFileSync(`${dir}REPORT.md`, report)
  // The README's Performance tables, regenerated from this run (the lead pastes them).
  const readme = [`<!-- generated by bench/report.mjs from the run of ${run.date}; Node ${run.versions.node} -->`, '']
  if (run.targets) readme.push(...targetsTable(run.targets))
  readme.push(...crossTable(run))
  writeFileSync(`${dir}README-tables.md`, readme.join('\n'))
  writeFileSync(`${dir}overhead.svg`, chart(r))
  return report
}

// `node bench/report.mjs`: writes the report again from results/latest.json (no measuring).
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = fileURLToPath(new URL('./results/', import.meta.url))
  console.log(writeReport(JSON.parse(readFileSync(`${dir}latest.json`, 'utf8')), dir))
}
