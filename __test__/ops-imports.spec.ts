// What loading breakwater costs a user who does not use an integration: in a fresh child process
// (plain node, no tsx), the built package is loaded by name, by `import` and by `require`, and
// every file the process loaded for it is listed (fixtures/ops-metrics-imports.mjs).
import test from 'ava'
import { execFile } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'

const probe = fileURLToPath(new URL('./fixtures/ops-metrics-imports.mjs', import.meta.url))
const root = fileURLToPath(new URL('..', import.meta.url))

/** The optional peers and the frameworks the ops integrations work with: none may load by itself. */
const OPTIONAL = ['prom-client', '@opentelemetry/api', '@opentelemetry/sdk-metrics', 'express', 'fastify', 'pino', 'yaml']

interface Loaded {
  /** Packages under node_modules that were loaded. */
  packages: Set<string>
  /** Every file loaded (paths and URLs). */
  files: string[]
}

/** Loads `specifier` with `mode` in a child process and lists what it loaded. */
function load(mode: 'import' | 'require', specifier: string): Promise<Loaded> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [probe, mode, specifier], { cwd: root, timeout: 30_000, env: { ...process.env, NODE_OPTIONS: '' } }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`${mode} ${specifier}: ${error.message}\n${stderr}`))
      const { resolved, cjs } = JSON.parse(stdout) as { resolved: string[]; cjs: string[] }
      const files = [...resolved, ...cjs]
      const packages = new Set(files.flatMap((f) => [.../\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(f)?.slice(1, 2) ?? []]))
      resolve({ packages, files })
    })
  })
}

/** The built file of each entry: the spec reads dist/, so it must be there and newer than its source. */
function checkBuilt(t: { fail(message: string): void }, entry: string, source: string): boolean {
  for (const ext of ['js', 'cjs']) {
    const built = `${root}dist/${entry}.${ext}`
    if (!existsSync(built) || statSync(built).mtimeMs < statSync(`${root}${source}`).mtimeMs) {
      t.fail(`dist/${entry}.${ext} is missing or older than ${source}: run npx tsup`)
      return false
    }
  }
  return true
}

const modes = ['import', 'require'] as const

test('the probe sees packages loaded by import and by require', async (t) => {
  for (const mode of modes) {
    t.true((await load(mode, 'prom-client')).packages.has('prom-client'), mode)
    t.true((await load(mode, '@opentelemetry/api')).packages.has('@opentelemetry/api'), mode)
  }
})

for (const mode of modes) {
  test(`${mode === 'import' ? 'importing' : 'requiring'} breakwater loads none of prom-client, @opentelemetry/api, express, fastify, pino`, async (t) => {
    if (!checkBuilt(t, 'index', 'src/index.ts')) return
    const { packages, files } = await load(mode, 'breakwater')
    t.true(files.some((f) => f.endsWith(mode === 'import' ? '/dist/index.js' : '/dist/index.cjs')), 'the built entry was loaded')
    t.true(files.some((f) => f.endsWith('.node')), 'the native addon was loaded (the probe sees it)')
    t.deepEqual(OPTIONAL.filter((p) => packages.has(p)), [])
  })
}

for (const entry of ['prometheus', 'otel', 'logging'] as const) {
  for (const mode of modes) {
    test(`${mode === 'import' ? 'importing' : 'requiring'} breakwater/${entry} loads no package and not the native addon: it works with the registry and peer you pass`, async (t) => {
      if (!checkBuilt(t, entry, `src/ops/${entry}.ts`)) return
      const { packages, files } = await load(mode, `breakwater/${entry}`)
      t.true(files.some((f) => f.endsWith(`/dist/${entry}.${mode === 'import' ? 'js' : 'cjs'}`)), 'the built entry was loaded')
      t.deepEqual([...packages], [])
      const loader = [`${root}index.js`, pathToFileURL(`${root}index.js`).href]
      t.deepEqual(files.filter((f) => f.endsWith('.node') || loader.includes(f)), [], 'neither the native loader nor the addon')
    })
  }
}

for (const mode of modes) {
  test(`${mode === 'import' ? 'importing' : 'requiring'} breakwater/http loads neither express nor fastify`, async (t) => {
    if (!checkBuilt(t, 'http', 'src/ops/http.ts')) return
    const { packages } = await load(mode, 'breakwater/http')
    t.deepEqual(OPTIONAL.filter((p) => packages.has(p)), [])
  })
}

test("each module copy's integrations read the other copy's registry (no instanceof across copies)", async (t) => {
  if (!checkBuilt(t, 'prometheus', 'src/ops/prometheus.ts') || !checkBuilt(t, 'logging', 'src/ops/logging.ts')) return
  const require = createRequire(import.meta.url)
  const cjs = require('../dist/index.cjs') as typeof import('../src/index.ts')
  const cjsPrometheus = require('../dist/prometheus.cjs') as typeof import('../src/ops/prometheus.ts')
  const esm = (await import(pathToFileURL(`${root}dist/index.js`).href)) as typeof import('../src/index.ts')
  const esmPrometheus = (await import(pathToFileURL(`${root}dist/prometheus.js`).href)) as typeof import('../src/ops/prometheus.ts')
  const esmLogging = (await import(pathToFileURL(`${root}dist/logging.js`).href)) as typeof import('../src/ops/logging.ts')
  const { Registry: PromRegistry } = require('prom-client') as typeof import('prom-client')
  const fromEsm = new esm.Registry()
  const fromCjs = new cjs.Registry()
  fromEsm.getOrCreate('esm-breaker').forceOpen()
  const lines: unknown[] = []
  esmLogging.logTransitions(fromCjs, { info: (f) => lines.push(f), warn: (f) => lines.push(f) })
  fromCjs.getOrCreate('cjs-breaker').forceOpen()
  const register = new PromRegistry()
  cjsPrometheus.prometheusMetrics(fromEsm, { register })
  esmPrometheus.prometheusMetrics(fromCjs, { register, prefix: 'cjs_' })
  const text = await register.metrics()
  t.regex(text, /^breakwater_circuitbreaker_state\{name="esm-breaker",state="forced_open"\} 1$/m)
  t.regex(text, /^cjs_circuitbreaker_state\{name="cjs-breaker",state="forced_open"\} 1$/m)
  t.like(lines, [{ breaker: 'cjs-breaker', to: 'forced_open' }])
})
