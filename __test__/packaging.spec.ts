// The package as a user gets it: the root tarball and the linux-x64-gnu platform package (made
// the way the release CI makes them) installed into a new project outside the repository, where a
// TypeScript program and a CommonJS one import breakwater, trip a breaker and recover it; require
// and import give one module, and a CommonJS TypeScript project type-checks against it.
import test from 'ava'
import { execFileSync } from 'node:child_process'
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const sh = (cmd: string, args: string[], cwd: string) =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_update_notifier: 'false' } })

/**
 * The root package as the release publishes it: what `files` selects, with the optional
 * dependencies on every platform package that `napi pre-publish` writes into package.json at release
 * (the repository's package.json cannot list them: they are not published yet, and `npm ci` would fail).
 */
function stageRootPackage(tmp: string): string {
  const stage = join(tmp, 'stage')
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
  for (const entry of [...manifest.files, 'README.md']) cpSync(join(root, entry), join(stage, entry), { recursive: true })
  const platforms = readdirSync(join(root, 'npm'))
  manifest.optionalDependencies = Object.fromEntries(platforms.map((p) => [`${manifest.name}-${p}`, manifest.version]))
  writeFileSync(join(stage, 'package.json'), JSON.stringify(manifest, null, 2))
  return stage
}

const app = `
import { circuitBreaker, isBrokenCircuitError, Registry, type Metrics } from 'breakwater'
import { FakeClock } from 'breakwater/testing'

const clock = new FakeClock()
const breakers = new Registry({ clock })
const orders = breakers.getOrCreate('orders', { consecutiveFailures: 2, openFor: '10s', halfOpenSuccesses: 1 })
for (let i = 0; i < 2; i++) await orders.execute(async () => { throw new Error('broker down') }).catch(() => {})
const refused = await orders.execute(async () => 'sent').catch((e: unknown) => isBrokenCircuitError(e) && e.retryAfterMs)
clock.advance('10s')
const sent: string = await orders.execute(async () => 'sent')
const m: Metrics = orders.metrics()
console.log(JSON.stringify({ refused, sent, state: orders.state, opened: m.timesOpened, global: circuitBreaker('g').state }))
`

// The tarball test uses this machine's artifact, which the release CI builds on linux x64.
const onLinuxX64 = process.platform === 'linux' && process.arch === 'x64' ? test : test.skip

onLinuxX64('the packed tarballs install into a new project and work from TypeScript and CommonJS', (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'breakwater-pack-'))
  try {
    // As the release CI does it: npm/ and artifacts/ in the project (both ignored by git).
    const npmDir = join(root, 'npm')
    sh('npx', ['napi', 'create-npm-dirs'], root)
    const artifacts = join(root, 'artifacts')
    mkdirSync(artifacts, { recursive: true })
    copyFileSync(join(root, 'breakwater.linux-x64-gnu.node'), join(artifacts, 'breakwater.linux-x64-gnu.node'))
    // Only this machine's target is built here; the release CI has every target's artifact.
    const config = join(artifacts, 'napi.json')
    writeFileSync(config, JSON.stringify({ binaryName: 'breakwater', targets: ['x86_64-unknown-linux-gnu'] }))
    sh('npx', ['napi', 'artifacts', '--output-dir', 'artifacts', '-c', 'artifacts/napi.json'], root)
    const platformTgz = sh('npm', ['pack', '--silent', '--pack-destination', tmp], join(npmDir, 'linux-x64-gnu')).trim()
    const rootTgz = sh('npm', ['pack', '--silent', '--pack-destination', tmp], stageRootPackage(tmp)).trim()
    const listed = sh('tar', ['-tzf', join(tmp, rootTgz)], tmp)
      .split('\n')
      .filter(Boolean)
    const manifest = JSON.parse(sh('tar', ['-xzOf', join(tmp, rootTgz), 'package/package.json'], tmp))
    t.is(Object.keys(manifest.optionalDependencies).length, 8, 'one optional dependency per platform package (eight targets)')
    t.true(
      listed.every((f) => /^package\/(dist\/|index\.js$|index\.d\.ts$|package\.json$|README\.md$|LICENSE)/.test(f)),
      listed.join(' '),
    )
    t.false(
      listed.some((f) => f.endsWith('.node')),
      'the root package ships no binary',
    )

    const project = join(tmp, 'app')
    mkdirSync(project)
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }))
    // The other platforms' packages are not published from here: install only what this machine needs.
    sh('npm', ['install', '--omit=optional', '--no-audit', '--no-fund', join(tmp, rootTgz), join(tmp, platformTgz)], project)
    t.deepEqual(
      readdirSync(join(project, 'node_modules'))
        .filter((d) => d.startsWith('breakwater'))
        .sort(),
      ['breakwater', 'breakwater-linux-x64-gnu'],
    )

    writeFileSync(join(project, 'main.ts'), app)
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, types: [] },
        files: ['main.ts'],
      }),
    )
    sh(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', '.'], project)
    const out = JSON.parse(sh(process.execPath, [`--import=${import.meta.resolve('tsx')}`, 'main.ts'], project))
    t.deepEqual(out, { refused: 10_000, sent: 'sent', state: 'closed', opened: 1, global: 'closed' })

    const cjs = `const { circuitBreaker } = require('breakwater'); const b = circuitBreaker('cjs', { consecutiveFailures: 1 });
      b.execute(async () => { throw new Error('x') }).catch(() => console.log(b.state))`
    writeFileSync(join(project, 'main.cjs'), cjs)
    t.is(sh(process.execPath, ['main.cjs'], project).trim(), 'open')

    // The package is ESM only: require() loads that one build, the same module import gives.
    const both = `const bw = require('breakwater'); const { FakeClock } = require('breakwater/testing')
      import('breakwater').then((esm) => console.log(JSON.stringify({ same: esm === bw, registry: esm.registry === bw.registry,
        instanceofAcross: bw.circuitBreaker('both') instanceof esm.CircuitBreaker, clock: typeof new FakeClock().advance })))`
    writeFileSync(join(project, 'both.cjs'), both)
    t.deepEqual(JSON.parse(sh(process.execPath, ['both.cjs'], project)), { same: true, registry: true, instanceofAcross: true, clock: 'function' })
    // A CommonJS TypeScript project gets the types through require too (module nodenext).
    writeFileSync(join(project, 'cjs.cts'), `import bw = require('breakwater')\nconst state: bw.StateName = bw.circuitBreaker('typed').state\nexport = state\n`)
    writeFileSync(
      join(project, 'tsconfig.cjs.json'),
      JSON.stringify({
        compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, types: [] },
        files: ['cjs.cts'],
      }),
    )
    sh(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.cjs.json'], project)
  } finally {
    rmSync(tmp, { recursive: true, force: true })
    rmSync(join(root, 'artifacts'), { recursive: true, force: true })
  }
})
