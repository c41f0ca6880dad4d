// Installs and builds what a fresh clone lacks: npm packages, the native addon (needs Rust) and
// dist/ (TypeScript). `npm start` and `npm test` run it first.
import { execSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const run = (cmd) => execSync(cmd, { cwd: root, stdio: 'inherit' })
const newest = (dir) =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .reduce((t, e) => Math.max(t, statSync(join(e.parentPath ?? e.path, e.name)).mtimeMs), 0)

if (!existsSync(join(root, 'node_modules/.package-lock.json'))) run('npm ci --no-audit --no-fund')

const addon = readdirSync(root).find((f) => f.startsWith('breakwater.') && f.endsWith('.node'))
const rust = Math.max(newest(join(root, 'crates/breakwater/src')), newest(join(root, 'crates/breakwater-node/src')))
if (!addon || statSync(join(root, addon)).mtimeMs < rust) run('npm run build:native')
if (!existsSync(join(root, 'dist/index.js')) || statSync(join(root, 'dist/index.js')).mtimeMs < newest(join(root, 'src'))) {
  run('npm run build:ts')
}
