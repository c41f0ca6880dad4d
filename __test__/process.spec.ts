import test from 'ava'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))
const run = (file: string, ...args: string[]) => spawnSync(process.execPath, ['--import=tsx', fixture(file), ...args], { encoding: 'utf8', timeout: 60_000 })

test('a script that creates breakers and runs calls with timeouts exits on its own', (t) => {
  const child = run('exits-on-its-own.ts')
  t.is(child.signal, null, 'it was not killed by the safety timeout: nothing kept it alive')
  t.is(child.status, 0, child.stderr)
  t.is(child.stdout.trim(), 'done 100')
})

test('random option objects never crash the process: each is accepted or refused with a Type/RangeError', (t) => {
  for (const seed of ['1', '2', '3']) {
    const child = run('fuzz-options.ts', seed)
    t.is(child.status, 0, child.stderr)
    const tally = JSON.parse(child.stdout) as Record<string, number>
    t.deepEqual(
      Object.keys(tally).filter((k) => k.startsWith('unexpected')),
      [],
    )
    t.true((tally.created ?? 0) > 0 && (tally.RangeError ?? 0) > 0 && (tally.TypeError ?? 0) > 0, JSON.stringify(tally))
  }
})

test('random options for every policy and adapter are accepted or refused with a Type/RangeError, never a crash', (t) => {
  for (const seed of ['1', '2']) {
    const child = run('fuzz-policies.ts', seed)
    t.is(child.status, 0, child.stderr)
    const tally = JSON.parse(child.stdout) as Record<string, number>
    t.deepEqual(
      Object.keys(tally).filter((k) => k.startsWith('unexpected')),
      [],
    )
    t.true((tally.made ?? 0) > 0 && (tally.RangeError ?? 0) > 0 && (tally.TypeError ?? 0) > 0, JSON.stringify(tally))
  }
})
