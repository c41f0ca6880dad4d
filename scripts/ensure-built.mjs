// Builds what a fresh clone lacks: the native addon (needs Rust) and dist/ (TypeScript).
import { execSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'

const root = new URL('..', import.meta.url).pathname
const run = (cmd) => execSync(cmd, { cwd: root, stdio: 'inherit' })
const newest = (dir) =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .reduce((t, e) => Math.max(t, statSync(`${e.parentPath ?? e.path}/${e.name}`).mtimeMs), 0)

const addon = readdirSync(root).find((f) => f.startsWith('breakwater.') && f.endsWith('.node'))
const rust = Math.max(newest(`${root}crates/breakwater/src`), newest(`${root}crates/breakwater-node/src`))
if (!addon || statSync(`${root}${addon}`).mtimeMs < rust) run('npm run build:native')
if (!existsSync(`${root}dist/index.js`) || statSync(`${root}dist/index.js`).mtimeMs < newest(`${root}src`)) {
  run('npm run build:ts')
}
