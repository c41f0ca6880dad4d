// latest.json -> REPORT.md (tables with ratios) and overhead.svg (the chart the README shows).
import { writeFileSync } from 'node:fs'

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

export function writeReport(run, dir) {
  const r = run.records
  const lines = [
    '# Benchmark report',
    '',
    `${run.date}${run.quick ? ' (quick run: short timings, noisy)' : ''}; Node ${run.versions.node}, breakwater ${run.versions.breakwater}, opossum ${run.versions.opossum}, cockatiel ${run.versions.cockatiel}; ${run.machine.cpus} x ${run.machine.model}.`,
    'Ratios are what transfers between machines; absolute times do not.',
    '',
    '![overhead](overhead.svg)',
    '',
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
  lines.push(
    '## Ratios (breakwater / peer; below 1 is faster)',
    '',
    '| comparison | vs opossum | vs cockatiel | vs minimal JS |',
    '|---|---|---|---|',
    `| closed execute overhead | ${ratio(bwClosed, best(r, 'closed execute', 'opossum', 'overheadNs'))} | ${ratio(bwClosed, best(r, 'closed execute', 'cockatiel', 'overheadNs'))} | ${ratio(bwClosed, best(r, 'closed execute', 'minimal JS', 'overheadNs'))} |`,
    `| rejected execute, caught | ${ratio(bwReject, best(r, 'open rejection', 'opossum', 'nsPerOp', 'caught'))} | ${ratio(bwReject, best(r, 'open rejection', 'cockatiel', 'nsPerOp', 'caught'))} | |`,
    `| closed execute with a 10 s timeout, overhead | ${ratio(best(r, 'closed execute', 'breakwater', 'overheadNs', 'timeout'), best(r, 'closed execute', 'opossum', 'overheadNs', 'default'))} | | |`,
    `| wrap(retry, breaker, timeout) overhead | | ${ratio(best(r, 'composition', 'breakwater', 'overheadNs'), best(r, 'composition', 'cockatiel', 'overheadNs'))} | |`,
    '',
    "(The best case of each peer: opossum with `timeout: false`, cockatiel with the faster of its two breakers; with a timeout, opossum's default, which has one.)",
    '',
    '## Memory and idle CPU',
    '',
    '| breakers | library | JS heap bytes each | RSS bytes each (heap + native) | idle CPU % |',
    '|---|---|---|---|---|',
    ...run.memory.map((m) => `| ${m.count} | ${m.library} | ${fmt(m.heapBytesPerBreaker)} | ${fmt(m.rssBytesPerBreaker)} | ${fmt(m.idleCpuPercent, 2)} |`),
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
  if (run.rust.length) {
    lines.push('## Rust core (criterion medians)', '', '| group | case | ns |', '|---|---|---|')
    for (const x of run.rust) lines.push(`| ${x.suite} | ${x.case}${x.parameter ? ` (${x.parameter})` : ''} | ${fmt(x.nsPerOp, 1)} |`)
    lines.push('')
  }
  const report = lines.join('\n')
  writeFileSync(`${dir}REPORT.md`, report)
  writeFileSync(`${dir}overhead.svg`, chart(r))
  return report
}
