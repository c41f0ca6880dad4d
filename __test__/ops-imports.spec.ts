// What loading breakwater costs a user who does not use an integration: in a fresh child process
// (plain node, no tsx), the built package is loaded by name, by `import` and by `require`, and
// every file the process loaded for it is listed (fixtures/ops-metrics-imports.mjs). The package is
// ESM only: `require` gives the module `import` gives (one copy), so the files `import` lists are
// the ones `require` loads.
import test from 'ava'
import { execFile, spawnSync } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
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
  /** With `require`: whether `import` of the same specifier then gave the same module. */
  same?: boolean
}

/** Loads `specifier` with `mode` in a child process and lists what it loaded. */
function load(mode: 'import' | 'require', specifier: string): Promise<Loaded> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [probe, mode, specifier], { cwd: root, timeout: 30_000, env: { ...process.env, NODE_OPTIONS: '' } }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`${mode} ${specifier}: ${error.message}\n${stderr}`))
      const { resolved, cjs, same } = JSON.parse(stdout) as { resolved: string[]; cjs: string[]; same?: boolean }
      const files = [...resolved, ...cjs]
      const packages = new Set(files.flatMap((f) => [...(/\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(f)?.slice(1, 2) ?? [])]))
      resolve({ packages, files, same })
    })
  })
}

/** The built file of each entry: the spec reads dist/, so it must be there and newer than its source. */
function checkBuilt(t: { fail(message: string): void }, entry: string, source: string): boolean {
  const built = `${root}dist/${entry}.js`
  if (!existsSync(built) || statSync(built).mtimeMs < statSync(`${root}${source}`).mtimeMs) {
    t.fail(`dist/${entry}.js is missing or older than ${source}: run npx tsup`)
    return false
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
    t.true(
      files.some((f) => f.endsWith('/dist/index.js')),
      'the built entry was loaded (ESM, for require too)',
    )
    t.true(
      files.some((f) => f.endsWith('.node')),
      'the native addon was loaded (the probe sees it)',
    )
    t.deepEqual(
      OPTIONAL.filter((p) => packages.has(p)),
      [],
    )
  })
}

for (const entry of ['prometheus', 'otel', 'logging'] as const) {
  for (const mode of modes) {
    test(`${mode === 'import' ? 'importing' : 'requiring'} breakwater/${entry} loads no package and not the native addon: it works with the registry and peer you pass`, async (t) => {
      if (!checkBuilt(t, entry, `src/ops/${entry}.ts`)) return
      const { packages, files } = await load(mode, `breakwater/${entry}`)
      t.true(
        files.some((f) => f.endsWith(`/dist/${entry}.js`)),
        'the built entry was loaded (ESM, for require too)',
      )
      t.deepEqual([...packages], [])
      const loader = [`${root}index.js`, pathToFileURL(`${root}index.js`).href]
      t.deepEqual(
        files.filter((f) => f.endsWith('.node') || loader.includes(f)),
        [],
        'neither the native loader nor the addon',
      )
    })
  }
}

for (const mode of modes) {
  test(`${mode === 'import' ? 'importing' : 'requiring'} breakwater/http loads neither express nor fastify`, async (t) => {
    if (!checkBuilt(t, 'http', 'src/ops/http.ts')) return
    const { packages } = await load(mode, 'breakwater/http')
    t.deepEqual(
      OPTIONAL.filter((p) => packages.has(p)),
      [],
    )
  })
}

const entries = ['breakwater', 'breakwater/testing', 'breakwater/http', 'breakwater/prometheus', 'breakwater/otel', 'breakwater/logging']

for (const specifier of entries) {
  test(`require('${specifier}') gives the module import gives: one copy, no CommonJS build`, async (t) => {
    const entry = specifier === 'breakwater' ? 'index' : specifier.slice('breakwater/'.length)
    const { files, same } = await load('require', specifier)
    t.true(same, 'import after require gave the very same module namespace')
    t.true(
      files.some((f) => f.endsWith(`/dist/${entry}.js`)),
      'require loaded the ESM entry',
    )
    t.deepEqual(
      files.filter((f) => /\.c[jt]s$/.test(f)),
      [],
      'no CommonJS file of the package',
    )
  })
}

test('the integrations loaded by require read the registry created by import: one class, instanceof across', (t) => {
  // Plain node, not this process: tsx's require hook would compile a second copy of dist/.
  const code = `
    const { createRequire } = require('node:module')
    const { Registry: PromRegistry } = require('prom-client')
    const { prometheusMetrics } = require('breakwater/prometheus')
    const { logTransitions } = require('breakwater/logging')
    import('breakwater').then(async (esm) => {
      const cjs = require('breakwater')
      const breakers = new esm.Registry()
      const lines = []
      logTransitions(breakers, { info: (f) => lines.push(f), warn: (f) => lines.push(f) })
      breakers.getOrCreate('orders').forceOpen()
      const register = new PromRegistry()
      prometheusMetrics(breakers, { register })
      const text = await register.metrics()
      console.log(JSON.stringify({
        instanceofAcross: [breakers instanceof cjs.Registry, breakers.getOrCreate('orders') instanceof cjs.CircuitBreaker],
        state: /^breakwater_circuitbreaker_state\\{name="orders",state="forced_open"\\} 1$/m.test(text),
        lines: lines.map((l) => l.breaker + ':' + l.to),
      }))
    })`
  const run = spawnSync(process.execPath, ['-e', code], { cwd: root, encoding: 'utf8', timeout: 30_000, env: { ...process.env, NODE_OPTIONS: '' } })
  t.is(run.status, 0, run.stderr)
  t.deepEqual(JSON.parse(run.stdout), { instanceofAcross: [true, true], state: true, lines: ['orders:forced_open'] })
})
