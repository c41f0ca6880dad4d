// Every ```ts block of the README type-checks against the real API, so the docs cannot drift.
import test from 'ava'
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))

test('every TypeScript example in the README type-checks', (t) => {
  const blocks = [...readFileSync(join(root, 'README.md'), 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!)
  t.true(blocks.length >= 5, `found ${blocks.length} examples`)
  const dir = join(root, '__test__/.readme')
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  blocks.forEach((code, i) => writeFileSync(join(dir, `example-${i + 1}.ts`), code))
  const compilerOptions = {
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    target: 'ES2022',
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    allowImportingTsExtensions: true,
    types: ['node'],
    paths: {
      breakwater: ['../../src/index.ts'],
      'breakwater/testing': ['../../src/testing.ts'],
      'breakwater/http': ['../../src/ops/http.ts'],
      'breakwater/prometheus': ['../../src/ops/prometheus.ts'],
      'breakwater/otel': ['../../src/ops/otel.ts'],
      'breakwater/logging': ['../../src/ops/logging.ts'],
      'breakwater/fleet': ['../../src/fleet/index.ts'],
    },
  }
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, include: ['*.ts'] }))
  try {
    execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', dir], { encoding: 'utf8' })
    t.pass()
  } catch (e) {
    t.fail((e as { stdout?: string }).stdout)
  }
})
