// `npm test`: build what is missing, run the Rust tests, then the ava specs; print one
// "N passed, N failed" line for CI.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const step = (cmd, args) => {
  const r = spawnSync(cmd, args, {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    shell: process.platform === 'win32', // npx is npx.cmd there
  })
  process.stdout.write(r.stdout)
  process.stderr.write(r.stderr)
  return { ok: r.status === 0, out: `${r.stdout}\n${r.stderr}` }
}

const built = step('node', ['scripts/ensure-built.mjs'])
if (!built.ok) process.exit(1)
// TypeScript's formatter and linter, as cargo fmt and clippy are for Rust (CI runs those).
const lint = step('npx', ['biome', 'check', '.'])
if (!lint.ok) {
  console.log('0 passed, 1 failed (biome check: run `npm run format`, then fix what `npm run lint` reports)')
  process.exit(1)
}

let passed = 0
let failed = 0
const rust = step('cargo', ['test', '--workspace', '--all-features'])
for (const m of rust.out.matchAll(/test result: \w+\. (\d+) passed; (\d+) failed/g)) {
  passed += Number(m[1])
  failed += Number(m[2])
}
if (!rust.ok && failed === 0) failed = 1

const ava = step('npx', ['ava'])
const avaPassed = /(\d+) tests? passed/.exec(ava.out)
const avaFailed = /(\d+) tests? failed/.exec(ava.out)
passed += Number(avaPassed?.[1] ?? 0)
failed += Number(avaFailed?.[1] ?? (ava.ok ? 0 : 1))

console.log(`${passed} passed, ${failed} failed`)
process.exit(rust.ok && ava.ok ? 0 : 1)
