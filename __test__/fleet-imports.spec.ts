// The fleet's dependency stays behind its subpath: in a fresh child process (plain node, the
// built package loaded by name, by `import` and by `require`), `breakwater` and the other entries
// load no ioredis; `breakwater/fleet` does (and the native addon, which it drives). Same probe
// as ops-imports.spec.ts (fixtures/ops-metrics-imports.mjs).
import test from 'ava'
import { execFile } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const probe = fileURLToPath(new URL('./fixtures/ops-metrics-imports.mjs', import.meta.url))
const root = fileURLToPath(new URL('..', import.meta.url))

function load(mode: 'import' | 'require', specifier: string): Promise<{ packages: Set<string>; files: string[] }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [probe, mode, specifier], { cwd: root, timeout: 30_000, env: { ...process.env, NODE_OPTIONS: '' } }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`${mode} ${specifier}: ${error.message}\n${stderr}`))
      const { resolved, cjs } = JSON.parse(stdout) as { resolved: string[]; cjs: string[] }
      const files = [...resolved, ...cjs]
      const packages = new Set(files.flatMap((f) => [...(/\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(f)?.slice(1, 2) ?? [])]))
      resolve({ packages, files })
    })
  })
}

function built(t: { fail(message: string): void }): boolean {
  const file = `${root}dist/fleet.js`
  if (!existsSync(file) || statSync(file).mtimeMs < statSync(`${root}src/fleet/fleet.ts`).mtimeMs) {
    t.fail('dist/fleet.js is missing or older than src/fleet/fleet.ts: run npx tsup')
    return false
  }
  return true
}

for (const mode of ['import', 'require'] as const) {
  for (const specifier of ['breakwater', 'breakwater/http', 'breakwater/prometheus', 'breakwater/otel', 'breakwater/logging', 'breakwater/testing']) {
    test(`${mode} ${specifier} loads no ioredis`, async (t) => {
      if (!built(t)) return
      const { packages } = await load(mode, specifier)
      t.false(packages.has('ioredis'))
    })
  }

  test(`${mode} breakwater/fleet loads ioredis, from the fleet entry only`, async (t) => {
    if (!built(t)) return
    const { packages, files } = await load(mode, 'breakwater/fleet')
    t.true(packages.has('ioredis'))
    t.true(files.some((f) => f.endsWith('/dist/fleet.js')))
  })
}
