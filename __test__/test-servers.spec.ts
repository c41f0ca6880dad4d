// How specs find the programs they need (PostgreSQL, promtool) and what happens without them:
// skipped with the reason shown on a developer's machine, failed under CI=true.
import test, { type TestFn } from 'ava'
import { chmodSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { needs } from './servers/needs.ts'
import { findPostgres } from './servers/postgres.ts'

/** Runs `body` with the environment variables `vars` set (undefined: unset), then restores them. */
function withEnv<T>(vars: Record<string, string | undefined>, body: () => T): T {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]))
  const apply = (values: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  }
  apply(vars)
  try {
    return body()
  } finally {
    apply(saved)
  }
}

test.serial('findPostgres takes the folder with both initdb and pg_ctl from PG_BIN or PATH, following a link to where they are', (t) => {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'breakwater-pgbin-')))
  try {
    const real = join(dir, 'postgresql', '99', 'bin')
    const onPath = join(dir, 'bin')
    const half = join(dir, 'half')
    for (const d of [real, onPath, half]) mkdirSync(d, { recursive: true })
    for (const p of ['initdb', 'pg_ctl']) {
      writeFileSync(join(real, p), '#!/bin/sh\n')
      chmodSync(join(real, p), 0o755)
      symlinkSync(join(real, p), join(onPath, p))
    }
    writeFileSync(join(half, 'initdb'), '') // initdb without pg_ctl: not a server install
    t.is(withEnv({ PG_BIN: real }, findPostgres), real)
    t.is(
      withEnv({ PG_BIN: half, PATH: [half, onPath, process.env.PATH].join(delimiter) }, findPostgres),
      real,
      'PATH, past a folder without pg_ctl, through the links',
    )
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

/** A stand-in for ava's `test` that records what gets declared with it. */
function recorder() {
  const declared: string[] = []
  const ran: string[] = []
  const declare = (kind: string) => (title: string, impl: (t: { fail(m: string): void }) => void) => {
    declared.push(`${kind}: ${title}`)
    impl({ fail: (m) => ran.push(`fail: ${m}`) })
  }
  const hook = () => declared.push('hook')
  const serial = Object.assign(declare('serial'), { skip: declare('serial.skip'), todo: hook })
  const ava = Object.assign(declare('test'), { serial, skip: declare('skip'), todo: hook, before: hook, after: hook, meta: {} })
  return { ava: ava as unknown as TestFn, declared, ran }
}

test.serial("needs: a program found gives ava's test itself; missing, its specs are skipped with the reason in their titles and its hooks never run", (t) => {
  const found = recorder()
  t.is(needs('PostgreSQL', true, 'hint', found.ava), found.ava)
  const missing = recorder()
  const warnings: unknown[] = []
  const warn = console.warn
  console.warn = (...args: unknown[]) => warnings.push(args.join(' '))
  try {
    withEnv({ CI: undefined }, () => {
      const pgTest = needs('Redis', false, 'apt-get install -y redis-server', missing.ava)
      pgTest.before(() => undefined)
      pgTest.after.always(() => undefined)
      pgTest('a', (t) => t.pass())
      pgTest.serial('b', (t) => t.pass())
      needs('Redis', false, 'apt-get install -y redis-server', missing.ava)
    })
  } finally {
    console.warn = warn
  }
  t.deepEqual(missing.declared, ['skip: a [skipped: Redis not found]', 'serial.skip: b [skipped: Redis not found]'])
  t.deepEqual(warnings, ['Redis not found (apt-get install -y redis-server): its specs are skipped (with CI=true they fail)'], 'said once')
})

test.serial('needs under CI=true: a missing program fails each of its specs, with the reason', (t) => {
  const missing = recorder()
  withEnv({ CI: 'true', BREAKWATER_TEST_WITHOUT: undefined }, () => {
    const chromeTest = needs('Chromium', false, 'apt-get install -y chromium', missing.ava)
    chromeTest.before(() => undefined)
    chromeTest('a', (t) => t.pass())
    chromeTest.serial('b', (t) => t.pass())
  })
  t.deepEqual(missing.declared, ['test: a', 'serial: b'])
  t.deepEqual(missing.ran, [
    'fail: Chromium not found (apt-get install -y chromium); CI=true requires it',
    'fail: Chromium not found (apt-get install -y chromium); CI=true requires it',
  ])
})

test.serial('needs under CI=true with the program named in BREAKWATER_TEST_WITHOUT: skipped, as outside CI', (t) => {
  const missing = recorder()
  const warn = console.warn
  console.warn = () => undefined
  try {
    withEnv({ CI: 'true', BREAKWATER_TEST_WITHOUT: 'promtool, postgresql' }, () => {
      needs('PostgreSQL', false, 'hint', missing.ava)('a', (t) => t.pass())
      needs('Chromium', false, 'hint', missing.ava)('b', (t) => t.pass())
    })
  } finally {
    console.warn = warn
  }
  t.deepEqual(missing.declared, ['skip: a [skipped: PostgreSQL not found]', 'test: b'], 'only the programs named, case aside')
  t.deepEqual(missing.ran, ['fail: Chromium not found (hint); CI=true requires it'])
})
