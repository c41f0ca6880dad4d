// `npm run bench:cross`: the same workload through the circuit breakers of other languages, each in
// its own idiomatic harness (bench/cross/<lang>/): gobreaker (Go testing.B), pybreaker (pyperf),
// resilience4j (JMH through Maven). A language whose toolchain is absent is skipped with the reason.
// The results are merged into results/latest.json (`cross`, one record per case with a `language`)
// and the report is written again, with one table across languages next to breakwater's Node and
// Rust numbers from the same file: run `npm run bench` first.
//   node bench/cross.mjs [--long] [--only go,python,java] [--out file.json]
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { delimiter, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { stripVTControlCharacters } from 'node:util'
import { writeReport } from './report.mjs'

const here = fileURLToPath(new URL('./cross/', import.meta.url))
const resultsDir = fileURLToPath(new URL('./results/', import.meta.url))

export const CASES = ['closed call', 'refused call', '2 threads, one breaker']

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** One record per case: median ns per call and the spread (min, max) over the harness's samples. */
function record(language, library, version, harness, name, nsSamples) {
  return {
    suite: 'cross-language',
    language,
    library,
    version,
    harness,
    case: name,
    nsPerOp: median(nsSamples),
    minNs: Math.min(...nsSamples),
    maxNs: Math.max(...nsSamples),
    samples: nsSamples.length,
  }
}

/** The first line a tool prints about its version, or null when it cannot be started. */
function toolVersion(cmd, args, env) {
  const r = spawnSync(cmd, args, { env, encoding: 'utf8' })
  if (r.error || r.status !== 0) return null
  // mvn colours its version line
  return stripVTControlCharacters(`${r.stdout}${r.stderr}`).trim().split('\n')[0]
}

export const languages = [
  {
    language: 'go',
    library: 'gobreaker',
    version: 'v2.4.0',
    harness: 'go test -bench (testing.B)',
    tools: [['go', ['version']]],
    run(long, env) {
      const args = ['test', '-run', '^$', '-bench', '.', '-cpu', '2', '-benchtime', long ? '1s' : '300ms', '-count', long ? '10' : '5']
      const out = execFileSync('go', args, { cwd: join(here, 'go'), env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
      const names = { ClosedCall: CASES[0], RefusedCall: CASES[1], SharedClosedCall: CASES[2] }
      const samples = {}
      for (const m of out.matchAll(/^Benchmark(\w+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns\/op/gm)) (samples[m[1]] ??= []).push(Number(m[2]))
      return Object.entries(names).map(([bench, name]) => record('go', this.library, this.version, this.harness, name, samples[bench] ?? []))
    },
  },
  {
    language: 'python',
    library: 'pybreaker',
    version: '1.4.1',
    harness: 'pyperf 2.10 (bench_time_func, batches of 100 calls)',
    tools: [['python3', ['--version']]],
    run(long, env) {
      const dir = join(here, 'python')
      const python = join(dir, '.venv/bin/python')
      if (!existsSync(python)) execFileSync('python3', ['-m', 'venv', '.venv'], { cwd: dir, env, stdio: 'inherit' })
      execFileSync(python, ['-m', 'pip', 'install', '-q', '-r', 'requirements.txt'], { cwd: dir, env, stdio: 'inherit' })
      const tmp = mkdtempSync(join(os.tmpdir(), 'bench-py-'))
      try {
        const summary = join(tmp, 'summary.json')
        const args = ['bench_pybreaker.py', '--quiet', ...(long ? [] : ['--fast'])]
        execFileSync(python, args, { cwd: dir, env: { ...env, BENCH_SUMMARY: summary }, stdio: ['ignore', 'ignore', 'inherit'] })
        const got = JSON.parse(readFileSync(summary, 'utf8'))
        return CASES.map((name) =>
          record(
            'python',
            this.library,
            this.version,
            this.harness,
            name,
            (got[name]?.values ?? []).map((s) => s * 1e9),
          ),
        )
      } finally {
        rmSync(tmp, { recursive: true, force: true })
      }
    },
  },
  {
    language: 'java',
    library: 'resilience4j-circuitbreaker',
    version: '2.4.0',
    harness: 'JMH 1.37 (throughput mode)',
    tools: [
      ['java', ['-version']],
      ['mvn', ['-v']],
    ],
    run(long, env) {
      const dir = join(here, 'java')
      execFileSync('mvn', ['-q', '-B', 'compile', 'dependency:build-classpath', '-Dmdep.outputFile=target/classpath.txt'], { cwd: dir, env, stdio: 'inherit' })
      const classpath = `target/classes${delimiter}${readFileSync(join(dir, 'target/classpath.txt'), 'utf8').trim()}`
      const settings = long ? ['-f', '2', '-wi', '5', '-w', '2s', '-i', '10', '-r', '2s'] : ['-f', '1', '-wi', '2', '-w', '1s', '-i', '5', '-r', '1s']
      const out = join(dir, 'target/jmh.json')
      execFileSync('java', ['-cp', classpath, 'org.openjdk.jmh.Main', ...settings, '-rf', 'json', '-rff', out], {
        cwd: dir,
        env,
        stdio: ['ignore', 'ignore', 'inherit'],
      })
      const names = { closedCall: CASES[0], refusedCall: CASES[1], sharedClosedCall: CASES[2] }
      const got = JSON.parse(readFileSync(out, 'utf8'))
      return Object.entries(names).map(([bench, name]) => {
        const b = got.find((x) => x.benchmark.endsWith(`.${bench}`))
        // Throughput over all threads of the benchmark, per iteration -> ns per call, all threads.
        const ns = (b?.primaryMetric.rawData.flat() ?? []).map((ops) => 1e9 / ops)
        return record('java', this.library, this.version, this.harness, name, ns)
      })
    },
  },
]

/** Why a language cannot run here (its missing tool), or null when every tool answers. */
export function missingToolchain(lang, env = process.env) {
  for (const [cmd, args] of lang.tools) {
    if (toolVersion(cmd, args, env) === null) return `\`${cmd}\` is not on PATH (or does not start)`
  }
  return null
}

/** Runs every language (or those in `only`); each entry says what ran, or why it was skipped. */
export function runCross({ long = false, only = null, env = process.env, log = console.error } = {}) {
  const entries = []
  for (const lang of languages) {
    if (only && !only.includes(lang.language)) continue
    const reason = missingToolchain(lang, env)
    const base = { language: lang.language, library: lang.library, version: lang.version, harness: lang.harness }
    if (reason) {
      log(`bench:cross: skipped ${lang.language} (${lang.library}): ${reason}`)
      entries.push({ ...base, skipped: reason, records: [] })
      continue
    }
    const toolchain = lang.tools.map(([cmd, args]) => toolVersion(cmd, args, env)).join('; ')
    log(`bench:cross: ${lang.language} (${lang.library} ${lang.version}) with ${toolchain}`)
    const started = Date.now()
    try {
      const records = lang.run(long, env)
      entries.push({ ...base, toolchain, seconds: (Date.now() - started) / 1000, records })
    } catch (e) {
      log(`bench:cross: ${lang.language} failed: ${e.message}`)
      entries.push({ ...base, toolchain, failed: String(e.message).split('\n')[0], records: [] })
    }
  }
  return { date: new Date().toISOString(), long, languages: entries }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2)
  const flag = (name) => {
    const i = argv.indexOf(name)
    return i === -1 ? undefined : argv[i + 1]
  }
  const cross = runCross({ long: argv.includes('--long'), only: flag('--only')?.split(',') ?? null })
  const out = flag('--out')
  if (out) {
    writeFileSync(out, `${JSON.stringify(cross, null, 2)}\n`)
  } else {
    const latest = join(resultsDir, 'latest.json')
    if (!existsSync(latest)) throw new Error('bench/results/latest.json is missing: run `npm run bench` first')
    const run = JSON.parse(readFileSync(latest, 'utf8'))
    run.cross = cross
    writeFileSync(latest, `${JSON.stringify(run, null, 2)}\n`)
    console.log(writeReport(run, resultsDir))
  }
}
