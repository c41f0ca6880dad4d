// What `npm publish` would upload for the root package (`npm pack --dry-run --json`): the built
// ESM files, their types, the generated native loader, README and LICENSE; never tests, benches,
// sources, Rust crates, build output or a binary (those ship in the platform packages).
import test from 'ava'
import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))

/** The paths `npm pack` would put in the tarball, from the repository as it is. */
function packed(): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
    execFile(
      npm,
      ['pack', '--dry-run', '--json', '--ignore-scripts'],
      { cwd: root, timeout: 60_000, shell: process.platform === 'win32' },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`npm pack: ${error.message}\n${stderr}`))
        const [result] = JSON.parse(stdout) as [{ files: { path: string }[] }]
        resolve(result.files.map((f) => f.path).sort())
      },
    )
  })
}

test('npm pack ships dist (ESM and types), the native loader, README and LICENSE, and nothing of tests, bench, sources or crates', async (t) => {
  if (!existsSync(`${root}dist/index.js`)) return t.fail('dist/ is missing: run npx tsup')
  const files = await packed()
  for (const needed of ['LICENSE', 'README.md', 'package.json', 'index.js', 'index.d.ts', 'dist/index.js', 'dist/index.d.ts']) {
    t.true(files.includes(needed), `${needed} is in the package`)
  }
  const outside = files.filter((f) => !/^(dist\/[^/]+\.(js|d\.ts)|index\.js|index\.d\.ts|package\.json|README\.md|LICENSE)$/.test(f))
  t.deepEqual(outside, [], 'only dist/*.js, dist/*.d.ts and the root files')
  for (const dir of ['__test__/', 'bench/', 'src/', 'crates/', 'target/', 'scripts/', 'examples/', 'npm/', 'node_modules/']) {
    t.deepEqual(
      files.filter((f) => f.startsWith(dir)),
      [],
      `nothing under ${dir}`,
    )
  }
  t.deepEqual(
    files.filter((f) => /\.(node|wasm|cjs|d\.cts|map|tgz)$/.test(f)),
    [],
    'no binary, CommonJS build, source map or tarball',
  )
})

test("every file package.json's exports name is in the package, with types next to each entry", async (t) => {
  if (!existsSync(`${root}dist/index.js`)) return t.fail('dist/ is missing: run npx tsup')
  const files = new Set(await packed())
  const manifest = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as {
    main: string
    types: string
    exports: Record<string, string | { types: string; default: string }>
  }
  const named = [manifest.main, manifest.types]
  for (const [subpath, target] of Object.entries(manifest.exports)) {
    if (typeof target === 'string') named.push(target)
    else {
      t.deepEqual(Object.keys(target), ['types', 'default'], `${subpath}: one ESM entry for import and require, types first`)
      named.push(target.types, target.default)
    }
  }
  t.deepEqual(
    named.map((p) => p.replace(/^\.\//, '')).filter((p) => !files.has(p)),
    [],
  )
  t.true(named.length >= 2 + 2 * 6, 'the root and five subpaths, each with types')
})
