// `npm run bench` (and `npm run bench:quick`): every suite in one run, then the report.
// JS suites with benny, the targets in interleaved rounds (bench/targets.mjs), memory and
// idle CPU per library in child processes, worker threads, and the Rust core's criterion results
// against failsafe and recloser. `npm run bench:cross` adds the other languages afterwards.
// BENCH_PEERS=<folder> takes opossum and cockatiel from <folder>/node_modules (bench/peers.mjs).
import b from 'benny'
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { BATCH, contenders } from './contenders.mjs'
import { criterionResults } from './criterion.mjs'
import { peerVersions } from './peers.mjs'
import { writeReport } from './report.mjs'
import { measureTargets, memoryTargets, rustTargets } from './targets.mjs'

const quick = process.argv.includes('--quick')
const skipRust = process.argv.includes('--no-rust')
const root = fileURLToPath(new URL('..', import.meta.url))
const resultsArg = process.argv.indexOf('--results') // another folder for a lane's results (e.g. Node 24, newer peers)
const results = resultsArg === -1 ? fileURLToPath(new URL('./results/', import.meta.url)) : `${path.resolve(process.argv[resultsArg + 1])}/`
const timing = quick ? { minTime: 0.05, maxTime: 0.15, minSamples: 3 } : { minTime: 1, maxTime: 3, minSamples: 10 }

async function jsSuites() {
  const records = []
  const cases = contenders()
  for (const suite of [...new Set(cases.map((c) => c.suite))]) {
    const mine = cases.filter((c) => c.suite === suite)
    const summary = await b.suite(suite, ...mine.map((c) => b.add(`${c.library}: ${c.case}`, c.run)), b.configure({ cases: timing }), b.cycle())
    const bare = summary.results.find((r) => r.name.startsWith('bare:'))
    const bareNs = bare ? 1e9 / (bare.ops * BATCH) : undefined
    summary.results.forEach((r, i) => {
      const nsPerOp = 1e9 / (r.ops * BATCH)
      records.push({
        language: 'javascript',
        suite,
        case: mine[i].case,
        library: mine[i].library,
        opsPerSec: r.ops * BATCH,
        nsPerOp,
        overheadNs: bareNs === undefined || mine[i].library === 'bare' ? null : nsPerOp - bareNs,
        samples: r.samples,
        rme: r.margin,
      })
    })
  }
  return records
}

/** Target 4 needs a spread: the largest count runs MEMORY_ROUNDS times for breakwater and cockatiel. */
const MEMORY_ROUNDS = 3

function memorySuite() {
  const records = []
  const counts = quick ? [10_000] : [10_000, 100_000]
  const measure = (library, count, idleMs, round) => {
    const out = execFileSync(process.execPath, ['--expose-gc', 'bench/memory.mjs', library, String(count), String(idleMs)], { cwd: root, encoding: 'utf8' })
    records.push({ language: 'javascript', suite: 'memory', case: `${count} breakers`, round, ...JSON.parse(out) })
  }
  for (const count of counts) {
    for (const library of ['breakwater', 'opossum', 'cockatiel']) measure(library, count, quick ? 300 : 2000, 1)
  }
  const largest = counts.at(-1)
  for (let round = 2; round <= (quick ? 1 : MEMORY_ROUNDS); round++) {
    for (const library of ['breakwater', 'cockatiel']) measure(library, largest, 100, round)
  }
  return records
}

function workerSuite() {
  const out = execFileSync(process.execPath, ['bench/workers.mjs', quick ? '300' : '2000'], { cwd: root, encoding: 'utf8' })
  return JSON.parse(out)
}

/** Closed execute with the ops integrations attached vs not, and scrape times (bench/ops-scrape.mjs). */
function opsSuite() {
  const out = execFileSync(process.execPath, ['--import=tsx', 'bench/ops-scrape.mjs', '--json', ...(quick ? ['--quick'] : [])], { cwd: root, encoding: 'utf8' })
  return JSON.parse(out)
}

/** The fleet's propagation latency and the closed call with the fleet on vs off (bench/fleet.mjs). */
function fleetSuite() {
  const env = quick ? { ...process.env, FLEET_BENCH_ROUNDS: '50', FLEET_BENCH_CALL_ROUNDS: '5' } : process.env
  return JSON.parse(execFileSync(process.execPath, ['--import=tsx', 'bench/fleet.mjs'], { cwd: root, encoding: 'utf8', env }))
}

function rustSuite() {
  if (skipRust) return criterionResults(root) // the last criterion run, if any (marked in the report)
  execFileSync('cargo', ['bench', '-p', 'breakwater', '--bench', 'breaker', '--', ...(quick ? ['--quick'] : [])], { cwd: root, stdio: 'inherit' })
  return criterionResults(root)
}

const records = await jsSuites()
const targets = await measureTargets(quick ? 5 : 11)
const memory = memorySuite()
const rust = rustSuite()
const run = {
  date: new Date().toISOString(),
  quick,
  machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, platform: `${process.platform}-${process.arch}`, memory: os.totalmem() },
  versions: {
    node: process.version,
    breakwater: (await import('../package.json', { with: { type: 'json' } })).default.version,
    ...peerVersions,
  },
  records,
  targets: { ...targets, targets: [...targets.targets, ...memoryTargets(memory), ...rustTargets(rust)] },
  memory,
  workers: workerSuite(),
  ops: opsSuite(),
  fleet: fleetSuite(),
  rust,
  rustFresh: !skipRust,
}
mkdirSync(results, { recursive: true })
writeFileSync(`${results}latest.json`, `${JSON.stringify(run, null, 2)}\n`)
console.log(writeReport(run, results))
